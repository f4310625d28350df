# The two commands a newcomer runs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.deps-installed

.PHONY: install test lint demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q '.[dev]'
	touch $(STAMP)

# Tests run against a regular (non-editable) install, where the package mapping is real.
install: $(STAMP)
	$(BIN)/pip install -q --no-deps --force-reinstall .

test: install
	$(BIN)/pytest

# lint-imports and mypy run outside the source tree: from here, `mlgov` would be the bare
# mlgov/ folder. mypy's cache stays in this checkout (cache_dir in pyproject.toml).
lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	cd / && $(CURDIR)/$(BIN)/lint-imports $(CURDIR)/pyproject.toml
	cd / && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml -p mlgov

demo: install
	$(BIN)/python examples/credit_scoring/demo.py

bench: install
	$(BIN)/python benchmarks/cli_startup.py

clean:
	rm -rf $(VENV) build *.egg-info .demo
