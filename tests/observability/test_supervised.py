"""Health and metrics under ``python -m heron.web module:init --workers 2``."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ..engine.conftest import free_port
from .probes import assert_summed, loop_name, scrape, status_of
from .test_metrics_workers import REQUESTS, spread_requests

APP = """
import os
from heron import web
from heron.observability import health, metrics

async def pid(request):
    return web.Response(text=str(os.getpid()))

def init(argv):
    app = web.Application()
    app.router.add_get("/pid", pid)
    metrics.setup(app)
    health.setup(app, drain_delay=2.0)
    return app
"""


@pytest.fixture
async def supervisor(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """A supervisor with 2 workers of APP (on the test's kind of loop), PROMETHEUS_MULTIPROC_DIR
    set, both workers ready."""
    (tmp_path / "observed_app.py").write_text(textwrap.dedent(APP))
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "heron.web", "observed_app:init", "--workers", "2"),
        *("-H", "127.0.0.1", "-P", str(port), "--log-level", "info", "--loop", loop_name(loop)),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    both_ready = asyncio.Event()

    async def read_log() -> None:
        # Until both workers said they are ready; then keep the pipe drained (access log).
        assert proc.stderr is not None
        ready = 0
        async for line in proc.stderr:
            if b"heron.supervisor:worker" in line and line.rstrip().endswith(b" ready"):
                ready += 1
                if ready == 2:
                    both_ready.set()

    reader = asyncio.ensure_future(read_log())
    try:
        await asyncio.wait_for(both_ready.wait(), 30)
        assert await status_of(port, "/readyz") == 200
        yield proc, port
    finally:
        reader.cancel()
        if proc.returncode is None:
            proc.send_signal(signal.SIGQUIT)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()


async def test_thousand_requests_over_two_workers_read_thousand(
    supervisor: tuple[asyncio.subprocess.Process, int],
) -> None:
    _, port = supervisor
    pids = await spread_requests(port)
    assert sum(pids.values()) == REQUESTS
    assert len(pids) == 2, pids  # both workers served
    assert_summed(await scrape(port), REQUESTS)


async def test_sigterm_drains_every_worker(
    supervisor: tuple[asyncio.subprocess.Process, int],
) -> None:
    proc, port = supervisor
    proc.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    deadline = signalled + 20
    # Both workers turn not-ready while still accepting: four 503s in a row, on new
    # connections spread over both workers' sockets.
    in_a_row = 0
    while in_a_row < 4:
        in_a_row = in_a_row + 1 if await status_of(port, "/readyz") == 503 else 0
        assert time.monotonic() < deadline, "/readyz never turned 503"
    assert time.monotonic() - signalled < 2.0
    while True:
        try:
            await status_of(port, "/readyz")
        except (OSError, asyncio.TimeoutError, IndexError, ValueError):
            break
        assert time.monotonic() < deadline, "the workers never stopped"
        await asyncio.sleep(0.02)
    assert time.monotonic() - signalled >= 2.0
    assert await asyncio.wait_for(proc.wait(), 20) == 0
