#!/usr/bin/env bash
# Entrypoint of the sensorcast OpenTSDB image.
#   hbase          HBase standalone (master + region server + ZooKeeper in one JVM), config in $HBASE_CONF_DIR
#   create-tables  create tsdb, tsdb-uid, tsdb-tree, tsdb-meta when missing (retries until HBase answers)
#   tsd            the TSD, config $TSD_CONF
#   all            the three in one container (for `docker run`; the chart runs them as separate containers);
#                  a stop signal reaches only the TSD, so HBase is not flushed: keep data you need in the chart
# Logs go to stdout/stderr; writable state only under /data and /tmp (the root filesystem may be read-only).
set -euo pipefail
# where the image puts things (overridable, e.g. to try the script against hack/fetch-tsdb.sh's cache)
conf=${SENSORCAST_CONF:-/opt/sensorcast/conf}
hbase_home=${HBASE_HOME:-/opt/hbase}
opentsdb_home=${OPENTSDB_HOME:-/opt/opentsdb}
HBASE_CONF_DIR=${HBASE_CONF_DIR:-$conf}
TSD_CONF=${TSD_CONF:-$conf/opentsdb.conf}
ZK_HOST=${ZK_HOST:-127.0.0.1}
ZK_PORT=${ZK_PORT:-2181}
# Java 17 module flags of HBase 2.5 (as its bin/hbase sets them) and of asynchbase/netty 3 in the TSD
OPENS=(--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED
  --add-opens=java.base/jdk.internal.ref=ALL-UNNAMED --add-exports=java.base/jdk.internal.misc=ALL-UNNAMED
  --add-exports=java.base/sun.net.dns=ALL-UNNAMED --add-exports=java.base/sun.net.util=ALL-UNNAMED
  --add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED)

hbase() {
  mkdir -p /tmp/hbase
  exec java "-Xmx${HBASE_HEAP:-768m}" -XX:+UseG1GC "${OPENS[@]}" -Djava.net.preferIPv4Stack=true \
    -Dorg.apache.hbase.thirdparty.io.netty.tryReflectionSetAccessible=true \
    -Dlog4j.configurationFile="$conf/log4j2.properties" \
    -cp "$HBASE_CONF_DIR:$hbase_home/lib/*" org.apache.hadoop.hbase.master.HMaster start
}

create_tables() {
  local i
  for i in $(seq 150); do
    if java -Xmx256m "${OPENS[@]}" -Dlog4j.configurationFile="$conf/log4j2-quiet.properties" \
        -cp "$hbase_home/tools:$hbase_home/lib/*" CreateTsdbTables "$ZK_HOST" "$ZK_PORT"; then
      echo "opentsdb: tables ready"
      return 0
    fi
    echo "opentsdb: HBase not ready yet (attempt $i)" >&2
    sleep 2
  done
  echo "opentsdb: could not create the tables in 5 minutes" >&2
  return 1
}

tsd() {
  mkdir -p /tmp/tsd-static /tmp/tsd-cache
  exec java "-Xmx${TSD_HEAP:-512m}" "${OPENS[@]}" -Djava.net.preferIPv4Stack=true \
    -Dlogback.configurationFile="$conf/logback.xml" \
    -cp "$opentsdb_home/lib/*" net.opentsdb.tools.TSDMain --config="$TSD_CONF"
}

case ${1:-all} in
  hbase) hbase ;;
  create-tables) create_tables ;;
  tsd) tsd ;;
  all)
    hbase &
    create_tables
    tsd
    ;;
  *)
    echo "usage: opentsdb-entrypoint hbase|create-tables|tsd|all" >&2
    exit 2
    ;;
esac
