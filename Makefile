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
	$(BIN)/ruff check jobs operator tests hack

test: tools lint
	$(BIN)/python -m pytest -ra

bench: setup
	$(BIN)/python -m sensorcast.bench --out docs

data-intel:
	bash hack/fetch-intel.sh

.PHONY: tsdb-up tsdb-down
# A real OpenTSDB (TSD over standalone HBase) on loopback; state, logs and pids in out/tsdb, URL in out/tsdb/url.
tsdb-up:
	bash hack/tsdb.sh up out/tsdb

tsdb-down:
	bash hack/tsdb.sh down out/tsdb

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
