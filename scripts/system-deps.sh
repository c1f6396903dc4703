#!/usr/bin/env bash
# Installs the Debian packages the lab server needs on a fresh Debian machine (root only).
# Usage: scripts/system-deps.sh [server|test]
#   server: docker.io (engine), debootstrap (offline base image), iptables, btrfs-progs (the
#           engine's own filesystem, which caps each box's disk)
#   test:   the server's packages plus chromium (Playwright drives it), asciinema (reads recordings)
#           docker-compose (test/deploy/ runs docker-compose.yml), postgresql (the stores' contract
#           tests run a PostgreSQL server of their own, test/helpers/postgres.ts) and nginx-light
#           (replicas behind a load balancer: scripts/bench-replicas.ts)
# Each package is installed only when missing; the script says what it installs.
set -euo pipefail
want=(docker.io debootstrap iptables uidmap btrfs-progs)
[ "${1:-server}" = test ] && want+=(chromium asciinema docker-compose postgresql nginx-light)

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "termlab: missing packages: ${missing[*]}" >&2
  echo "termlab: install them with your package manager (as root on Debian: apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "termlab: installing Debian packages: ${missing[*]} (first run only)"
# Keep apt's maintainer scripts from starting services: the lab server starts its own engine.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created_policy=1; fi
trap '[ $created_policy = 1 ] && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "termlab: installed ${missing[*]}"
