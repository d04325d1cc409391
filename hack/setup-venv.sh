#!/usr/bin/env bash
# Create the project's virtualenv and install sensorcast (editable) with the spark, operator and dev extras.
set -euo pipefail
python=${1:-python3}
venv=${2:-.venv}
"$python" - <<'PY'
import sys
if not ((3, 11) <= sys.version_info[:2] < (3, 13)):
    sys.exit(f"sensorcast needs Python 3.11 or 3.12, found {sys.version.split()[0]} (set PYTHON=...)")
PY
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
echo "installing sensorcast and its pinned dependencies into $venv (first time: a few minutes)"
"$venv/bin/python" -m pip install --quiet -e '.[spark,operator,dev]'
"$venv/bin/sensorcast" --help > /dev/null
echo "ok: $venv/bin/sensorcast"
