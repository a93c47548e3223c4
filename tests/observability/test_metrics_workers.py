"""Metrics summed across worker processes (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import asyncio
import collections
import os
import sys
import textwrap
from pathlib import Path

import pytest

from heron.client import ClientSession

from ..engine.conftest import free_port
from .probes import assert_summed, scrape

APP = """
import os
from heron import web
from heron.observability import metrics

async def pid(request):
    return web.Response(text=str(os.getpid()))

def init(argv=None):
    app = web.Application()
    app.router.add_get("/pid", pid)
    metrics.setup(app)
    return app

if __name__ == "__main__":
    web.run_app(init(), host="127.0.0.1", port={port}, reuse_port=True, access_log=None)
"""

REQUESTS = 1000
CONNECTIONS = 40


async def spread_requests(port: int) -> collections.Counter[str]:
    """REQUESTS GETs of /pid over CONNECTIONS connections at once; which pid answered each."""
    pids: collections.Counter[str] = collections.Counter()

    async def one_connection(count: int) -> None:
        # Each session has its own connection: the kernel spreads connections, not requests.
        async with ClientSession(f"http://127.0.0.1:{port}") as session:
            for _ in range(count):
                async with session.get("/pid") as response:
                    assert response.status == 200
                    pids[await response.text()] += 1

    per = REQUESTS // CONNECTIONS
    await asyncio.gather(*(one_connection(per) for _ in range(CONNECTIONS)))
    return pids


async def wait_listening(port: int, procs: list[asyncio.subprocess.Process]) -> None:
    for proc in procs:
        assert proc.stdout is not None
        banner = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert banner.startswith(b"======== Running on"), banner


@pytest.mark.slow
async def test_two_reuse_port_processes_sum_exactly(tmp_path: Path) -> None:
    """Two run_app processes sharing a port (no supervisor) sum their numbers too."""
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    port = free_port()
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(APP.format(port=port)))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        for _ in range(2)
    ]
    try:
        await wait_listening(port, procs)
        pids = await spread_requests(port)
        assert sum(pids.values()) == REQUESTS
        assert len(pids) == 2, pids  # both processes served
        assert_summed(await scrape(port), REQUESTS)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
