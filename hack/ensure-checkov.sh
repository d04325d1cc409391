#!/usr/bin/env bash
# checkov (PyPI), the security scanner of the chart tests, in its own virtualenv outside the clone:
# ~/.cache/sensorcast/checkov-<version>/bin/checkov. Kept out of the project's .venv on purpose: it pins ~60
# packages of its own (boto3, networkx 2.6, packaging 23.2, ...) that the project's runtime does not need.
#   bash hack/ensure-checkov.sh        # idempotent; prints the version
set -euo pipefail
CHECKOV_VERSION=${CHECKOV_VERSION:-3.3.30}
cache=${SENSORCAST_CACHE:-$HOME/.cache/sensorcast}
venv=$cache/checkov-$CHECKOV_VERSION
python=${PYTHON:-python3}
if [ -f "$venv/.complete" ] && "$venv/bin/checkov" --version 2> /dev/null | grep -qx "$CHECKOV_VERSION"; then
  echo "checkov $CHECKOV_VERSION cached: $venv/bin/checkov"
  exit 0
fi
# a marker written last: an interrupted install is redone, never half-used
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "checkov==$CHECKOV_VERSION"
touch "$venv/.complete"
echo "checkov $("$venv/bin/checkov" --version) installed: $venv/bin/checkov"
