# Versions and cache folders of the local OpenTSDB stack (sourced by hack/fetch-tsdb.sh and hack/tsdb.sh).
OPENTSDB_VERSION=2.4.1
ASYNCHBASE_VERSION=1.8.2
HBASE_VERSION=2.5.12-hadoop3
LOG4J2_VERSION=2.17.2
JAXB_API_VERSION=2.3.1  # javax.xml.bind for OpenTSDB on Java 17 (fetch-tsdb.sh)
CACHE=${SENSORCAST_CACHE:-$HOME/.cache/sensorcast}
OPENTSDB_HOME=$CACHE/opentsdb-$OPENTSDB_VERSION
HBASE_HOME=$CACHE/hbase-$HBASE_VERSION
