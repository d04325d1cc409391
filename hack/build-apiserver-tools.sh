#!/usr/bin/env bash
# Build the test control plane from the Go module proxy: kube-apiserver, kubectl and kube-controller-manager (run
# with only its garbage collector) from k8s.io/kubernetes, etcd from go.etcd.io/etcd; cached outside the clone
# (~/.cache/sensorcast/<tool>-<version>/) so warm runs reuse them. No kubelet.
#   bash hack/build-apiserver-tools.sh          # build what is missing, print the bin dirs
#   K8S_VERSION=1.37.2 ETCD_VERSION=3.6.16 GO_BUILD_JOBS=2 bash hack/build-apiserver-tools.sh
set -euo pipefail
K8S_VERSION=${K8S_VERSION:-1.37.2}
ETCD_VERSION=${ETCD_VERSION:-3.6.16}
cache=${SENSORCAST_CACHE:-$HOME/.cache/sensorcast}
jobs=${GO_BUILD_JOBS:-2}

log() { printf '[%s] build-apiserver-tools: %s\n' "$(date +%H:%M:%S)" "$*"; }

if ! command -v go > /dev/null; then
  echo "building kube-apiserver and etcd needs Go 1.26 or newer on PATH (e.g. /usr/local/go/bin)" >&2
  exit 1
fi
export GOMODCACHE=$cache/go/mod GOCACHE=$cache/go/build GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local
export CGO_ENABLED=0
mkdir -p "$GOMODCACHE" "$GOCACHE"

apiserver=$cache/kube-apiserver-$K8S_VERSION/kube-apiserver
kubectl=$cache/kubectl-$K8S_VERSION/kubectl
kcm=$cache/kube-controller-manager-$K8S_VERSION/kube-controller-manager
etcd=$cache/etcd-$ETCD_VERSION/etcd

# A binary counts as cached once it runs and reports the version asked for.
cached() { [ -x "$1" ] && "$1" "${@:2}" 2>&1 | grep -q "$K8S_VERSION\|$ETCD_VERSION"; }

build_k8s() {
  local work=$cache/build/k8s-$K8S_VERSION
  mkdir -p "$work"
  cd "$work"
  if [ ! -s go.mod ]; then
    log "writing $work/go.mod: k8s.io/kubernetes v$K8S_VERSION, staging modules replaced by their v0.${K8S_VERSION#1.} releases"
    go mod init sensorcast.dev/k8s-test-tools > /dev/null 2>&1
    go mod edit -require="k8s.io/kubernetes@v$K8S_VERSION"
    local upstream
    upstream=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    local args=()
    while read -r mod; do
      args+=("-replace=$mod=$mod@v0.${K8S_VERSION#1.}")
    done < <(awk '$2 == "=>" && $3 ~ /^\.\/staging\// { print $1 }' "$upstream")
    log "replacing ${#args[@]} staging modules"
    go mod edit "${args[@]}"
  fi
  log "resolving the module graph of cmd/kube-apiserver, cmd/kubectl, cmd/kube-controller-manager"
  go get "k8s.io/kubernetes/cmd/kube-apiserver@v$K8S_VERSION" "k8s.io/kubernetes/cmd/kubectl@v$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kube-controller-manager@v$K8S_VERSION"
  local minor=${K8S_VERSION#1.}; minor=${minor%%.*}
  local ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  for tool in kube-apiserver kubectl kube-controller-manager; do
    local out=$cache/$tool-$K8S_VERSION/$tool
    if cached "$out" --version; then log "cached: $out"; continue; fi
    mkdir -p "$(dirname "$out")"
    log "go build -p $jobs k8s.io/kubernetes/cmd/$tool (cold: tens of minutes on 2 cores)"
    local t0=$SECONDS
    nice -n 10 go build -p "$jobs" -trimpath -ldflags "$ldflags" -o "$out.part" "k8s.io/kubernetes/cmd/$tool"
    mv "$out.part" "$out"
    log "built $out in $((SECONDS - t0)) s"
  done
}

build_etcd() {
  local work=$cache/build/etcd-$ETCD_VERSION
  mkdir -p "$work"
  cd "$work"
  if [ ! -s go.mod ]; then
    log "writing $work/go.mod: go.etcd.io/etcd/server/v3 v$ETCD_VERSION"
    go mod init sensorcast.dev/etcd-test-tools > /dev/null 2>&1
    go mod edit -require="go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
  fi
  log "resolving the module graph of go.etcd.io/etcd/server/v3"
  go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
  mkdir -p "$(dirname "$etcd")"
  log "go build -p $jobs go.etcd.io/etcd/server/v3 (the etcd binary)"
  local t0=$SECONDS
  nice -n 10 go build -p "$jobs" -trimpath -ldflags "-s -w" -o "$etcd.part" go.etcd.io/etcd/server/v3
  mv "$etcd.part" "$etcd"
  log "built $etcd in $((SECONDS - t0)) s"
}

if cached "$etcd" --version; then log "cached: $etcd"; else (build_etcd); fi
if cached "$apiserver" --version && cached "$kubectl" version --client && cached "$kcm" --version; then
  log "cached: $apiserver, $kubectl, $kcm"
else
  (build_k8s)
fi
"$etcd" --version | sed -n 1p  # not head: etcd gets SIGPIPE, exit 141 under pipefail
"$apiserver" --version
"$kubectl" version --client 2>/dev/null | sed -n 1p
"$kcm" --version
log "ok: $(dirname "$apiserver") $(dirname "$kubectl") $(dirname "$kcm") $(dirname "$etcd")"
