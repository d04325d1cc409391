#!/usr/bin/env bash
# `make crds`: make the pinned upstream CRDs (Strimzi, SparkApplication) available to the API-server tests.
# Uses ../shared/crds when it holds them (each file checked against hack/crds.lock), else downloads every file
# of the lock into ~/.cache/sensorcast/crds-<hash of the lock>/ and checks its sha256 (needs the internet).
# hack/kube_testenv.py looks in the same places.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lock=$here/crds.lock
cache=${SENSORCAST_CACHE:-$HOME/.cache/sensorcast}
matches() {  # every file of the lock under $1 with its sha256
  grep -v '^#' "$lock" | while read -r rel sha _; do
    [ -n "$rel" ] || continue
    echo "$sha  $1/$rel" | sha256sum -c --status 2> /dev/null || { echo no; return; }
  done | grep -q no && return 1 || return 0
}
for dir in ${SENSORCAST_UPSTREAM_CRDS:-} "$here/../../shared/crds"; do
  if [ -d "$dir" ] && matches "$dir"; then
    echo "upstream CRDs: $(cd "$dir" && pwd) (match hack/crds.lock)"
    exit 0
  fi
done
dest=$cache/crds-$(sha256sum "$lock" | cut -c1-12)
grep -v '^#' "$lock" | while read -r rel sha url; do
  [ -n "$rel" ] || continue
  out=$dest/$rel
  if [ -f "$out" ] && echo "$sha  $out" | sha256sum -c --status; then continue; fi
  mkdir -p "$(dirname "$out")"
  echo "downloading $url"
  curl -fsSL --retry 3 --connect-timeout 20 -o "$out.part" "$url" || {
    echo "could not download $url (no internet here?); or put the files in ../shared/crds" >&2; exit 1; }
  echo "$sha  $out.part" | sha256sum -c --status || {
    echo "$url: sha256 differs from hack/crds.lock" >&2; rm -f "$out.part"; exit 1; }
  mv "$out.part" "$out"
done
echo "upstream CRDs: $dest"
