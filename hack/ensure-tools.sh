#!/usr/bin/env bash
# Tools the test suite needs beyond the virtualenv: Java (Spark), Kafka/OpenTSDB jars, the control plane, the chart
# tools and Debian's chromium (report test).
set -euo pipefail
here=$(dirname "$0")
bash "$here/ensure-java.sh"
bash "$here/kafka.sh" fetch  # Kafka broker and Spark Kafka connector jars (Maven Central), for the kafka tests
bash "$here/fetch-tsdb.sh"  # OpenTSDB + HBase jars and the table tool, for the tsdb tests
bash "$here/build-apiserver-tools.sh"  # kube-apiserver, etcd, kubectl, kube-controller-manager (operator tests)
bash "$here/fetch-crds.sh"  # the pinned upstream CRDs the operator tests install
bash "$here/build-helm-tools.sh"  # helm and kubeconform (chart tests)
bash "$here/ensure-checkov.sh"  # checkov in its own virtualenv (chart and Dockerfile security scan)
if ! command -v chromium > /dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    echo "installing Debian's chromium (headless browser for the report test)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
  else
    echo "the report test needs Debian's chromium: apt-get install chromium" >&2
    exit 1
  fi
fi
