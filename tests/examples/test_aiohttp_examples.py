"""Behaviours that aiohttp's own example programs rely on, checked with apps of our own.

aiohttp 3.14's examples (``examples/*.py`` in its source tree) were run unchanged but for
``from heron import web`` against heron and against aiohttp, endpoint by endpoint.  Where
heron differed, the behaviour is pinned here with a small app written for the test, served
over real sockets by a ``run_app`` process (the access log of a Unix-socket peer, from the
``-U PATH`` example, is pinned in ``tests/web/test_access_log_extra.py``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

import aiohttp

from ..engine.conftest import free_port

# A run_app program that logs nothing of its own: whatever reaches stderr comes from heron.
RUN_APP = """
from heron import web

async def hello(request):
    return web.Response(text="hi")

app = web.Application()
app.router.add_get("/", hello)
web.run_app(app, host="127.0.0.1", port={port})
"""


async def _run_once(tmp_path: Path, *, debug: bool) -> bytes:
    """Start RUN_APP, make one request, stop it with SIGINT; return its stderr."""
    port = free_port()
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
