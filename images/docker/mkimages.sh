#!/bin/sh
# Writes OUT/images.tar in `docker save` format holding two tiny exercise images, so the
# engine inside a box can `docker load` them without any registry:
#   busybox:latest  Debian's busybox-static (/bin/busybox plus a symlink per applet); CMD sh
#   web:latest      busybox + a page on port 80 (busybox httpd, /www);
#                   GET / answers "Hello from termlab web", GET /cgi-bin/hostname the container's hostname
# web shares busybox's layer, so both load as 2 layers (about 2.5 MB).
# With a second argument REGISTRY (the docker-registry binary from Debian's package), it also
# writes OUT/registry.tar: registry:2, busybox + that binary and the libraries it links, laid
# out like the official image (/bin/registry serve /etc/docker/registry/config.yml, port 5000,
# VOLUME /var/lib/registry). About 23 MB: boxes do not load it at start; the images lab has the
# learner `docker load -i /opt/termlab/registry.tar` it.
set -eu
OUT=$1
REGISTRY=${2:-}
W=$(mktemp -d)
arch=$(dpkg --print-architecture)
epoch='1970-01-01T00:00:00Z'

# Deterministic layer tarball of directory $1 into $2.
mklayer() { tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$1" -cf "$2" .; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# Layer 1: busybox
B=$W/busybox
mkdir -p "$B/bin" "$B/etc" "$B/root" "$B/tmp" "$B/home" "$B/var/www" "$B/usr/bin" "$B/usr/sbin" "$B/sbin"
cp /bin/busybox "$B/bin/busybox"
for a in $("$B/bin/busybox" --list); do
  [ "$a" = busybox ] || ln -s busybox "$B/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' > "$B/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' > "$B/etc/group"
chmod 1777 "$B/tmp"
chmod 700 "$B/root"

# Layer 2: web content
Wb=$W/web
mkdir -p "$Wb/www/cgi-bin"
cat > "$Wb/www/index.html" <<'HTML'
<!doctype html>
<html><head><title>termlab web</title></head>
<body><h1>Hello from termlab web</h1><p>Served by busybox httpd inside a container.</p></body></html>
HTML
printf '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\nhostname\n' > "$Wb/www/cgi-bin/hostname"
chmod 755 "$Wb/www/cgi-bin/hostname"

S=$W/save
mkdir -p "$S"
mklayer "$B" "$W/l1.tar"; l1=$(sha "$W/l1.tar")
mklayer "$Wb" "$W/l2.tar"; l2=$(sha "$W/l2.tar")
mkdir -p "$S/$l1" "$S/$l2"
mv "$W/l1.tar" "$S/$l1/layer.tar"
mv "$W/l2.tar" "$S/$l2/layer.tar"

path='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
cat > "$W/c1.json" <<JSON
{"architecture":"$arch","os":"linux","created":"$epoch",
 "config":{"Env":["$path"],"Cmd":["sh"]},
 "rootfs":{"type":"layers","diff_ids":["sha256:$l1"]},
 "history":[{"created":"$epoch","created_by":"termlab: busybox-static from Debian"}]}
JSON
cat > "$W/c2.json" <<JSON
{"architecture":"$arch","os":"linux","created":"$epoch",
 "config":{"Env":["$path"],"Cmd":["httpd","-f","-v","-p","80","-h","/www"],"ExposedPorts":{"80/tcp":{}}},
 "rootfs":{"type":"layers","diff_ids":["sha256:$l1","sha256:$l2"]},
 "history":[{"created":"$epoch","created_by":"termlab: busybox-static from Debian"},
            {"created":"$epoch","created_by":"termlab: /www page for busybox httpd"}]}
JSON
c1=$(sha "$W/c1.json"); c2=$(sha "$W/c2.json")
mv "$W/c1.json" "$S/$c1.json"; mv "$W/c2.json" "$S/$c2.json"
cat > "$S/manifest.json" <<JSON
[{"Config":"$c1.json","RepoTags":["busybox:latest"],"Layers":["$l1/layer.tar"]},
 {"Config":"$c2.json","RepoTags":["web:latest"],"Layers":["$l1/layer.tar","$l2/layer.tar"]}]
JSON
mkdir -p "$OUT"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$S" -cf "$OUT/images.tar" .
ls -l "$OUT/images.tar"

if [ -n "$REGISTRY" ]; then
  # Layer 3: the registry binary, the shared libraries it needs (dereferenced, at the paths the
  # binary asks for) and the official image's config.
  R=$W/registry
  mkdir -p "$R/bin" "$R/etc/docker/registry" "$R/var/lib/registry"
  cp "$REGISTRY" "$R/bin/registry"
  for lib in $(ldd "$REGISTRY" | awk '$2 == "=>" && $3 ~ "^/" { print $3 } $1 ~ "^/" { print $1 }'); do
    mkdir -p "$R$(dirname "$lib")"
    cp -L "$lib" "$R$lib"
  done
  cat > "$R/etc/docker/registry/config.yml" <<'YAML'
version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
YAML
  RS=$W/save-registry
  mkdir -p "$RS/$l1"
  cp "$S/$l1/layer.tar" "$RS/$l1/layer.tar"
  mklayer "$R" "$W/l3.tar"; l3=$(sha "$W/l3.tar")
  mkdir -p "$RS/$l3"
  mv "$W/l3.tar" "$RS/$l3/layer.tar"
  cat > "$W/c3.json" <<JSON
{"architecture":"$arch","os":"linux","created":"$epoch",
 "config":{"Env":["$path"],"Entrypoint":["/bin/registry","serve"],"Cmd":["/etc/docker/registry/config.yml"],
           "ExposedPorts":{"5000/tcp":{}},"Volumes":{"/var/lib/registry":{}}},
 "rootfs":{"type":"layers","diff_ids":["sha256:$l1","sha256:$l3"]},
 "history":[{"created":"$epoch","created_by":"termlab: busybox-static from Debian"},
            {"created":"$epoch","created_by":"termlab: registry from Debian's docker-registry package"}]}
JSON
  c3=$(sha "$W/c3.json")
  mv "$W/c3.json" "$RS/$c3.json"
  cat > "$RS/manifest.json" <<JSON
[{"Config":"$c3.json","RepoTags":["registry:2"],"Layers":["$l1/layer.tar","$l3/layer.tar"]}]
JSON
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$RS" -cf "$OUT/registry.tar" .
  ls -l "$OUT/registry.tar"
fi
rm -rf "$W"
