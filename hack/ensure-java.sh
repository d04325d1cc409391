#!/usr/bin/env bash
# Spark 4 needs a Java 17+ runtime. Use the one on PATH; else install Debian's (as root), else explain.
set -euo pipefail
version() { java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print v[1]; exit}'; }
if command -v java > /dev/null && [ "$(version)" -ge 17 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
  echo "installing a Java 17 runtime (Debian openjdk-17-jre-headless) for Spark"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless > /dev/null
  exit 0
fi
echo "sensorcast needs Java 17 or newer for Spark: install it (e.g. apt-get install openjdk-17-jre-headless)" >&2
exit 1
