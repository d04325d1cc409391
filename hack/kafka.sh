#!/usr/bin/env bash
# Local Apache Kafka (KRaft, single node, loopback) for people and tests: fetch | up | down | status | bootstrap.
# The work is in hack/kafka_local.py (standard library only); this installs Java/Maven when missing (as root,
# Debian's packages) and picks the project's Python when it exists.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/ensure-java.sh"
if [ "${1:-}" = fetch ] || [ "${1:-}" = up ]; then
  if ! command -v mvn > /dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
      echo "kafka.sh: installing Debian's maven (to resolve the Kafka jars from Maven Central)"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven > /dev/null
    else
      echo "kafka.sh: needs Maven to fetch the Kafka jars: apt-get install maven" >&2; exit 1
    fi
  fi
fi
python=$here/../.venv/bin/python
[ -x "$python" ] || python=${PYTHON:-python3}
exec "$python" "$here/kafka_local.py" "$@"
