#!/bin/bash
# Starts this box's Docker engine in the background (log: /var/log/dockerd.log) and waits
# until it answers. Safe to run again, e.g. after `kill`ing dockerd by accident.
if docker info >/dev/null 2>&1; then echo "dockerd is already running"; exit 0; fi
rm -f /var/run/docker.pid
flags=()
if grep -qi gvisor /proc/version 2>/dev/null; then
  # gVisor's netstack refuses the rules dockerd would add (iptables: Invalid argument); inner
  # containers still reach the box's network through one masquerade rule (best effort).
  flags=(--iptables=false --ip6tables=false)
  iptables -t nat -C POSTROUTING -o eth0 -j MASQUERADE 2>/dev/null \
    || iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE 2>/dev/null || true
fi
setsid dockerd "${flags[@]}" >>/var/log/dockerd.log 2>&1 < /dev/null &
for i in $(seq 1 600); do
  docker info >/dev/null 2>&1 && exit 0
  kill -0 $! 2>/dev/null || { echo "dockerd exited; see /var/log/dockerd.log" >&2; exit 1; }
  sleep 0.05
done
echo "dockerd did not answer within 30 s; see /var/log/dockerd.log" >&2
exit 1
