#!/bin/bash
# Builds the kubernetes profile's binaries with the host's Go (>= the k8s go.mod's go line) into
# OUT (default .cache/kube-bins/<versions-hash>): termlab-kube (a multi-call binary: kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl), helm, coredns and pause.
# Versions come from images/kubernetes/versions.env. Skips when OUT/.complete exists.
# Cost on a cold Go cache: ~8 min on 2 cores for k8s, 3.2 GB peak RSS, ~400 MB of module downloads.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck disable=SC1091
. "$ROOT/images/kubernetes/versions.env"
export PATH=/usr/local/go/bin:$PATH
command -v go >/dev/null || { echo "build-kube-bins: Go is needed (/usr/local/go or PATH)" >&2; exit 1; }
OUT=${1:-$ROOT/.cache/kube-bins/$(cat "$ROOT/images/kubernetes/versions.env" "$0" "$ROOT"/scripts/kube/*/main.go | sha256sum | cut -c1-12)}
[ -f "$OUT/.complete" ] && { echo "build-kube-bins: cached in $OUT"; exit 0; }
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
export CGO_ENABLED=0 GOFLAGS=-trimpath GOWORK=off
say() { echo "build-kube-bins: [$(date +%T)] $*"; }
W=$(mktemp -d); trap 'chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT

say "pause"
cp -r "$ROOT/scripts/kube/pause" "$W/pause"; printf 'module termlab/pause\ngo 1.22\n' > "$W/pause/go.mod"
(cd "$W/pause" && go build -ldflags="-s -w" -o "$OUT/pause" .)

if [ ! -x "$OUT/helm" ]; then
  say "helm $HELM_VERSION (~2-3 min cold)"
  GOBIN=$W/gobin go install -ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv "$W/gobin/helm" "$OUT/helm"
fi
if [ ! -x "$OUT/coredns" ]; then
  say "coredns $COREDNS_VERSION (~2 min cold)"
  GOBIN=$W/gobin go install -ldflags="-s -w" "github.com/coredns/coredns@$COREDNS_VERSION"
  mv "$W/gobin/coredns" "$OUT/coredns"
fi
if [ ! -x "$OUT/termlab-kube" ]; then
  say "kubernetes $K8S_VERSION multi-call binary (~7 min cold, 3+ GB RAM)"
  D=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  [ -d "$D" ] || { echo "build-kube-bins: could not download k8s.io/kubernetes@$K8S_VERSION" >&2; exit 1; }
  cp -r "$D" "$W/k8s"; chmod -R u+w "$W/k8s"; cd "$W/k8s"
  # The module zip's go.work/vendor/staging replaces do not work outside the git tree: use the
  # published staging modules (v0.X.Y for v1.X.Y) instead.
  rm -rf go.work go.work.sum vendor
  args=(); staging=v0.${K8S_VERSION#v1.}
  for m in $(sed -n 's#^\t\(k8s.io/[^ ]*\) => ./staging/.*#\1#p' go.mod); do args+=(-dropreplace="$m" -require="$m@$staging"); done
  go mod edit "${args[@]}"
  mkdir -p cmd/termlab-kube; cp "$ROOT/scripts/kube/termlab-kube/main.go" cmd/termlab-kube/
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  GOFLAGS="-trimpath -mod=mod" go build -ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
    -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
    -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION" \
    -o "$OUT/termlab-kube" ./cmd/termlab-kube
  cd "$ROOT"
fi
touch "$OUT/.complete"
say "done: $(du -sh "$OUT" | cut -f1) in $OUT"
