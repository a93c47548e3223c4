"""Real programs for the deployment tests: gunicorn, nginx and heron processes started on
free ports, polled (with a deadline) until they answer, and stopped after each test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from heron import web

ROOT = Path(__file__).resolve().parents[2]
POLLS_DIR = ROOT / "examples" / "polls"
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(check: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    """Poll ``check`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.02)


async def until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    """``wait_until`` for code inside an event loop (the loop keeps running meanwhile)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, f"timed out waiting for {check}"
        await asyncio.sleep(0.01)


def accepts(address: tuple[str, int] | str) -> bool:
    """True once something accepts connections at ``address`` (TCP or a Unix socket path)."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(address)
        except OSError:
            return False
        return True


def children(pid: int) -> list[int]:
    """The process ids of ``pid``'s children (Linux /proc)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found.extend(int(p) for p in f.read().split())
    return found


class Processes:
    """Processes a test starts; each is killed (with its own id) at the end if still running."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, args: list[str], *, name: str, cwd: Path | None = None, **env: str) -> Any:
        log = self.tmp_path / f"{name}.log"
        out = log.open("wb")
        proc = subprocess.Popen(
            args,
            cwd=cwd or self.tmp_path,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()
        self.started.append((proc, log))
        return proc

    def log_of(self, proc: subprocess.Popen[bytes]) -> str:
        for started, log in self.started:
            if started is proc:
                return log.read_text(errors="replace")
        return ""

    def stop_all(self) -> None:
        """TERM each process (nginx and gunicorn then stop their own workers), wait, then
        KILL whatever is left of it and of the children it had."""
        for proc, _ in reversed(self.started):
            if proc.poll() is not None:
                continue
            family = descendants(proc.pid)
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
            for pid in family:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children...)."""
    found = children(pid)
    for child in list(found):
        found.extend(descendants(child))
    return found


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    try:
        yield procs
    finally:
        procs.stop_all()


ServeApp = Callable[..., Awaitable[int]]


@pytest.fixture
async def serve_app() -> AsyncIterator[ServeApp]:
    """``port = await serve_app(app, **server_options)``: the app on 127.0.0.1 in this
    process, cleaned up at teardown."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application, **kwargs: Any) -> int:
        runner = web.AppRunner(app, access_log=None, **kwargs)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return site.port

    yield start
    for runner in runners:
        await runner.cleanup()
