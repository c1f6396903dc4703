#!/usr/bin/env bash
# Entrypoint of the termlab server image: checks that it was started the way docker-compose.yml
# starts it (docs/deploy.md), says what is missing in plain words if not, then runs the server.
# This image has no dockerd and never starts an engine: it drives termlab's engine on the host.
set -euo pipefail

# On the kubernetes backend (deploy/helm/termlab) sessions are pods: no engine, socket, host PID
# namespace or cgroup tree is needed, and the pod runs as a non-root user whose state folder the
# kubelet makes writable (fsGroup). The server checks its cluster access itself at start.
if [ "${TERMLAB_BACKEND:-docker}" = kubernetes ]; then
  mkdir -p "${TERMLAB_STATE_DIR:?}" 2>/dev/null || { echo "termlab: cannot start: cannot create TERMLAB_STATE_DIR=$TERMLAB_STATE_DIR (mount a writable volume there)" >&2; exit 1; }
  cd /app
  exec node --import tsx server/main.ts
fi

sock="${TERMLAB_DOCKER_SOCKET:-/var/run/docker.sock}"
fail() {
  printf 'termlab: cannot start: %s\n' "$1" >&2
  shift
  [ $# -eq 0 ] || printf 'termlab: %s\n' "$@" >&2
  echo 'termlab: see docs/deploy.md ("What it needs from the host")' >&2
  exit 1
}
engine_hint="Start termlab's engine on the host first (as root in a termlab checkout: node --import tsx scripts/prepare.ts; it runs dockerd with --userns-remap=default on a btrfs data root) and mount its socket here."

[ -S "$sock" ] || fail "no Docker socket at $sock inside the container. This image never starts an engine of its own." "$engine_hint"
if ! info="$(timeout 10 docker -H "unix://$sock" info --format '{{.Driver}} {{json .SecurityOptions}}' 2>&1)"; then
  fail "no Docker engine answers at $sock ($info)." "$engine_hint"
fi
driver="${info%% *}"
if [[ "$info" != *name=userns* && "${TERMLAB_ALLOW_UNREMAPPED:-}" != 1 ]]; then
  fail "the engine at $sock runs without user-namespace remapping: root in a sandbox would be root on the host." "$engine_hint"
fi
if [ "$driver" != btrfs ] && [ "${TERMLAB_ALLOW_NO_DISK_QUOTA:-}" != 1 ]; then
  fail "the engine at $sock uses the $driver storage driver, which cannot cap a sandbox's disk." "$engine_hint"
fi

# Host namespaces and mounts the server relies on (docker-compose.yml sets them).
# (the host's tree: a cgroup mount whose root is the hierarchy's root, not this container's own)
awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { fs = $(i + 1); break } }
     $4 == "/" && $5 ~ "^/sys/fs/cgroup" && (fs == "cgroup" || fs == "cgroup2") && $6 ~ /^rw/ { ok = 1 }
     END { exit !ok }' /proc/self/mountinfo \
  || fail "/sys/fs/cgroup must be the host's cgroup tree, read-write (volume /sys/fs/cgroup:/sys/fs/cgroup): the server hands docker sandboxes their cgroups."
seen_engine=0
for f in /proc/[0-9]*/comm; do [ "$(cat "$f" 2>/dev/null)" = dockerd ] && { seen_engine=1; break; }; done
[ $seen_engine = 1 ] || fail "the engine's processes are not visible: the container needs the host's PID namespace (pid: host), as the server reads /proc/<pid> of sandboxes."

# iptables: use the backend that holds the host's Docker chains (Debian 12 and most hosts: nft).
if ! iptables-nft -w -n -L DOCKER-USER >/dev/null 2>&1 && iptables-legacy -w -n -L DOCKER-USER >/dev/null 2>&1; then
  [ -w /run/xtables.lock ] || fail "the host's Docker uses legacy iptables: also mount the host's /run/xtables.lock (-v /run/xtables.lock:/run/xtables.lock) so rule updates take the host's lock."
  mkdir -p /tmp/termlab-bin
  for b in iptables ip6tables; do ln -sf "/usr/sbin/$b-legacy" "/tmp/termlab-bin/$b"; done
  export PATH="/tmp/termlab-bin:$PATH"
fi

# State (databases, recordings): a volume that the engine made for its remapped root; the server
# runs as the host's root without CAP_DAC_OVERRIDE, so it takes the folder over (CAP_CHOWN).
state="${TERMLAB_STATE_DIR:?}"
mkdir -p "$state" || fail "cannot create TERMLAB_STATE_DIR=$state (the root filesystem is read-only: mount a volume there)."
[ "$(stat -c %u:%g "$state")" = 0:0 ] || chown 0:0 "$state"
chmod 700 "$state"
cd /app
exec node --import tsx server/main.ts
