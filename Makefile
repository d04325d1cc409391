# Thin wrappers over hack/ scripts and the sensorcast CLI. The two commands of the README:
#   make demo   — set up, run the main job embedded on the bundled real data, write out/demo/report.html
#   make test   — set up (incl. test tools), run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint bench data-intel tools clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	bash hack/setup-venv.sh "$(PYTHON)" "$(VENV)"
	touch $(STAMP)

tools: setup
	bash hack/ensure-tools.sh

demo: setup
	bash hack/ensure-java.sh
	$(BIN)/sensorcast run --dataset keti --out out/demo

lint: setup
	$(BIN)/ruff check jobs operator tests hack images charts

test: tools lint
	$(BIN)/python -m pytest -ra

bench: setup
	$(BIN)/python -m sensorcast.bench --out docs

data-intel:
	bash hack/fetch-intel.sh

.PHONY: kafka-jars kafka-up kafka-down demo-kafka
# A real single-node Kafka 4 (KRaft) on loopback; jars from Maven Central into ~/.cache/sensorcast; state, log and
# pid in out/kafka. `make kafka-up` prints the bootstrap address (export SENSORCAST_KAFKA=... for the CLI).
kafka-jars:
	bash hack/kafka.sh fetch

kafka-up:
	bash hack/kafka.sh up --dir out/kafka

kafka-down:
	bash hack/kafka.sh down --dir out/kafka

# Full KETI replayed through a local broker into `sensorcast stream`; report in out/demo-kafka/report.html.
demo-kafka: setup
	bash hack/kafka.sh fetch
	$(BIN)/python hack/demo_kafka.py --dataset keti --out out/demo-kafka

.PHONY: tsdb-up tsdb-down
# A real OpenTSDB (TSD over standalone HBase) on loopback; state, logs and pids in out/tsdb, URL in out/tsdb/url.
tsdb-up:
	bash hack/tsdb.sh up out/tsdb

tsdb-down:
	bash hack/tsdb.sh down out/tsdb

.PHONY: demo-stack
# The local stack: broker + TSD (out/tsdb, left running for Grafana; `make tsdb-down` stops it), full KETI replayed
# through Kafka into `sensorcast stream --opentsdb`, then out/stack/report.html built from the TSD's points.
demo-stack: setup
	bash hack/kafka.sh fetch
	bash hack/tsdb.sh up out/tsdb
	$(BIN)/python hack/demo_kafka.py --dataset keti --out out/stack --opentsdb "$$(cat out/tsdb/url)" \
		--pipeline demo-stack $(DEMO_STACK_ARGS)

.PHONY: apiserver-tools crds apiserver-up
# The operator tests' control plane: kube-apiserver, kubectl, kube-controller-manager (k8s.io/kubernetes) and etcd
# built from the Go module proxy into ~/.cache/sensorcast; the pinned upstream CRDs (../shared/crds or downloaded).
apiserver-tools:
	bash hack/build-apiserver-tools.sh

crds:
	bash hack/fetch-crds.sh

apiserver-up: setup apiserver-tools crds
	$(BIN)/python hack/kube_testenv.py run --crds

clean:
	rm -rf out .pytest_cache

.PHONY: e2e-local
# The ForecastPipeline end to end on this machine: real kube-apiserver + operator, stand-ins for spark-operator
# and the Job controller running the rendered commands against a local Kafka and OpenTSDB; prints the final status.
e2e-local: tools
	$(BIN)/python -m pytest tests/e2e -s -ra

.PHONY: charts-test e2e-kind
# The chart tests alone: helm lint/template of every profile, kubeconform, unit checks, checkov, hadolint, and the
# server-side dry run + helm install against the real test kube-apiserver (tools: helm, kubeconform, checkov, etcd).
charts-test: setup
	bash hack/build-helm-tools.sh
	bash hack/ensure-checkov.sh
	bash hack/build-apiserver-tools.sh
	bash hack/fetch-crds.sh
	$(BIN)/python -m pytest tests/charts -ra

# kind end to end (needs Docker, kind, kubectl, helm and the internet): cluster, images, umbrella, KETI pipeline,
# forecasts in OpenTSDB, Grafana's API; logs in out/e2e-kind on failure. KEEP_CLUSTER=1 leaves the cluster up.
e2e-kind:
	bash hack/e2e-kind.sh
