#!/bin/bash
# Main process of a "docker" profile box (under docker-init as PID 1). Prints
# "termlab-box: ready" once the inner engine answers and the exercise images are loaded;
# the lab server waits for that line. On failure it prints "termlab-box: FAILED ..." and exits.
set -u
say() { echo "termlab-box: $*"; }
fail() { say "FAILED: $*"; [ -f /var/log/dockerd.log ] && tail -n 20 /var/log/dockerd.log; exit 1; }

# Under gVisor (TERMLAB_RUNTIME=runsc) the box sees gVisor's kernel: its own virtual cgroupfs
# (no re-mount or hand-over needed), and only iptables-legacy works (nft: "Protocol not supported").
gvisor=0
grep -qi gvisor /proc/version 2>/dev/null && gvisor=1
if [ $gvisor = 1 ]; then
  update-alternatives --quiet --set iptables /usr/sbin/iptables-legacy || fail "iptables-legacy"
  update-alternatives --quiet --set ip6tables /usr/sbin/ip6tables-legacy || fail "ip6tables-legacy"
fi

# 1. cgroup v1: runc mounted our hierarchies read-only; mount them again read-write (inside our
#    private cgroup namespace the root of each is this box's own cgroup).
if [ $gvisor = 0 ] && [ ! -f /sys/fs/cgroup/cgroup.controllers ]; then
  hierarchies=()
  while IFS=: read -r id ctrls _; do
    [ "$id" != 0 ] && [ -n "$ctrls" ] && hierarchies+=("$ctrls")
  done < /proc/self/cgroup
  for m in $(awk '$2 ~ "^/sys/fs/cgroup/" { print $2 }' /proc/self/mounts | sort -r); do
    umount "$m" || fail "umount $m"
  done
  if awk '$2 == "/sys/fs/cgroup" { f = 1 } END { exit !f }' /proc/self/mounts; then
    umount /sys/fs/cgroup || fail "umount /sys/fs/cgroup"
  fi
  mount -t tmpfs -o mode=755,nosuid,nodev,noexec cgroup /sys/fs/cgroup || fail "mount tmpfs on /sys/fs/cgroup"
  for h in "${hierarchies[@]}"; do
    dir=${h#name=}
    opts=$h; [[ $h == name=* ]] && opts="none,$h"
    mkdir -p "/sys/fs/cgroup/$dir"
    if ! mount -t cgroup -o "$opts" cgroup "/sys/fs/cgroup/$dir"; then
      [[ $h == name=* ]] && { rmdir "/sys/fs/cgroup/$dir"; continue; }   # named ones are optional
      fail "mount cgroup $h"
    fi
    if [[ $h == *,* ]]; then for s in ${h//,/ }; do ln -sfn "$h" "/sys/fs/cgroup/$s"; done; fi
  done
  # 2. The host hands this box's cgroup folders to our (remapped) root right after start.
  for i in $(seq 1 300); do
    ok=1
    for d in /sys/fs/cgroup/*/; do [ -w "$d" ] || ok=0; done
    [ $ok = 1 ] && break
    sleep 0.02
  done
  [ $ok = 1 ] || fail "cgroup folders were not handed over by the host"
fi

# 3. The inner engine, then the exercise images.
/usr/local/sbin/start-dockerd || fail "dockerd did not start"
docker load -q -i /opt/termlab/images.tar >/dev/null || fail "docker load"
say ready
exec sleep infinity
