PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-portable bench lint clean docs docs-serve docs-verdicts

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

# the documentation site, built strictly into site/ (open site/index.html), then checked
# for anything it would load from the network (it must work offline)
DOCS_ENV := NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true
DOCS_STAMP := $(VENV)/.docs-installed

$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install -q -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(DOCS_ENV) $(BIN)/mkdocs build --strict
	$(BIN)/python scripts/check_offline_site.py site

# the quick-preset verdicts the theory catalogue shows (docs/verdicts/quick, committed):
# run the quick suite into a fresh run store and copy each run's verdict and figures
docs-verdicts: $(STAMP)
	rm -rf build/docs-runs
	# a disagreeing verdict is a result the catalogue shows: the suite's exit status does not stop the copy
	$(BIN)/valleys --runs-dir build/docs-runs suite --quick || true
	$(BIN)/python scripts/collect_verdicts.py build/docs-runs docs/verdicts

docs-serve: $(DOCS_STAMP)
	$(DOCS_ENV) $(BIN)/mkdocs serve

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) runs build site *.egg-info src/*.egg-info
