# Entry points. `make demo` and `make test` work from a fresh clone on
# Debian 12, Ubuntu or Raspberry Pi OS: they create .venv/ and install what is missing.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install system-deps demo test test-unit lint typecheck bench schema clean

install: system-deps $(STAMP)

system-deps:
	@bash scripts/install-system-deps.sh

# setup.py builds the ingestor's compiled pass (cloud/ingest/_lines.c): a change to it reinstalls.
$(STAMP): pyproject.toml setup.py cloud/ingest/_lines.c
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "greenwire needs Python 3.11 or newer")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[all]'
	@touch $(STAMP)

demo: install
	$(VENV)/bin/greenwire demo

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: install
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check shared

typecheck: install
	bash scripts/typecheck.sh

bench: install
	$(PY) -m bench

schema: install
	$(VENV)/bin/greenwire schema --write

clean:
	rm -rf $(VENV) .greenwire .pytest_cache .mypy_cache .ruff_cache build *.egg-info
