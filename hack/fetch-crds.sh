#!/usr/bin/env bash
# `make crds`: make the pinned upstream CRDs (Strimzi, SparkApplication) available to the API-server tests.
# Uses ../shared/crds when it holds them (checked against hack/crds.lock), else downloads each file of the
# lock into ~/.cache/sensorcast/crds-<hash of the lock>/ and checks its sha256. Needs the internet for that.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
if dir=$("$python" "$here/kube_testenv.py" crd-dir 2> /dev/null); then
  echo "upstream CRDs: $dir"
  exit 0
fi
dest=$("$python" -c "import sys; sys.path.insert(0, '$here'); import kube_testenv; print(kube_testenv.fetched_crd_dir())")
grep -v '^#' "$here/crds.lock" | while read -r rel sha url; do
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
