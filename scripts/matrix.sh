#!/bin/sh
# The test suite (without the slow suites) on each supported Python other than the one
# `make test` uses: MATRIX="3.10 3.12 3.13" by default.  Each version gets its own venv
# (.venv-3.X, installed like .venv) and runs on asyncio and uvloop as `make test` does.
# An interpreter is found with pyenv when there is one, else as python3.X on PATH; a
# version found nowhere is reported and fails the run (a matrix that silently shrinks
# proves nothing).
set -u
cd "$(dirname "$0")/.."

find_python() {
    if command -v pyenv >/dev/null 2>&1; then
        prefix=$(pyenv prefix "$1" 2>/dev/null | head -n 1)
        if [ -n "$prefix" ] && [ -x "$prefix/bin/python$1" ]; then
            echo "$prefix/bin/python$1"
            return
        fi
    fi
    command -v "python$1" 2>/dev/null || true
}

failed=""
for minor in ${MATRIX:-3.10 3.12 3.13}; do
    python=$(find_python "$minor")
    if [ -z "$python" ]; then
        echo "matrix: no Python $minor on this machine" >&2
        failed="$failed $minor(missing)"
        continue
    fi
    venv=".venv-$minor"
    stamp="$venv/.heron-installed"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        "$python" -m venv "$venv" &&
            "$venv/bin/python" -m pip install --quiet --upgrade pip &&
            "$venv/bin/python" -m pip install --quiet -e '.[dev,speed]' &&
            touch "$stamp" || { failed="$failed $minor(install)"; continue; }
    fi
    echo "matrix: Python $minor ($("$venv/bin/python" -V 2>&1))"
    "$venv/bin/python" -m pytest -q -p no:cacheprovider -m "not slow" || failed="$failed $minor"
done

if [ -n "$failed" ]; then
    echo "matrix: FAILED on$failed" >&2
    exit 1
fi
echo "matrix: passed on ${MATRIX:-3.10 3.12 3.13}"
