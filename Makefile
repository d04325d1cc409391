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

clean:
	rm -rf out .pytest_cache
