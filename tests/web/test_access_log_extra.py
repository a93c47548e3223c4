"""Access log records carry aiohttp's named fields (``extra``) and %t is local time."""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from heron import web
from heron._web.log import AccessLogger

from .conftest import ListHandler


@pytest.fixture
def local_tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fixed, DST-free local zone (POSIX TZ string: no tz database needed)."""
    monkeypatch.setenv("TZ", "XST-8")
    time.tzset()
    AccessLogger._cached_tz = None
    yield
    monkeypatch.undo()
    time.tzset()
    AccessLogger._cached_tz = None


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="hello", headers={"X-Out": "out"})


async def serve(app: web.Application, logger: logging.Logger, fmt: str) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=logger, access_log_format=fmt)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site.port}"
    finally:
        await runner.cleanup()


async def test_records_carry_named_fields(access: tuple[logging.Logger, ListHandler]) -> None:
    logger, handler = access
    app = web.Application()
    app.router.add_get("/p", hello)
    fmt = '%a %P "%r" %s %b %T %Tf %D "%{X-In}i" "%{Missing}i" "%{X-Out}o"'
    async for base in serve(app, logger, fmt):
        async with (
            aiohttp.ClientSession() as session,
            session.get(base + "/p?q=1", headers={"X-In": "in"}) as resp,
        ):
            assert await resp.text() == "hello"
    [record] = handler.records
    fields = record.__dict__
    assert fields["remote_address"] == "127.0.0.1"
    assert fields["process_id"] == f"<{os.getpid()}>"
    assert fields["first_request_line"] == "GET /p?q=1 HTTP/1.1"
    # Status and size stay numbers, for formatters that emit JSON.
    assert fields["response_status"] == 200
    assert isinstance(fields["response_size"], int) and fields["response_size"] > len("hello")
    assert fields["request_header"] == {"X-In": "in", "Missing": "-"}
    assert fields["response_header"] == {"X-Out": "out"}
    assert re.fullmatch(r"\d+", fields["request_time"])
    assert re.fullmatch(r"\d+\.\d{6}", fields["request_time_frac"])
    assert re.fullmatch(r"\d+", fields["request_time_micro"])
    message = record.getMessage()
    assert message.startswith(f'127.0.0.1 <{os.getpid()}> "GET /p?q=1 HTTP/1.1" 200 ')
    assert message.endswith('"in" "-" "out"')


async def test_start_time_in_local_time(
    access: tuple[logging.Logger, ListHandler], local_tz: None
) -> None:
    logger, handler = access
    app = web.Application()
    app.router.add_get("/", hello)
    async for base in serve(app, logger, "%t"):
        async with aiohttp.ClientSession() as session, session.get(base + "/") as resp:
            assert resp.status == 200
    [record] = handler.records
    message = record.getMessage()
    assert record.__dict__["request_start_time"] == message
    match = re.fullmatch(r"\[(\d\d/\w{3}/\d{4}:\d\d):\d\d:\d\d \+0800\]", message)
    assert match, message
    # The hour is the local one, eight hours ahead of UTC.
    expected = time.strftime("%d/%b/%Y:%H", time.gmtime(time.time() + 8 * 3600))
    assert match.group(1) == expected


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs Unix sockets")
async def test_unix_socket_peer_is_empty(
    access: tuple[logging.Logger, ListHandler], tmp_path: os.PathLike[str]
) -> None:
    # A peer on a Unix socket has no address: request.remote is "" and %a logs "" (as
    # aiohttp does for ``python -m aiohttp.web -U PATH``), not the "-" of a missing peer.
    logger, handler = access
    seen: list[str | None] = []

    async def remote(request: web.Request) -> web.Response:
        seen.append(request.remote)
        return await hello(request)

    app = web.Application()
    app.router.add_get("/", remote)
    runner = web.AppRunner(app, access_log=logger, access_log_format="|%a| %r %s")
    await runner.setup()
    path = os.path.join(os.fspath(tmp_path), "s.sock")
    await web.UnixSite(runner, path).start()
    try:
        connector = aiohttp.UnixConnector(path)
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.get("http://localhost/") as resp,
        ):
            assert resp.status == 200
    finally:
        await runner.cleanup()
    assert seen == [""]
    [record] = handler.records
    assert record.getMessage() == "|| GET / HTTP/1.1 200"
    assert record.__dict__["remote_address"] == ""
