#!/usr/bin/env bash
# A local OpenTSDB for tests and `make tsdb-up`: standalone HBase (local filesystem, embedded ZooKeeper)
# plus one TSD, on free loopback ports, logs and pid files in DIR.
#   hack/tsdb.sh up [DIR]         fetch if needed, start HBase, create the tables, start the TSD; prints the URL
#   hack/tsdb.sh down [DIR]       stop the TSD and HBase
#   hack/tsdb.sh stop-tsd [DIR]   stop only the TSD (an outage; HBase and its data stay)
#   hack/tsdb.sh start-tsd [DIR]  start the TSD again on the same port
#   hack/tsdb.sh url [DIR]        print the TSD's URL
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tsdb/versions.sh
. "$here/tsdb/versions.sh"
cmd=${1:-up}
dir=$(mkdir -p "${2:-$here/../out/tsdb}" && cd "${2:-$here/../out/tsdb}" && pwd)
JAVA=${TSDB_JAVA:-java}
# Java 17 module quirks of HBase 2.5 (as its bin/hbase sets them) and of asynchbase/netty 3 in the TSD.
OPENS="--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED
  --add-opens=java.base/jdk.internal.ref=ALL-UNNAMED --add-exports=java.base/jdk.internal.misc=ALL-UNNAMED
  --add-exports=java.base/sun.net.dns=ALL-UNNAMED --add-exports=java.base/sun.net.util=ALL-UNNAMED
  --add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2> /dev/null; }
stop() {  # stop PIDFILE NAME: TERM, wait up to 30 s, then KILL
  local pidf=$1 name=$2 pid i
  alive "$pidf" || { rm -f "$pidf"; return 0; }
  pid=$(cat "$pidf")
  kill "$pid" 2> /dev/null || true
  for i in $(seq 60); do kill -0 "$pid" 2> /dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2> /dev/null; then echo "tsdb: $name did not stop, killing $pid" >&2; kill -9 "$pid" || true; fi
  rm -f "$pidf"
}

ports() {
  if [ ! -f "$dir/ports.env" ]; then
    printf 'ZK_PORT=%s\nMASTER_PORT=%s\nRS_PORT=%s\nTSD_PORT=%s\n' \
      "$(free_port)" "$(free_port)" "$(free_port)" "$(free_port)" > "$dir/ports.env"
  fi
  # shellcheck disable=SC1091
  . "$dir/ports.env"
}

prop() { printf '  <property><name>%s</name><value>%s</value></property>\n' "$1" "$2"; }

start_hbase() {
  alive "$dir/hbase.pid" && return 0
  mkdir -p "$dir/hbase-conf" "$dir/logs"
  {
    echo '<?xml version="1.0"?><configuration>'
    prop hbase.cluster.distributed false
    prop hbase.rootdir "file://$dir/hbase-data"
    prop hbase.tmp.dir "$dir/hbase-tmp"
    prop hbase.zookeeper.quorum 127.0.0.1
    prop hbase.zookeeper.property.clientPort "$ZK_PORT"
    prop hbase.zookeeper.property.dataDir "$dir/zookeeper"
    prop hbase.master.port "$MASTER_PORT"
    prop hbase.master.ipc.address 127.0.0.1
    prop hbase.regionserver.port "$RS_PORT"
    prop hbase.regionserver.ipc.address 127.0.0.1
    prop hbase.master.info.port -1
    prop hbase.regionserver.info.port -1
    prop hbase.unsafe.stream.capability.enforce false
    prop hbase.regionserver.handler.count 10
    prop hbase.master.procedurewals.syncer.sync.period 1000
    echo '</configuration>'
  } > "$dir/hbase-conf/hbase-site.xml"
  cat > "$dir/hbase-conf/log4j2.properties" <<LOG
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $dir/logs/hbase.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{ISO8601} %-5p [%t] %c{2}: %m%n
rootLogger = INFO,file
logger.zookeeper.name = org.apache.zookeeper
logger.zookeeper.level = WARN
logger.hadoop.name = org.apache.hadoop.hbase.shaded
logger.hadoop.level = WARN
LOG
  # shellcheck disable=SC2086
  setsid nohup "$JAVA" -Xms256m -Xmx768m -XX:+UseG1GC $OPENS \
    -Dorg.apache.hbase.thirdparty.io.netty.tryReflectionSetAccessible=true \
    -Dlog4j.configurationFile="$dir/hbase-conf/log4j2.properties" -Dhbase.log.dir="$dir/logs" \
    -Djava.net.preferIPv4Stack=true \
    -cp "$dir/hbase-conf:$HBASE_HOME/lib/*" org.apache.hadoop.hbase.master.HMaster start \
    > "$dir/logs/hbase.out" 2>&1 < /dev/null &
  echo $! > "$dir/hbase.pid"
}

