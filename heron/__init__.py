"""heron: an asyncio web server framework with aiohttp.web's API.

``from heron import web`` is a drop-in for ``from aiohttp import web``.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ("GunicornUVLoopWebWorker", "GunicornWebWorker", "__version__")


def __getattr__(name: str) -> Any:
    # gunicorn's worker classes, as aiohttp exports them; imported on first use only, so
    # importing heron never imports gunicorn.
    if name in ("GunicornWebWorker", "GunicornUVLoopWebWorker"):
        from . import worker

        return getattr(worker, name)
    raise AttributeError(f"module 'heron' has no attribute {name!r}")
