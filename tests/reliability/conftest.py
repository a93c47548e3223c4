"""Fixtures for the reliability tests: a real server whose ``web.Server`` the test can watch.

The raw h11-based client and the ``started``/``serve``/``raw`` fixtures come from the engine tests.
"""

from __future__ import annotations

import asyncio
import resource
from collections.abc import Callable

from ..engine.conftest import RawClient, Started, header, raw, serve, started

__all__ = ("RawClient", "Started", "header", "raise_nofile", "raw", "serve", "started", "wait_for")


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate`` (observable state) until true; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not reached within {timeout} s")
        await asyncio.sleep(0.01)


def raise_nofile(wanted: int) -> int:
    """Raise the soft open-file limit towards ``wanted`` (up to the hard limit); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
