"""Memory per idle connection: the server's RSS while a client holds N idle connections.

    python bench/memory.py --port P --path /plaintext --connections 10000 [--cpu 1]
    python bench/memory.py --port P --path /ws --websocket --connections 1000

This file is the *client* of ``bench/run.py``'s ``mem-http`` and ``mem-ws`` scenarios, run in
its own process, plus the parent-side ``measure_idle`` that drives it. The client raises its
open-file limit, opens ``--connections`` connections with raw asyncio (uvloop) protocols, at
most ``--concurrency`` being set up at once, and on each one either sends one
``GET`` and reads the whole response (HTTP keep-alive: the connection then stays open, idle)
or completes the WebSocket handshake (101; no message follows). Then it prints one JSON line,
``{"event": "ready", ...}``, and holds them until a line (or EOF) arrives on stdin, bounded by
``--hold-timeout``; it then reports how many connections the server closed meanwhile
(``{"event": "done", "closed_early": k}``) and exits.

``measure_idle`` samples the server's ``VmRSS`` after start-up and one warm-up request
(baseline), starts the client, waits for its ``ready`` line (no sleeps to synchronise), samples
``VmRSS`` a few times over about a second and keeps the maximum (held), counts the server's
open file descriptors, releases the client and checks that no connection was closed early.
Per-connection cost = (held - baseline) / N.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from process import (
    HOST,
    ClientProcess,
    ServerError,
    ServerProcess,
    nofile_limit,
    open_fds,
    report_line,
    rss_kib,
)
from serve import install_uvloop, pin_to_cpu, raise_nofile_limit
from ws import handshake

MEMORY_SCRIPT = Path(__file__).resolve()
#: Descriptors a server needs besides the held connections (listening socket, stdio, epoll...).
FD_MARGIN = 64
#: Connections being set up at once: keeps the accept backlog (somaxconn) from overflowing.
CONCURRENCY = 256
#: The RSS samples taken while the connections are held, and the time between them.
HELD_SAMPLES = 5
SAMPLE_INTERVAL_S = 0.25


@dataclass
class MemoryResult:
    """The server's resident memory without and with ``connections`` idle connections."""

    connections: int
    baseline_kib: int
    held_kib: int
    samples_kib: list[int] = field(default_factory=list)
    server_fds: int | None = None  # descriptors the server had open while they were held
    setup_s: float = 0.0  # how long the client took to open them all

    @property
    def per_conn_kib(self) -> float:
        """(held - baseline) / connections, in KiB."""
        return (self.held_kib - self.baseline_kib) / self.connections


# ---------------------------------------------------------------------- client (child)


class _Held(asyncio.Protocol):
    """One connection: send ``request``, wait for the whole answer, then stay open and idle."""

    def __init__(self, request: bytes, websocket: bool, closed: list[int]) -> None:
        self.request = request
        self.websocket = websocket
        self.closed = closed
        self.buf = b""
        self.need: int | None = None  # total bytes of the HTTP response, once the head is in
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(ConnectionError(f"closed before the answer: {exc}"))
        else:
            self.closed[0] += 1

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return  # nothing is expected on an idle connection; ignore it
        self.buf += data
        if self.need is None and not self._parse_head():
            return
        if self.need is not None and len(self.buf) >= self.need:
            self.done.set_result(None)
            self.buf = b""

    def _parse_head(self) -> bool:
        """Check the status line; set ``need``. False while the head is incomplete."""
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = self.buf[:end].decode("latin-1")
        want = "101" if self.websocket else "200"
        if head.split(" ", 2)[1:2] != [want]:
            self.done.set_exception(RuntimeError(f"want {want}, got {head.splitlines()[0]!r}"))
            return False
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        self.need = end + 4 + (0 if self.websocket else length)
        return True


def _request(path: str, websocket: bool) -> bytes:
    if websocket:
        return handshake(path, compress=False)
    return f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()


async def _open(
    port: int, request: bytes, websocket: bool, closed: list[int], sem: asyncio.Semaphore
) -> _Held:
    loop = asyncio.get_running_loop()
    async with sem:
        _, held = await loop.create_connection(
            lambda: _Held(request, websocket, closed), HOST, port
        )
        await held.done
    return held


