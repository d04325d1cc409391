#!/usr/bin/env bash
# Build the chart tools from the Go module proxy: helm (helm.sh/helm/v4 cmd/helm) and kubeconform
# (github.com/yannh/kubeconform cmd/kubeconform), cached outside the clone in ~/.cache/sensorcast/<tool>-<version>/
# with the module and build caches of hack/build-apiserver-tools.sh (~/.cache/sensorcast/go). Idempotent.
#   bash hack/build-helm-tools.sh          # build what is missing, print the binaries' versions
#   HELM_VERSION=4.3.2 KUBECONFORM_VERSION=0.8.0 bash hack/build-helm-tools.sh
set -euo pipefail
HELM_VERSION=${HELM_VERSION:-4.3.2}
KUBECONFORM_VERSION=${KUBECONFORM_VERSION:-0.8.0}
cache=${SENSORCAST_CACHE:-$HOME/.cache/sensorcast}
jobs=${GO_BUILD_JOBS:-2}

log() { printf '[%s] build-helm-tools: %s\n' "$(date +%H:%M:%S)" "$*"; }

if ! command -v go > /dev/null; then
  if [ -x /usr/local/go/bin/go ]; then PATH=/usr/local/go/bin:$PATH; else
    echo "building helm and kubeconform needs Go 1.26 or newer on PATH (e.g. /usr/local/go/bin)" >&2
    exit 1
  fi
fi
export GOMODCACHE=$cache/go/mod GOCACHE=$cache/go/build GOFLAGS="-buildvcs=false" GOTOOLCHAIN=local
export CGO_ENABLED=0
mkdir -p "$GOMODCACHE" "$GOCACHE"

helm=$cache/helm-$HELM_VERSION/helm
kubeconform=$cache/kubeconform-$KUBECONFORM_VERSION/kubeconform

# `go install pkg@version` builds with exactly the versions of the tool's own go.mod (no outer module).
build() {  # build <binary path> <package@version> <ldflags>
  local out=$1 pkg=$2 ldflags=$3 t0=$SECONDS
  mkdir -p "$(dirname "$out")"
  log "go install -p $jobs $pkg (cold: a few minutes on 2 cores)"
  local tmp
  tmp=$(mktemp -d "$(dirname "$out")/.gobin-XXXXXX")
  GOBIN=$tmp nice -n 10 go install -p "$jobs" -trimpath -ldflags "$ldflags" "$pkg"
  mv "$tmp/$(basename "$out")" "$out"
  rmdir "$tmp"
  log "built $out in $((SECONDS - t0)) s"
}

if [ -x "$helm" ] && "$helm" version --short 2> /dev/null | grep -q "v$HELM_VERSION"; then
  log "cached: $helm"
else
  # helm reads its version from internal/version (set by its Makefile's ldflags the same way)
  build "$helm" "helm.sh/helm/v4/cmd/helm@v$HELM_VERSION" \
    "-s -w -X helm.sh/helm/v4/internal/version.version=v$HELM_VERSION -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
fi
if [ -x "$kubeconform" ] && "$kubeconform" -v 2> /dev/null | grep -q "$KUBECONFORM_VERSION"; then
  log "cached: $kubeconform"
else
  build "$kubeconform" "github.com/yannh/kubeconform/cmd/kubeconform@v$KUBECONFORM_VERSION" \
    "-s -w -X main.version=v$KUBECONFORM_VERSION"
fi
"$helm" version --short
echo "kubeconform $("$kubeconform" -v)"
log "ok: $helm $kubeconform"
