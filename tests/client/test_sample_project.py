"""The sample project (tests/sample_project), a suite written for pytest-aiohttp, passes on heron.

Its files differ from the aiohttp project they stand for in one line each: ``from aiohttp
import web`` became ``from heron import web``.  Each run is a separate ``python -m pytest``
in the project's directory, as its developers would type it: heron's plugin comes from its
entry point, the project's own pytest.ini (``asyncio_mode = auto``, module loop scopes)
applies, and nothing is written to the tree (no cache, no bytecode).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parent.parent / "sample_project"
TESTS_IN_SAMPLE = 13


def _run_sample(directory: Path, tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_PLUGINS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-o", f"cache_dir={tmp_path / 'cache'}", *options],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _passed(result: subprocess.CompletedProcess[str]) -> int:
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.search(r"(\d+) passed", result.stdout)
    assert match is not None, result.stdout
    assert not re.search(r"\d+ (failed|error|skipped)", result.stdout), result.stdout
    return int(match.group(1))


def test_sample_passes_on_heron_with_pytest_asyncio(tmp_path: Path) -> None:
    pytest.importorskip("pytest_asyncio")
    assert _passed(_run_sample(SAMPLE, tmp_path)) == TESTS_IN_SAMPLE


def test_sample_passes_on_heron_without_pytest_asyncio(tmp_path: Path) -> None:
    # pytest-asyncio's ini options stay in the project's pytest.ini (--strict-config):
    # heron's plugin declares them and runs the async tests and fixtures itself.
    assert _passed(_run_sample(SAMPLE, tmp_path, "-p", "no:asyncio")) == TESTS_IN_SAMPLE


def test_sample_is_a_pytest_aiohttp_suite(tmp_path: Path) -> None:
    """With the import changed back, the same suite passes on aiohttp and pytest-aiohttp."""
    pytest.importorskip("pytest_aiohttp")
    project = tmp_path / "aiohttp_project"
    shutil.copytree(SAMPLE, project)
    changed = 0
    for path in project.glob("*.py"):
        text = path.read_text()
        new = text.replace("from heron import web\n", "from aiohttp import web\n")
        changed += text != new
        path.write_text(new)
    assert changed == 2
    result = _run_sample(project, tmp_path, "-p", "no:heron.pytest_plugin")
    assert _passed(result) == TESTS_IN_SAMPLE
