"""/healthz and /readyz, and the drain on SIGTERM: in-process and in a real process."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

from heron import web
from heron.client import ClientSession
from heron.observability import health

from ..engine.conftest import free_port
from .conftest import Start
from .probes import loop_name, status_of

SERVER = """
import sys
from heron import web
from heron.observability import health

async def hello(request):
    return web.Response(text="hello")

app = web.Application()
app.router.add_get("/", hello)
health.setup(app, drain_delay={drain})
loop = None
if "{loop}" == "uvloop":
    import uvloop
    loop = uvloop.new_event_loop()
web.run_app(app, host="127.0.0.1", port={port}, access_log=None, loop=loop)
"""


async def test_endpoints_and_drain_in_process(start: Start) -> None:
    app = web.Application()
    state = health.setup(app, drain_delay=2.5)
    assert app[health.HEALTH] is state
    runner, port = await start(app, access_log=None)
    assert await status_of(port, "/healthz") == 200
    assert await status_of(port, "/readyz") == 200
    async with ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
            assert response.headers["Cache-Control"] == "no-store"
            assert await response.text() == "ready"
        assert runner.begin_drain() == 2.5
        async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
            assert response.status == 503 and await response.text() == "draining"
    assert await status_of(port, "/healthz") == 200  # alive while draining


async def test_readiness_checks(start: Start) -> None:
    database_up = True

    async def database() -> bool:
        return database_up

    async def hangs() -> bool:
        await asyncio.Event().wait()
        return True

    app = web.Application()
    health.setup(app, checks=[database])
    _, port = await start(app, access_log=None)
    assert await status_of(port, "/readyz") == 200
    database_up = False
    assert await status_of(port, "/readyz") == 503
    assert await status_of(port, "/healthz") == 200

    slow = web.Application()
    health.setup(slow, checks=[hangs], check_timeout=0.05, ready_path="/ready")
    _, port = await start(slow, access_log=None)
    assert await status_of(port, "/ready") == 503


async def test_cleanup_without_signal_does_not_wait(start: Start) -> None:
    app = web.Application()
    state = health.setup(app, drain_delay=30)
    runner, _ = await start(app, access_log=None)
    begun = time.monotonic()
    await runner.cleanup()
    assert time.monotonic() - begun < 5
    assert state.draining


def test_negative_drain_delay_refused() -> None:
    with pytest.raises(ValueError):
        health.setup(web.Application(), drain_delay=-1)


async def test_sigterm_turns_readyz_503_before_the_port_closes(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    drain = 2.0
    port = free_port()
    script = tmp_path / "server.py"
    # The server runs on the same kind of loop as the test.
    source = SERVER.format(drain=drain, port=port, loop=loop_name(loop))
    script.write_text(textwrap.dedent(source))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        banner = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert banner.startswith(b"======== Running on"), banner
        assert await status_of(port, "/readyz") == 200
        # A keep-alive connection opened before the signal.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        deadline = signalled + 10
        # Readiness turns 503 while the listener still accepts new connections.
        while (status := await status_of(port, "/readyz")) == 200:
            assert time.monotonic() < deadline, "/readyz never turned 503"
            await asyncio.sleep(0.01)
        assert status == 503
        assert await status_of(port, "/") == 200
        assert await status_of(port, "/healthz") == 200
        served = time.monotonic()
        # The earlier connection is still served during the drain.
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await asyncio.wait_for(reader.readuntil(b"hello"), 5)).startswith(b"HTTP/1.1 200 ")
        writer.close()
        # Then the listener closes: connections are refused.
        while True:
            try:
                await status_of(port, "/readyz")
            except OSError:
                break
            assert time.monotonic() < deadline, "the port never closed"
            await asyncio.sleep(0.01)
        refused = time.monotonic()
        assert served - signalled < drain
        assert refused - signalled >= drain
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
