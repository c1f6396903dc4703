#!/bin/sh
# Writes OUT/k8s-images.tar (`docker save` format, imported by start.sh into containerd's k8s.io
# namespace; no registry needed). Layers are deterministic; web shares busybox's layer.
#   termlab/pause:1      the pod sandbox image (static Go: sleeps, reaps, exits on TERM/INT)
#   termlab/busybox:1.0  Debian's busybox-static, CMD sh
#   termlab/web:1.0      busybox httpd on :80 serving /www: GET / -> "Hello from termlab web v1",
#   termlab/web:2.0        (v2 for 2.0), GET /cgi-bin/hostname -> the pod's hostname
# Usage: mkimages.sh OUT PAUSE_BINARY [BUSYBOX]
set -eu
OUT=$1; PAUSE=$2; BUSYBOX=${3:-/bin/busybox}
W=$(mktemp -d); epoch='1970-01-01T00:00:00Z'; arch=$(dpkg --print-architecture)
S=$W/s; mkdir -p "$S"
mklayer() { tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$1" -cf "$2" .; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
# layer DIR -> prints its digest, stores it in $S
layer() { mklayer "$1" "$W/l.tar"; d=$(sha "$W/l.tar"); mkdir -p "$S/$d"; mv "$W/l.tar" "$S/$d/layer.tar"; echo "$d"; }
# config NAME CONFIGJSON LAYER... -> prints the manifest entry
image() {
  tag=$1; cfg=$2; shift 2; ids=; lays=
  for l in "$@"; do ids="$ids${ids:+,}\"sha256:$l\""; lays="$lays${lays:+,}\"$l/layer.tar\""; done
  printf '{"architecture":"%s","os":"linux","created":"%s","config":%s,"rootfs":{"type":"layers","diff_ids":[%s]}}' \
    "$arch" "$epoch" "$cfg" "$ids" > "$W/c.json"
  c=$(sha "$W/c.json"); mv "$W/c.json" "$S/$c.json"
  printf '{"Config":"%s.json","RepoTags":["%s"],"Layers":[%s]}' "$c" "$tag" "$lays"
}
P=$W/p; mkdir -p "$P"; cp "$PAUSE" "$P/pause"; chmod 755 "$P/pause"
B=$W/b; mkdir -p "$B/bin" "$B/etc" "$B/tmp" "$B/root"
cp "$BUSYBOX" "$B/bin/busybox"; for a in $("$B/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$B/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' > "$B/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' > "$B/etc/group"; chmod 1777 "$B/tmp"
lp=$(layer "$P"); lb=$(layer "$B")
for v in 1 2; do
  V=$W/w$v; mkdir -p "$V/www/cgi-bin"
  echo "Hello from termlab web v$v" > "$V/www/index.html"
  printf '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\nhostname\n' > "$V/www/cgi-bin/hostname"; chmod 755 "$V/www/cgi-bin/hostname"
  eval "lw$v=\$(layer \"\$V\")"
done
web='{"Env":["PATH=/bin"],"Cmd":["httpd","-f","-v","-p","80","-h","/www"],"ExposedPorts":{"80/tcp":{}},"Labels":{"org.opencontainers.image.version":"VER"}}'
{
  echo "["
  image termlab/pause:1 '{"Entrypoint":["/pause"]}' "$lp"; echo ","
  image termlab/busybox:1.0 '{"Env":["PATH=/bin"],"Cmd":["sh"]}' "$lb"; echo ","
  image termlab/web:1.0 "$(echo "$web" | sed s/VER/1.0/)" "$lb" "$lw1"; echo ","
  image termlab/web:2.0 "$(echo "$web" | sed s/VER/2.0/)" "$lb" "$lw2"
  echo "]"
} > "$S/manifest.json"
mkdir -p "$OUT"; tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$S" -cf "$OUT/k8s-images.tar" .
rm -rf "$W"
