# heron: the two set-up commands for a fresh machine are `make demo` and `make test`.
# Each creates .venv (Python 3.10+ with venv is all it assumes) and installs what it needs.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.heron-installed

.PHONY: demo test lint typecheck pytest system-deps test-slow bench bench-smoke clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,speed]'
	touch $(STAMP)

POLLS_STAMP := $(VENV)/.heron-polls-installed

$(POLLS_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[polls,speed]'
	touch $(POLLS_STAMP)

## Serve the demo app on http://localhost:8080: the polls example (aiohttp's server tutorial
## on heron, SQLite database created and seeded in examples/polls/ on first start)
demo: $(POLLS_STAMP)
	cd examples/polls && $(abspath $(PY)) -m heron_polls

## Lint, type-check, run the test suite (on asyncio and uvloop) and the benchmark smoke
## (every bench scenario once, ~1 minute: fails only when the harness is broken, never on speed)
test: lint typecheck pytest bench-smoke

lint: $(STAMP)
	$(VENV)/bin/ruff check heron tests bench examples
	$(VENV)/bin/ruff format --check heron tests bench examples

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP) system-deps
	$(PY) -m pytest -q -m "not slow"

## System packages the tests drive (PostgreSQL, Chromium, Redis): installed when root with apt-get
system-deps:
	sh scripts/ensure-system-deps.sh
	-sh scripts/ensure-redis.sh  # optional: the Redis tests skip without it

## The long suites (minutes): run before resolving an issue
test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

## heron vs aiohttp (and the ceiling server) on this machine: every scenario (HTTP under wrk,
## WebSocket echo, memory of 10,000 idle connections), 3 rounds, ~16 minutes; results in
## bench/results/ (installs wrk from Debian if missing; needs root)
bench: $(STAMP)
	sh bench/install.sh
	$(PY) bench/run.py

## Every bench scenario once, 1 s each, 200 idle connections (~1 minute): proves the harness
bench-smoke: $(STAMP)
	sh bench/install.sh
	$(PY) bench/run.py --smoke --strict --no-save

clean:
	rm -rf $(VENV) .venv-3.* .mypy_cache .ruff_cache .pytest_cache .hypothesis

## The test suite on the other supported Pythons (MATRIX="3.10 3.12 3.13"; each in its own
## .venv-3.X; pyenv's interpreters or python3.X on PATH; ~4 minutes per version)
.PHONY: matrix
matrix:
	sh scripts/matrix.sh

## Autobahn|Testsuite (WebSocket conformance, cases 1-13, ~10 minutes; installs the suite
## under ~/.cache/heron-autobahn with pyenv's Python 2.7.18 on first use)
.PHONY: autobahn
autobahn: $(STAMP)
	$(PY) tests/conformance/autobahn.py

## Long fuzz run of the HTTP/1.1, multipart, WebSocket parsers and the content decoders, and the
## differential test of the request parser against aiohttp's and h11 (Hypothesis, seeds in
## tests/reliability/corpus/; FUZZ_EXAMPLES per target, ~2 minutes at the default)
.PHONY: fuzz soak
FUZZ_EXAMPLES ?= 20000
fuzz: $(STAMP)
	HERON_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -p no:cacheprovider -m slow \
		tests/reliability/test_fuzz.py tests/reliability/test_differential_h1.py

## Soak: mixed traffic against a run_app server; RSS and open fds must stay flat
## (SOAK_DURATION seconds, default 600)
SOAK_DURATION ?= 600
soak: $(STAMP)
	$(PY) scripts/soak.py --duration $(SOAK_DURATION)

## aiohttp's own server tests run against heron (a few minutes; downloads the installed
## aiohttp's sdist into .cache/peer once). Fails on a regression against tests/peer/baseline.txt,
## or on a failing test without a reason in tests/peer/expected_failures.txt.
.PHONY: peer
peer: $(STAMP)
	$(PY) -m tests.peer.aiohttp_suite

## The test suites of aiohttp-jinja2, aiohttp-session, aiohttp-cors, aiohttp-sse and aiojobs
## (newest sdists from PyPI, cached in .cache/plugins) run against the real plugins on aiohttp
## and against heron's batteries; fails when heron passes under 95 % of what passes upstream,
## or a difference is missing from tests/plugins/baseline/. Its own venv (.venv-plugins):
## pytest-aiohttp and pytest-asyncio, which the upstream runs need, stay out of `make test`.
## PLUGINS="sse jobs" runs some of them.
.PHONY: plugins
PLUGINS_VENV := .venv-plugins
PLUGINS_STAMP := $(PLUGINS_VENV)/.heron-installed
PLUGINS ?=

$(PLUGINS_STAMP): pyproject.toml
	$(PYTHON) -m venv $(PLUGINS_VENV)
	$(PLUGINS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PLUGINS_VENV)/bin/python -m pip install --quiet -e '.[dev]'
	touch $(PLUGINS_STAMP)

plugins: $(PLUGINS_STAMP) system-deps
	$(PLUGINS_VENV)/bin/python -m tests.plugins.suite $(PLUGINS)
