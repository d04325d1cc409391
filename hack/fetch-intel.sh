#!/usr/bin/env bash
# Fetch the raw Intel Berkeley Lab readings (data.txt.gz, ~34 MB, 2.3 M lines) from their public home
# into data/intel-lab/, and check them. Nothing is converted: `sensorcast ... --dataset intel-raw` reads
# the file as published. Needs the internet (not reachable on every build machine).
set -euo pipefail
dest=${1:-data/intel-lab/data.txt.gz}
url=${INTEL_URL:-http://db.csail.mit.edu/labdata/data.txt.gz}
if [ -s "$dest" ]; then
  echo "already there: $dest"
else
  echo "downloading $url"
  curl -fL --retry 3 --connect-timeout 20 -o "$dest.part" "$url" || {
    echo "could not download $url (no internet here?)" >&2; rm -f "$dest.part"; exit 1; }
  mv "$dest.part" "$dest"
fi
gzip -t "$dest" || { echo "$dest is not a valid gzip file" >&2; exit 1; }
lines=$(zcat "$dest" | wc -l)
echo "$dest: $lines lines"
if [ "$lines" -lt 2000000 ]; then
  echo "expected about 2.3 million lines; the download looks truncated" >&2
  exit 1
fi
zcat "$dest" | head -1 | awk 'NF < 4 { exit 1 }' || { echo "unexpected first line" >&2; exit 1; }
echo "ok: run e.g. .venv/bin/sensorcast backtest --dataset intel-raw --measures temperature --out out/intel"
