"""The Autobahn|Testsuite run as a (slow) test: ``make test-slow`` or ``make autobahn``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "autobahn.py"


@pytest.mark.slow
def test_autobahn_cases_1_to_13_pass() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT)], timeout=3600, check=False)
    assert result.returncode == 0
