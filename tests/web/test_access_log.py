"""Access logs: aiohttp's format atoms, a custom AbstractAccessLogger, one compile per format."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from heron import web
from heron._web import log as log_module
from heron.abc import AbstractAccessLogger

from ..engine.conftest import RawClient
from .conftest import ListHandler

Start = Callable[..., Awaitable[int]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    runners: list[web.AppRunner] = []

    async def run(app: web.Application, **kwargs: Any) -> int:
        runner = web.AppRunner(app, **kwargs)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return site.port

    yield run
    for runner in runners:
        await runner.cleanup()


async def handler(request: web.Request) -> web.Response:
    return web.Response(text="hello", headers={"X-Out": "out-value"})


async def test_all_atoms(start: Start, access: tuple[logging.Logger, ListHandler]) -> None:
    logger, records = access
    os.environ["HERON_TEST_ENV"] = "env-value"
    fmt = '%a %t %P "%r" %s %b %T %Tf %D "%{X-In}i" "%{X-Out}o" "%{HERON_TEST_ENV}e" %%'
    app = web.Application()
    app.router.add_get("/path", handler)
    port = await start(app, access_log=logger, access_log_format=fmt)
    client = await RawClient.connect(port)
    await client.send(b"GET /path?q=1 HTTP/1.1\r\nHost: x\r\nX-In: in-value\r\n\r\n")
    _, body = await client.response()
    client.close()
    assert body == b"hello"
    assert len(records.lines) == 1
    pattern = (
        r"127\.0\.0\.1 \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] <(\d+)> "
        r'"GET /path\?q=1 HTTP/1\.1" 200 (\d+) (\d+) (\d+\.\d{6}) (\d+) '
        r'"in-value" "out-value" "env-value" %'
    )
    match = re.fullmatch(pattern, records.lines[0])
    assert match, records.lines[0]
    assert int(match.group(1)) == os.getpid()
    assert int(match.group(2)) > 0
    assert float(match.group(4)) < 10 and int(match.group(5)) < 10_000_000


async def test_default_format_and_missing_headers(
    start: Start, access: tuple[logging.Logger, ListHandler]
) -> None:
    logger, records = access
    app = web.Application()
    app.router.add_get("/", handler)
    port = await start(app, access_log=logger)
    client = await RawClient.connect(port)
    await client.send(b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: tester/1\r\n\r\n")
    await client.response()
    await client.send(b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n")
    await client.response()
    client.close()
    assert re.search(r'"GET / HTTP/1\.1" 200 \d+ "-" "tester/1"$', records.lines[0])
    assert ' "GET /missing HTTP/1.1" 404 ' in records.lines[1]
    assert records.lines[1].endswith('"-" "-"')


async def test_custom_access_logger_class(
    start: Start, access: tuple[logging.Logger, ListHandler]
) -> None:
    logger, records = access

    class JsonishLogger(AbstractAccessLogger):
        def log(self, request: Any, response: Any, time: float) -> None:
            self.logger.info(
                "%s %s -> %s (%s)", request.method, request.path, response.status, self.log_format
            )

    app = web.Application()
    app.router.add_get("/", handler)
    port = await start(
        app, access_log=logger, access_log_class=JsonishLogger, access_log_format="F"
    )
    client = await RawClient.connect(port)
    await client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    await client.response("POST")
    client.close()
    assert records.lines == ["POST / -> 405 (F)"]
    with pytest.raises(TypeError):
        web.AppRunner(app, access_log_class=dict)  # type: ignore[arg-type]


async def test_disabled_logger_is_not_called() -> None:
    """A logger that would drop INFO records costs nothing per request."""
    logger = logging.getLogger("heron.test.access.disabled")
    logger.setLevel(logging.WARNING)
    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, access_log=logger)
    await runner.setup()
    try:
        assert runner.server is not None and runner.server.access_logger is None
    finally:
        await runner.cleanup()


def test_format_compiled_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The format is parsed when the logger is built, never per request."""
    compiled: list[str] = []
    original = log_module._compile

    def counting(fmt: str) -> Any:
        compiled.append(fmt)
        return original(fmt)

    monkeypatch.setattr(log_module, "_compile", counting)
    logger = logging.getLogger("heron.test.access.once")
    logger.setLevel(logging.INFO)
    kept = ListHandler()
    logger.addHandler(kept)
    logger.propagate = False
    access_logger = log_module.AccessLogger(logger, "%s %b")
    assert compiled == ["%s %b"]

    class FakeResponse:
        status = 201
        body_length = 7
        headers: dict[str, str] = {}

    for _ in range(3):
        access_logger.log(None, FakeResponse(), 0.5)  # type: ignore[arg-type]
    assert compiled == ["%s %b"]
    # A stand-in that is no StreamResponse is asked for its body_length, as aiohttp asks.
    assert kept.lines == ["201 7"] * 3
