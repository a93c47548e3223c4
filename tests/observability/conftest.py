"""Observability tests: real servers on free ports, real clients, records kept in lists."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from heron import web

from ..web.conftest import ListHandler

Start = Callable[..., Awaitable[tuple[web.AppRunner, int]]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """``runner, port = await start(app, **runner_kwargs)``: serve on 127.0.0.1, a free port."""
    runners: list[web.AppRunner] = []

    async def run(app: web.Application, **kwargs: Any) -> tuple[web.AppRunner, int]:
        runner = web.AppRunner(app, **kwargs)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return runner, site.port

    yield run
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
def records() -> Iterator[tuple[logging.Logger, ListHandler]]:
    """A logger of its own (INFO and up) whose records are kept."""
    logger = logging.getLogger("heron.test.observability")
    handler = ListHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, handler
    logger.removeHandler(handler)