create_tables() {  # retries until the master and the region server take the DDL
  local i
  for i in $(seq 60); do
    alive "$dir/hbase.pid" || { echo "tsdb: HBase exited, see $dir/logs/hbase.out and hbase.log" >&2; tail -20 "$dir/logs/hbase.out" >&2; return 1; }
    # shellcheck disable=SC2086
    if "$JAVA" -Xmx256m $OPENS -Dlog4j.configurationFile="$here/tsdb/log4j2-quiet.properties" \
        -cp "$HBASE_HOME/tools:$HBASE_HOME/lib/*" CreateTsdbTables 127.0.0.1 "$ZK_PORT" >> "$dir/logs/create-tables.log" 2>&1; then
      return 0
    fi
    sleep 2
  done
  echo "tsdb: could not create the tables, see $dir/logs/create-tables.log" >&2
  return 1
}

start_tsd() {
  alive "$dir/tsd.pid" && return 0
  mkdir -p "$dir/tsd-static" "$dir/tsd-cache" "$dir/logs"
  cat > "$dir/opentsdb.conf" <<CONF
tsd.network.port = $TSD_PORT
tsd.network.bind = 127.0.0.1
tsd.network.keep_alive = true
tsd.http.staticroot = $dir/tsd-static
tsd.http.cachedir = $dir/tsd-cache
tsd.storage.hbase.zk_quorum = 127.0.0.1:$ZK_PORT
tsd.core.auto_create_metrics = true
tsd.storage.fix_duplicates = true
# asynchbase (it reads this file too) buffers puts this long, and a put with ?sync waits for that flush:
# its default 1000 ms caps a synchronous writer at one request a second
hbase.rpcs.buffered_flush_interval = 20
tsd.http.request.enable_chunked = true
tsd.http.request.max_chunk = 16777216
tsd.http.request.cors_domains = *
tsd.core.meta.enable_tsuid_incrementing = false
# a TSMeta row per new series in tsdb-meta (realtime_ts needs tsuid_tracking): what /api/search/lookup, and
# so Grafana's tag_values() template variables, reads
tsd.core.meta.enable_tsuid_tracking = true
tsd.core.meta.enable_realtime_ts = true
CONF
  sed "s#@LOG@#$dir/logs/tsd.log#" "$here/tsdb/logback.xml" > "$dir/logback.xml"
  # shellcheck disable=SC2086
  setsid nohup "$JAVA" -Xms128m -Xmx512m $OPENS -Djava.net.preferIPv4Stack=true \
    -Dlogback.configurationFile="$dir/logback.xml" \
    -cp "$OPENTSDB_HOME/lib/*" net.opentsdb.tools.TSDMain --config="$dir/opentsdb.conf" \
    > "$dir/logs/tsd.out" 2>&1 < /dev/null &
  echo $! > "$dir/tsd.pid"
  local i
  for i in $(seq 120); do
    if curl -fsS -m 2 "http://127.0.0.1:$TSD_PORT/api/version" > /dev/null 2>&1; then
      echo "http://127.0.0.1:$TSD_PORT" > "$dir/url"
      return 0
    fi
    alive "$dir/tsd.pid" || { echo "tsdb: the TSD exited, see $dir/logs/tsd.out" >&2; tail -20 "$dir/logs/tsd.out" >&2; return 1; }
    sleep 0.5
  done
  echo "tsdb: the TSD did not answer /api/version in 60 s, see $dir/logs/tsd.log" >&2
  return 1
}

case $cmd in
  up)
    bash "$here/fetch-tsdb.sh" > /dev/null
    ports
    start_hbase
    create_tables
    start_tsd
    cat "$dir/url" ;;
  start-tsd) ports; start_tsd; cat "$dir/url" ;;
  stop-tsd) stop "$dir/tsd.pid" TSD ;;
  down) stop "$dir/tsd.pid" TSD; stop "$dir/hbase.pid" HBase ;;
  url) cat "$dir/url" ;;
  *) echo "usage: $0 up|down|stop-tsd|start-tsd|url [DIR]" >&2; exit 2 ;;
esac
