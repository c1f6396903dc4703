#!/bin/bash
# Builds gVisor's runsc (an OCI runtime with its own user-space kernel) from the Go module proxy
# with the host's Go (>= the go line of gvisor's go.mod, 1.26.3 for the pinned version) into
# OUT (default .cache/runsc/<version-hash>/runsc). Skips when OUT/.complete exists.
# Cost on a cold Go cache: ~2.5 min on 2 cores, ~100 MB binary (~80 MB with -s -w).
#
# gvisor.dev/gvisor has no semver tags: Go builds come from its generated `go` branch, so the
# pin is a pseudo-version (`go list -m gvisor.dev/gvisor@go` prints the newest one).
# CGO_ENABLED=0 is REQUIRED, not an optimisation: the sandbox process pivot_roots into an empty
# tmpfs and then re-executes /proc/self/exe; a cgo (dynamically linked) runsc finds no
# /lib64/ld-linux-x86-64.so.2 there and boot fails with
# "error executing umounter: fork/exec /proc/self/exe: no such file or directory".
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNSC_VERSION=${RUNSC_VERSION:-v0.0.0-20260905035102-160fafc42237}
export PATH=/usr/local/go/bin:$PATH
command -v go >/dev/null || { echo "build-runsc: Go is needed (/usr/local/go or PATH)" >&2; exit 1; }
OUT=${1:-$ROOT/.cache/runsc/$(printf '%s\n' "$RUNSC_VERSION" | cat - "$0" | sha256sum | cut -c1-12)}
[ -f "$OUT/.complete" ] && { echo "build-runsc: cached in $OUT"; exit 0; }
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
export CGO_ENABLED=0 GOFLAGS=-trimpath GOWORK=off
say() { echo "build-runsc: [$(date +%T)] $*"; }
W=$(mktemp -d); trap 'chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT

if [ ! -x "$OUT/runsc" ]; then
  say "runsc $RUNSC_VERSION (~2.5 min cold)"
  GOBIN=$W/gobin go install -ldflags="-s -w -X gvisor.dev/gvisor/runsc/version.version=$RUNSC_VERSION" \
    "gvisor.dev/gvisor/runsc@$RUNSC_VERSION"
  mv "$W/gobin/runsc" "$OUT/runsc"
fi
go version -m "$OUT/runsc" | grep -q 'CGO_ENABLED=0' || { echo "build-runsc: $OUT/runsc is not a static (CGO_ENABLED=0) build" >&2; exit 1; }
say "$("$OUT/runsc" --version | head -1)"

# Smoke test when root (runsc needs it): one sandbox with no network, so nothing touches the
# host's iptables or links (runsc do's default network mode adds a veth and a NAT rule).
if [ "$(id -u)" = 0 ] && [ -z "${RUNSC_SKIP_SMOKE:-}" ]; then
  say "smoke test: runsc --network=none do /bin/true"
  # Its own stdio: runsc leaves the caller's pipes unusable (a script run by node died of SIGPIPE
  # on its next line when runsc shared them).
  "$OUT/runsc" --root="$W/state" --network=none do /bin/true </dev/null >"$W/smoke.log" 2>&1 \
    || { cat "$W/smoke.log" >&2; echo "build-runsc: runsc could not start a sandbox on this machine" >&2; exit 1; }
fi
touch "$OUT/.complete"
say "done: $(du -sh "$OUT/runsc" | cut -f1) at $OUT/runsc"
