# heron: the two set-up commands for a fresh machine are `make demo` and `make test`.
# Each creates .venv (Python 3.10+ with venv is all it assumes) and installs what it needs.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.heron-installed

.PHONY: demo test lint typecheck pytest test-slow bench bench-smoke clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,speed]'
	touch $(STAMP)

## Serve the demo app on http://localhost:8080
demo: $(STAMP)
	$(PY) examples/demo/app.py

## Lint, type-check and run the test suite (on asyncio and uvloop)
test: lint typecheck pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check heron tests bench examples
	$(VENV)/bin/ruff format --check heron tests bench examples

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

## The long suites (minutes): run before resolving an issue
test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

## heron vs aiohttp on this machine (installs wrk from Debian if missing; needs root)
bench: $(STAMP)
	bash bench/install.sh
	$(PY) bench/run.py

bench-smoke: $(STAMP)
	bash bench/install.sh
	$(PY) bench/run.py --smoke

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
