"""tests.deploy.apps's app, behind an import held until the test removes a marker file: the
test can signal a gunicorn worker while it is still loading the app."""

from __future__ import annotations

import os
import time
from pathlib import Path

from .apps import init

__all__ = ("init",)

_marker = Path(os.environ["HERON_TEST_MARKER"])
_marker.write_text(str(os.getpid()))
_deadline = time.monotonic() + 30
while _marker.exists() and time.monotonic() < _deadline:
    time.sleep(0.01)
