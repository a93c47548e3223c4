"""10,000 concurrent keep-alive connections on one run_app process (slow: ~1 minute)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ..engine.test_run_app import free_port
from .conftest import RawClient, raise_nofile

COUNT = 10_000

APP = """
import resource
from heron import web

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, {count} + 2000), hard))

async def hello(request):
    return web.Response(text="Hello, world")

app = web.Application()
app.router.add_get("/", hello)
web.run_app(app, host="127.0.0.1", port={port}, access_log=None, backlog=4096,
            print=lambda *a: print(*a, flush=True))
"""


@pytest.mark.slow
async def test_ten_thousand_keepalive_connections(tmp_path: Path) -> None:
    if raise_nofile(COUNT + 2000) < COUNT + 1000:
        pytest.skip("the open-file limit cannot be raised enough here")
    port = free_port()
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(APP.format(port=port, count=COUNT)))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    clients: list[RawClient] = []
    try:
        assert (await asyncio.wait_for(proc.stdout.readline(), 20)).startswith(b"========")

        async def one() -> RawClient:
            client = await RawClient.connect(port)
            await client.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            response, body = await client.response()
            assert response.status_code == 200 and body == b"Hello, world"
            return client

        for _ in range(0, COUNT, 500):
            clients += await asyncio.wait_for(asyncio.gather(*(one() for _ in range(500))), 60)
        fds = len(os.listdir(f"/proc/{proc.pid}/fd"))
        assert fds >= COUNT, fds
        # All 10,000 open and kept alive: a new client is answered promptly...
        t0 = time.monotonic()
        fresh = await one()
        latency = time.monotonic() - t0
        fresh.close()
        assert latency < 1.0, latency
        # ...and so is each of the old ones, again, on its kept connection.
        for client in clients[:: COUNT // 100]:
            await client.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            response, _ = await client.response()
            assert response.status_code == 200
        print(f"10k keep-alive: server fds {fds}, new-client latency {latency * 1000:.1f} ms")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    finally:
        for client in clients:
            client.close()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
