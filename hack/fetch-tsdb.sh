#!/usr/bin/env bash
# Fetch a real OpenTSDB TSD and a standalone HBase from Maven Central (mvn copy-dependencies on generated
# poms) into ~/.cache/sensorcast/{opentsdb,hbase}-<ver>/lib, and compile the table-creation tool.
# Idempotent: a finished fetch leaves a .complete stamp and is not repeated.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tsdb/versions.sh
. "$here/tsdb/versions.sh"

need() {  # need COMMAND DEBIAN_PACKAGE: install the package (as root) when the command is missing
  command -v "$1" > /dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    echo "fetch-tsdb: installing Debian's $2 (for $1)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" > /dev/null
  else
    echo "fetch-tsdb: needs $1: apt-get install $2" >&2; exit 1
  fi
}
need javac openjdk-17-jdk-headless
need mvn maven
need curl curl

# copy_deps DIR POM_DEPENDENCIES_XML [EXCLUDED_ARTIFACT_IDS]: resolve and copy every runtime jar into DIR/lib
copy_deps() {
  local dir=$1 deps=$2 skip=${3:-} work
  [ -f "$dir/.complete" ] && return 0
  work=$(mktemp -d)
  cat > "$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.sensorcast</groupId><artifactId>fetch</artifactId><version>0</version><packaging>pom</packaging>
  <dependencies>$deps</dependencies>
</project>
POM
  echo "fetch-tsdb: resolving jars into $dir/lib"
  rm -rf "$dir/lib"
  mkdir -p "$dir/lib"
  (cd "$work" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dir/lib" \
      ${skip:+-DexcludeArtifactIds=$skip}) \
    || { echo "fetch-tsdb: mvn failed for $dir (see above)" >&2; rm -rf "$work"; exit 1; }
  rm -rf "$work"
  touch "$dir/.complete"
}

excl() { printf '<exclusion><groupId>%s</groupId><artifactId>%s</artifactId></exclusion>' "$1" "$2"; }

copy_deps "$OPENTSDB_HOME" "
  <dependency><groupId>net.opentsdb</groupId><artifactId>opentsdb</artifactId><version>$OPENTSDB_VERSION</version>
    <exclusions>$(excl com.google.gwt gwt-user)$(excl net.opentsdb opentsdb_gwt_theme)$(excl com.pythian.opentsdb asyncbigtable)$(excl net.opentsdb asynccassandra)</exclusions></dependency>
  <dependency><groupId>org.hbase</groupId><artifactId>asynchbase</artifactId><version>$ASYNCHBASE_VERSION</version></dependency>
  <dependency><groupId>org.apache.zookeeper</groupId><artifactId>zookeeper</artifactId><version>3.4.6</version>
    <exclusions>$(excl log4j log4j)$(excl org.slf4j slf4j-log4j12)$(excl jline jline)$(excl junit junit)</exclusions></dependency>"

# JAXB left the JDK in Java 11, but OpenTSDB 2.4's UniqueId.uidToString still calls javax.xml.bind's
# DatatypeConverter: without it /api/search/lookup (Grafana's tag_values variables) drops the connection.
# Added beside the resolved jars (also to a lib fetched before this step existed).
if [ ! -f "$OPENTSDB_HOME/lib/jaxb-api-$JAXB_API_VERSION.jar" ]; then
  (cd "$OPENTSDB_HOME" && mvn -q -B dependency:copy -Dartifact="javax.xml.bind:jaxb-api:$JAXB_API_VERSION" \
    -DoutputDirectory="$OPENTSDB_HOME/lib") || { echo "fetch-tsdb: mvn failed for jaxb-api" >&2; exit 1; }
fi

copy_deps "$HBASE_HOME" "
  <dependency><groupId>org.apache.hbase</groupId><artifactId>hbase-server</artifactId><version>$HBASE_VERSION</version></dependency>
  <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J2_VERSION</version></dependency>
  <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J2_VERSION</version></dependency>
  <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-1.2-api</artifactId><version>$LOG4J2_VERSION</version></dependency>" \
  "slf4j-reload4j,reload4j,slf4j-log4j12,log4j"

# The tsdb tables, created through HBase's Admin API (no JRuby shell needed).
tools="$HBASE_HOME/tools"
if [ ! -f "$tools/CreateTsdbTables.class" ] || [ "$here/tsdb/CreateTsdbTables.java" -nt "$tools/CreateTsdbTables.class" ]; then
  mkdir -p "$tools"
  javac -nowarn -d "$tools" -cp "$HBASE_HOME/lib/*" "$here/tsdb/CreateTsdbTables.java"
fi
echo "fetch-tsdb: OpenTSDB $OPENTSDB_VERSION in $OPENTSDB_HOME, HBase $HBASE_VERSION in $HBASE_HOME"
