"""Fixtures for the reliability tests: a real server whose ``web.Server`` the test can watch.

The raw h11-based client and the ``serve``/``raw`` fixtures come from the engine tests.
"""

from __future__ import annotations

import asyncio
import resource
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from heron import web

from ..engine.conftest import RawClient, header, raw, serve

__all__ = ("RawClient", "Started", "header", "raise_nofile", "raw", "serve", "started", "wait_for")

Started = Callable[..., Awaitable[tuple[int, web.Server]]]


@pytest.fixture
async def started() -> AsyncIterator[Started]:
    """``port, server = await started(handler_or_app, **kwargs)``; cleaned up at teardown."""
    runners: list[web.BaseRunner] = []

    async def start(target: Any, **kwargs: Any) -> tuple[int, web.Server]:
        runner: web.BaseRunner
        if isinstance(target, web.Application):
            runner = web.AppRunner(target, access_log=None, **kwargs)
        else:
            runner = web.ServerRunner(web.Server(target, access_log=None, **kwargs))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        runners.append(runner)
        assert runner.server is not None
        return site.port, runner.server

    yield start
    for runner in runners:
        await asyncio.wait_for(runner.cleanup(), 30)


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
