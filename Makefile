PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-portable bench lint clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test,dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/valleys suite --quick
	$(BIN)/valleys report

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

# the suite under the default, AVX2 and scalar CPU kernels in turn (issue 18, item 5)
test-portable: $(STAMP)
	PYTHON=$(BIN)/python scripts/test_portable.sh

bench: $(STAMP)
	$(BIN)/pip install -q -e ".[bench]" || true
	$(BIN)/python benchmarks/core.py
	$(BIN)/python benchmarks/curvature.py
	$(BIN)/python benchmarks/practitioner.py
	$(BIN)/pip install -q -e ".[dist]" || true
	$(BIN)/python benchmarks/sweep.py
	$(BIN)/python benchmarks/surface.py
	$(BIN)/python benchmarks/paths.py
	$(BIN)/python benchmarks/basins.py
	$(BIN)/python benchmarks/train.py
	$(BIN)/python benchmarks/training_lm.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) runs build *.egg-info src/*.egg-info