async def _wait_for_release(timeout_s: float) -> None:
    """Return when a line or EOF arrives on stdin, or after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        await asyncio.wait_for(reader.readline(), timeout_s)
    except asyncio.TimeoutError:
        print(f"hold: not released within {timeout_s:.0f}s; closing", file=sys.stderr)


async def _hold(args: argparse.Namespace) -> None:
    request = _request(args.path, args.websocket)
    closed = [0]
    sem = asyncio.Semaphore(args.concurrency)
    started = time.perf_counter()
    opening = (
        _open(args.port, request, args.websocket, closed, sem) for _ in range(args.connections)
    )
    held = await asyncio.wait_for(asyncio.gather(*opening), args.setup_timeout)
    report_line("ready", connections=len(held), setup_s=time.perf_counter() - started)
    await _wait_for_release(args.hold_timeout)
    report_line("done", closed_early=closed[0])
    for conn in held:
        assert conn.transport is not None
        conn.transport.abort()


def hold(args: argparse.Namespace) -> None:
    """Child side: open and hold the connections (see the module docstring)."""
    pin_to_cpu(args.cpu)
    limit = raise_nofile_limit()
    if limit < args.connections + FD_MARGIN:
        raise SystemExit(
            f"hold: RLIMIT_NOFILE {limit} < {args.connections} connections + {FD_MARGIN}; "
            "raise the hard limit (ulimit -Hn)"
        )
    install_uvloop()
    asyncio.run(_hold(args))


# ---------------------------------------------------------------------- parent side


def setup_timeout(connections: int) -> float:
    """The bound on opening ``connections`` connections (generous: ~1 ms each, plus 30 s)."""
    return 30.0 + connections / 1000.0


def hold_argv(
    python: str, port: int, path: str, websocket: bool, connections: int, cpu: int
) -> list[str]:
    """The command line of a client holding ``connections`` idle connections."""
    argv = [python, str(MEMORY_SCRIPT), "--port", str(port), "--path", path]
    argv += ["--connections", str(connections), "--cpu", str(cpu)]
    return [*argv, "--websocket"] if websocket else argv


def sample_rss(pid: int | None, samples: int, interval_s: float) -> list[int]:
    """``samples`` readings of the server's VmRSS (KiB), ``interval_s`` apart."""
    readings = []
    for i in range(samples):
        if i:
            time.sleep(interval_s)
        kib = rss_kib(pid)
        if kib is None:
            raise ServerError(f"cannot read VmRSS of pid {pid} (not Linux, or the server died)")
        readings.append(kib)
    return readings


def check_fd_limit(pid: int | None, connections: int) -> None:
    """Pre-flight: the server may open ``connections`` more descriptors."""
    limit = nofile_limit(pid)
    if limit is not None and limit < connections + FD_MARGIN:
        raise ServerError(
            f"server RLIMIT_NOFILE is {limit}, too low for {connections} connections "
            f"(+{FD_MARGIN}); raise the hard limit (ulimit -Hn)"
        )


def measure_idle(
    server: ServerProcess,
    path: str,
    websocket: bool,
    connections: int,
    *,
    python: str = sys.executable,
    client_cpu: int = -1,
    log_path: Path,
) -> MemoryResult:
    """Baseline RSS, then RSS while a client holds ``connections`` idle ones (see above).

    The server must be listening and already have answered one warm-up request.
    """
    check_fd_limit(server.pid, connections)
    baseline = max(sample_rss(server.pid, 3, 0.1))
    argv = hold_argv(python, server.port, path, websocket, connections, client_cpu)
    with ClientProcess(argv, log_path) as client:
        ready = client.expect("ready", setup_timeout(connections) + 10)
        samples = sample_rss(server.pid, HELD_SAMPLES, SAMPLE_INTERVAL_S)
        fds = open_fds(server.pid)
        client.send("release")
        done = client.expect("done", 30)
        client.wait(30)
    server.check_alive()
    if done["closed_early"]:
        raise ServerError(f"the server closed {done['closed_early']} idle connections early")
    return MemoryResult(connections, baseline, max(samples), samples, fds, ready["setup_s"])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the client's command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/plaintext")
    parser.add_argument("--websocket", action="store_true", help="handshake instead of GET")
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--cpu", type=int, default=-1, help="CPU to pin to; -1: no pinning")
    parser.add_argument("--setup-timeout", type=float, help="default: 30 s + 1 ms/connection")
    parser.add_argument("--hold-timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    if args.setup_timeout is None:
        args.setup_timeout = setup_timeout(args.connections)
    return args


if __name__ == "__main__":
    hold(parse_args())
