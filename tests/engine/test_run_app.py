"""run_app and graceful shutdown, in a real process and in-process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from heron import web

from .conftest import RawClient, Serve, free_port

HELLO = """
from heron import web

async def hello(request):
    return web.Response(text="Hello, world")

app = web.Application()
app.router.add_get('/', hello)
web.run_app(app, port={port})
"""

SHUTDOWN_APP = """
import sys
from heron import web

def say(text):
    print(text, flush=True)

async def slow(request):
    say("handler started")
    body = await request.read()
    say("handler done")
    return web.Response(text="got " + body.decode())

async def on_shutdown(app):
    say("on_shutdown")

async def on_cleanup(app):
    say("on_cleanup")

app = web.Application()
app.router.add_post('/slow', slow)
app.on_shutdown.append(on_shutdown)
app.on_cleanup.append(on_cleanup)
web.run_app(app, host="127.0.0.1", port={port}, shutdown_timeout=30, print=say, access_log=None)
"""


async def start_script(tmp_path: Path, source: str) -> tuple[asyncio.subprocess.Process, int]:
    port = free_port()
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(source.format(port=port)))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    banner = await asyncio.wait_for(proc.stdout.readline(), 20)
    assert banner.startswith(b"======== Running on http://"), banner
    assert (await asyncio.wait_for(proc.stdout.readline(), 5)) == b"(Press CTRL+C to quit)\n"
    return proc, port


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_hello_world_runs_and_stops(tmp_path: Path, sig: signal.Signals) -> None:
    proc, port = await start_script(tmp_path, HELLO)
    try:
        client = await RawClient.connect(port)
        await client.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        response, body = await client.response()
        assert response.status_code == 200 and body == b"Hello, world"
        client.close()
        proc.send_signal(sig)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_sigterm_finishes_in_flight_request(tmp_path: Path) -> None:
    proc, port = await start_script(tmp_path, SHUTDOWN_APP)
    assert proc.stdout is not None
    try:
        client = await RawClient.connect(port)
        await client.send(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n")
        # The request is accepted once its handler runs; only then stop the server.
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert line == b"handler started\n"
        proc.send_signal(signal.SIGTERM)
        # The shutdown has begun once on_shutdown ran; new connections are refused then.
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert line == b"on_shutdown\n"
        with pytest.raises(OSError):
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
        await client.send(b"body")
        response, body = await client.response("POST")
        assert response.status_code == 200 and body == b"got body"
        rest = await asyncio.wait_for(proc.stdout.read(), 20)
        assert rest.splitlines() == [b"handler done", b"on_cleanup"]
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_runner_cleanup_order_in_process(serve: Serve, raw: Any) -> None:
    events: list[str] = []
    entered = asyncio.Event()
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        entered.set()
        await release.wait()
        events.append("handler done")
        return web.Response(text="ok")

    async def on_shutdown(app: web.Application) -> None:
        events.append("on_shutdown")
        release.set()

    async def on_cleanup(app: web.Application) -> None:
        events.append("on_cleanup")

    app = web.Application()
    app.router.add_get("/", handler)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    client: RawClient = await raw(site.port)
    idle: RawClient = await raw(site.port)
    await client.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await entered.wait()
    cleanup = asyncio.ensure_future(runner.cleanup())
    response, body = await client.response()
    assert response.status_code == 200 and body == b"ok"
    await asyncio.wait_for(cleanup, 10)
    assert events == ["on_shutdown", "handler done", "on_cleanup"]
    assert await idle.closed_by_peer()


async def test_shutdown_timeout_cancels_stuck_handler(raw: Any) -> None:
    cancelled = asyncio.Event()
    entered = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        raise AssertionError("unreachable")

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    client: RawClient = await raw(site.port)
    await client.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await entered.wait()
    await asyncio.wait_for(runner.cleanup(), 10)
    assert cancelled.is_set()
    assert await client.closed_by_peer()


async def test_startup_failure_runs_cleanup_and_exits_nonzero(tmp_path: Path) -> None:
    script = tmp_path / "bad.py"
    script.write_text(
        textwrap.dedent(
            """
            from heron import web

            async def ctx(app):
                print("ctx start", flush=True)
                yield
                print("ctx end", flush=True)

            async def fail(app):
                raise RuntimeError("database is down")

            app = web.Application()
            app.cleanup_ctx.append(ctx)
            app.on_startup.append(fail)
            web.run_app(app, host="127.0.0.1", port=0)
            """
        )
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "database is down" in result.stderr
    assert result.stdout.splitlines() == ["ctx start", "ctx end"]
    assert "Running on" not in result.stdout
