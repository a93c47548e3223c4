"""Behaviours that aiohttp's own example programs rely on, checked with apps of our own.

aiohttp 3.14's examples (``examples/*.py`` in its source tree) were run unchanged but for
``from heron import web`` against heron and against aiohttp, endpoint by endpoint.  Where
heron differed, the behaviour is pinned here with a small app written for the test, served
over real sockets: a ``run_app`` process, or a runner on a Unix socket.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import textwrap
from pathlib import Path

import aiohttp
import pytest

from heron import web

# A run_app program that logs nothing of its own: whatever reaches stderr comes from heron.
RUN_APP = """
from heron import web

async def hello(request):
    return web.Response(text="hi")

app = web.Application()
app.router.add_get("/", hello)
web.run_app(app, host="127.0.0.1", port={port})
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _run_once(tmp_path: Path, *, debug: bool) -> bytes:
    """Start RUN_APP, make one request, stop it with SIGINT; return its stderr."""
    port = _free_port()
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(RUN_APP.format(port=port)))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONASYNCIODEBUG"}
    env["PYTHONUNBUFFERED"] = "1"
    if debug:
        env["PYTHONASYNCIODEBUG"] = "1"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        banner = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert banner.startswith(b"======== Running on http://127.0.0.1:"), banner
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/") as resp,
        ):
            assert resp.status == 200 and await resp.text() == "hi"
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        return await proc.stderr.read()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_run_app_prints_no_access_log_by_default(tmp_path: Path) -> None:
    # aiohttp's examples run silently: run_app leaves the access logger alone unless
    # asyncio debug mode is on, so an app that configures no logging prints no lines.
    stderr = await _run_once(tmp_path, debug=False)
    assert b"GET / HTTP/1.1" not in stderr


async def test_run_app_prints_access_log_in_debug_mode(tmp_path: Path) -> None:
    # In asyncio debug mode run_app gives the default access logger a stderr handler.
    stderr = await _run_once(tmp_path, debug=True)
    lines = [line for line in stderr.splitlines() if b'"GET / HTTP/1.1" 200' in line]
    assert len(lines) == 1, stderr
    assert lines[0].startswith(b"127.0.0.1 [")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs Unix sockets")
async def test_access_log_remote_of_unix_socket_peer_is_empty(tmp_path: Path) -> None:
    # A peer on a Unix socket has no address: request.remote is "" and %a logs "" (as
    # aiohttp does for ``python -m aiohttp.web -U PATH``), not the "-" of a missing peer.
    seen: list[str | None] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.remote)
        return web.Response(text="unix")

    logger = logging.getLogger("tests.examples.unix_access")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    records = _Records()
    logger.addHandler(records)
    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, access_log=logger, access_log_format="[%a] %r %s")
    await runner.setup()
    path = str(tmp_path / "s.sock")
    try:
        await web.UnixSite(runner, path).start()
        connector = aiohttp.UnixConnector(path=path)
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.get("http://example/") as resp,
        ):
            assert resp.status == 200 and await resp.text() == "unix"
        for _ in range(100):
            if records.messages:
                break
            await asyncio.sleep(0.01)
    finally:
        await runner.cleanup()
        logger.removeHandler(records)
    assert seen == [""]
    assert records.messages == ["[] GET / HTTP/1.1 200"]
