"""WebSocket echo benchmark: heron vs aiohttp, small text messages over 64 connections.

    python bench/ws.py                                  # both impls, compression off and on
    python bench/ws.py --impls heron --duration 5 --rounds 1
    python bench/ws.py --smoke                          # 1 round of 1 s: proves the harness

``bench/run.py`` runs the same measurement as its ``ws`` and ``ws-deflate`` scenarios (with the
wrk scenarios, in one run); this script is the standalone version.

Each implementation serves the benchmark app's ``GET /ws`` echo handler (``app.py``, written
against the aiohttp.web API) through ``serve.py``: uvloop, pinned to CPU 0.  The load generator
(``python bench/ws.py load ...``) runs in its own process pinned to CPU 1: a raw uvloop client
that keeps ``--window`` messages in flight per connection, sends pre-built masked frames (with
``client_no_context_takeover``, so one pre-compressed frame is valid for every message) and only
counts the echoed frames, so it needs far less CPU than the server and is not the bottleneck
(its CPU use is printed to prove it).  It reports on stdout, one JSON line per event: ``start``
when the measured window opens (the parent then reads the server's CPU time) and ``result`` when
it closes.  Reported: echoed messages per second and the server's CPU time per message.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import socket
import statistics
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

from app import WS_PATH
from process import (
    HOST,
    ClientProcess,
    ServerError,
    ServerProcess,
    process_cpu_seconds,
    report_line,
)
from serve import install_uvloop, pin_to_cpu

WS_SCRIPT = Path(__file__).resolve()
MESSAGE = b'{"type": "chat", "room": "lobby", "text": "hello, world"}'
IMPLS = ("heron", "aiohttp")
DEFLATE_OFFER = "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n"
CLOSE_NORMAL = b"\x03\xe8"  # status 1000
#: Bound on the load generator's connection set-up (64 handshakes take milliseconds).
CONNECT_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class LoadSpec:
    """How to load the echo endpoint."""

    connections: int = 64
    window: int = 4  # messages in flight per connection
    duration_s: float = 10.0
    warmup_s: float = 2.0
    compress: bool = False
    cpu: int = -1  # the load generator's CPU; -1: not pinned
    path: str = WS_PATH


@dataclass
class WsResult:
    """One measured load run."""

    messages: int
    seconds: float
    client_cpu_s: float  # the load generator's own CPU time during the window
    server_cpu_s: float | None = None  # the server's CPU time during the window

    @property
    def rate(self) -> float:
        """Echoed messages per second."""
        return self.messages / self.seconds if self.seconds else 0.0

    @property
    def cpu_us_per_msg(self) -> float | None:
        """Server CPU time per echoed message, in µs."""
        if self.server_cpu_s is None or not self.messages:
            return None
        return 1e6 * self.server_cpu_s / self.messages


# ---------------------------------------------------------------------- frames


def handshake(path: str, compress: bool) -> bytes:
    """The client's opening handshake (offering permessage-deflate when ``compress``)."""
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"{DEFLATE_OFFER if compress else ''}\r\n"
    ).encode()


def client_frame(payload: bytes, compress: bool, opcode: int = 0x1) -> bytes:
    """One masked client frame (FIN set; RSV1 and raw-deflated payload when ``compress``)."""
    first = 0x80 | opcode
    if compress:
        obj = zlib.compressobj(1, zlib.DEFLATED, -15)
        payload = (obj.compress(payload) + obj.flush(zlib.Z_SYNC_FLUSH))[:-4]
        first |= 0x40
    if len(payload) >= 126:
        raise ValueError("client_frame only builds frames with payloads under 126 bytes")
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes((first, 0x80 | len(payload))) + key + masked


def _recv_until(sock: socket.socket, buf: bytes, size: int) -> bytes:
    while len(buf) < size:
        chunk = sock.recv(65536)
        if not chunk:
            raise ServerError(f"WebSocket pre-flight: connection closed after {len(buf)} bytes")
        buf += chunk
    return buf


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """Read the handshake response head; return (head, bytes after it)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf = _recv_until(sock, buf, len(buf) + 1)
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def _read_frame(sock: socket.socket, buf: bytes) -> tuple[int, bytes]:
    """Read one unmasked server frame; return (its first byte, its payload)."""
    buf = _recv_until(sock, buf, 2)
    length, pos = buf[1] & 0x7F, 2
    if length == 126:
        buf = _recv_until(sock, buf, 4)
        length, pos = int.from_bytes(buf[2:4], "big"), 4
    elif length == 127:
        raise ServerError("WebSocket pre-flight: unexpected 64-bit frame length")
    buf = _recv_until(sock, buf, pos + length)
    return buf[0], buf[pos : pos + length]


def preflight(port: int, path: str, compress: bool, timeout_s: float = 5.0) -> None:
    """Handshake, send one message, check the echo (and the deflate negotiation), close."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout_s) as sock:
            sock.sendall(handshake(path, compress))
            head, rest = _read_head(sock)
            if not head.startswith(b"HTTP/1.1 101"):
                raise ServerError(f"WebSocket pre-flight: {head.splitlines()[0]!r}, want 101")
            if compress and b"permessage-deflate" not in head.lower():
                raise ServerError("WebSocket pre-flight: permessage-deflate not negotiated")
            sock.sendall(client_frame(MESSAGE, compress=False))
            first, payload = _read_frame(sock, rest)
            if first & 0x40:  # RSV1: a compressed message
                payload = zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff")
            if first & 0x0F != 0x1 or payload != MESSAGE:
                raise ServerError(f"WebSocket pre-flight: echo {payload[:60]!r}, want {MESSAGE!r}")
            sock.sendall(client_frame(CLOSE_NORMAL, compress=False, opcode=0x8))
    except OSError as exc:
        raise ServerError(f"WebSocket pre-flight: {type(exc).__name__}: {exc}") from exc


# ---------------------------------------------------------------------- load generator


class _LoadConn(asyncio.Protocol):
    """One connection: handshake, then keep ``window`` messages in flight."""

    def __init__(self, frame: bytes, spec: LoadSpec, stats: list[int]) -> None:
        self.frame = frame
        self.spec = spec
        self.stats = stats
        self.buf = b""
        self.upgraded = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(handshake(self.spec.path, self.spec.compress))  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed during the handshake: {exc}"))

    def _upgrade(self, buf: bytes) -> bytes | None:
        """Consume the handshake response; return what follows it (None: incomplete)."""
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = buf[:end]
        if not head.startswith(b"HTTP/1.1 101"):
            self.ready.set_exception(RuntimeError(head.decode("latin-1")))
        elif self.spec.compress and b"permessage-deflate" not in head.lower():
            self.ready.set_exception(RuntimeError("compression not negotiated"))
        else:
            self.upgraded = True
            self.ready.set_result(None)
        return buf[end + 4 :]

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data
        if not self.upgraded:
            rest = self._upgrade(buf)
            if rest is None or not self.upgraded:
                self.buf = buf if rest is None else b""
                return
            buf = rest
        # PERF: count whole server frames (unmasked, < 126 bytes) without decoding them.
        pos = 0
        n = 0
        size = len(buf)
        while size - pos >= 2:
            length = buf[pos + 1] & 0x7F
            if length >= 126:
                raise RuntimeError("unexpected large frame")
            if size - pos < 2 + length:
                break
            pos += 2 + length
            n += 1
        self.buf = buf[pos:]
        if n:
            self.stats[0] += n
            assert self.transport is not None
            self.transport.write(self.frame * n)

    def start(self) -> None:
        assert self.transport is not None
        self.transport.write(self.frame * self.spec.window)


async def _connect_all(port: int, spec: LoadSpec, stats: list[int]) -> list[_LoadConn]:
    loop = asyncio.get_running_loop()
    frame = client_frame(MESSAGE, spec.compress)
    conns: list[_LoadConn] = []
    for _ in range(spec.connections):
        _, conn = await loop.create_connection(lambda: _LoadConn(frame, spec, stats), HOST, port)
        conns.append(conn)
    await asyncio.gather(*(c.ready for c in conns))
    return conns


async def _load(port: int, spec: LoadSpec) -> None:
    stats = [0]
    conns = await asyncio.wait_for(_connect_all(port, spec, stats), CONNECT_TIMEOUT_S)
    for conn in conns:
        conn.start()
    await asyncio.sleep(spec.warmup_s)
    start_count, start_time, start_cpu = stats[0], time.perf_counter(), time.process_time()
    report_line("start")
    await asyncio.sleep(spec.duration_s)
    count, elapsed = stats[0] - start_count, time.perf_counter() - start_time
    cpu = time.process_time() - start_cpu
    report_line("result", messages=count, seconds=elapsed, client_cpu_s=cpu)
    for conn in conns:
        assert conn.transport is not None
        conn.transport.abort()


def load(port: int, spec: LoadSpec) -> None:
    """Child side: run the load generator, reporting ``start`` and ``result`` on stdout."""
    pin_to_cpu(spec.cpu)
    install_uvloop()
    asyncio.run(_load(port, spec))


def _load_argv(python: str, port: int, spec: LoadSpec) -> list[str]:
    argv = [python, str(WS_SCRIPT), "load", "--port", str(port), "--cpu", str(spec.cpu)]
    argv += ["--connections", str(spec.connections), "--window", str(spec.window)]
    argv += ["--duration", str(spec.duration_s), "--warmup", str(spec.warmup_s)]
    argv += ["--path", spec.path]
    return [*argv, "--compress"] if spec.compress else argv


# ---------------------------------------------------------------------- measuring


def measure_echo(
    port: int, server_pid: int | None, spec: LoadSpec, python: str, log_path: Path
) -> WsResult:
    """Check the echo once, then run the load generator against it; sample the server's CPU.

    The server's CPU time is read when the generator reports the start and the end of its
    measured window, so both figures cover the same interval.
    """
    preflight(port, spec.path, spec.compress)
    with ClientProcess(_load_argv(python, port, spec), log_path) as loader:
        loader.expect("start", CONNECT_TIMEOUT_S + spec.warmup_s + 10)
        cpu_before = process_cpu_seconds(server_pid)
        report = loader.expect("result", spec.duration_s + 30)
        cpu_after = process_cpu_seconds(server_pid)
        loader.wait(10)
    result = WsResult(report["messages"], report["seconds"], report["client_cpu_s"])
    if cpu_before is not None and cpu_after is not None:
        result.server_cpu_s = cpu_after - cpu_before
    if not result.messages:
        raise ServerError("WebSocket load: no message echoed during the measured window")
    return result


def run_once(
    impl: str,
    spec: LoadSpec,
    log_dir: Path,
    *,
    python: str = sys.executable,
    server_cpu: int = 0,
    ready_timeout_s: float = 20.0,
    tag: str = "",
) -> WsResult:
    """One measured run: a fresh ``serve.py`` server, one load generator; stops both."""
    server_log = log_dir / f"ws{tag}-{impl}-server.log"
    with ServerProcess(impl, [], server_log, python, server_cpu) as server:
        server.wait_ready(ready_timeout_s)
        result = measure_echo(server.port, server.pid, spec, python, log_dir / f"ws{tag}.log")
        server.check_alive()
        return result


# ---------------------------------------------------------------------- standalone


def _compare(args: argparse.Namespace) -> int:
    """Both implementations, compression off and on, rounds alternating; print a table."""
    impls = [i.strip() for i in args.impls.split(",") if i.strip()]
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    pinned = args.cpu >= 0 and {0, 1} <= cpus
    rows = []
    with tempfile.TemporaryDirectory(prefix="heron-ws-bench-") as log_dir:
        for compress in (False, True):
            spec = LoadSpec(args.connections, args.window, args.duration, args.warmup, compress)
            spec = replace(spec, cpu=1 if pinned else -1)
            runs: dict[str, list[WsResult]] = {impl: [] for impl in impls}
            for rnd in range(args.rounds):
                for impl in impls:
                    cpu = 0 if pinned else -1
                    result = run_once(impl, spec, Path(log_dir), server_cpu=cpu, tag=f"-{rnd}")
                    runs[impl].append(result)
            rows += [_row(compress, impl, runs[impl]) for impl in impls]
    print(f"{'compress':<9}{'impl':<9}{'msg/s':>10}{'server µs/msg':>15}{'loader CPU':>12}")
    for compress, impl, rate, us, load_cpu in rows:
        print(f"{'on' if compress else 'off':<9}{impl:<9}{rate:>10.0f}{us:>15.1f}{load_cpu:>11.0%}")
    return 0


def _row(compress: bool, impl: str, runs: list[WsResult]) -> tuple[bool, str, float, float, float]:
    """Medians of one implementation's runs: (compress, impl, msg/s, µs/msg, loader CPU)."""
    rate = statistics.median(r.rate for r in runs)
    us = statistics.median(r.cpu_us_per_msg or 0.0 for r in runs)
    load_cpu = statistics.median(r.client_cpu_s / r.seconds for r in runs)
    return compress, impl, rate, us, load_cpu


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "command", nargs="?", default="compare", choices=["compare", "serve", "load"]
    )
    parser.add_argument("--impl", choices=IMPLS, default="heron", help="serve: which one")
    parser.add_argument("--impls", default=",".join(IMPLS))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cpu", type=int, default=0, help="server CPU (load: its CPU); -1: none")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--window", type=int, default=4, help="messages in flight per connection")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compress", action="store_true")
    parser.add_argument("--path", default=WS_PATH)
    parser.add_argument("--smoke", action="store_true", help="1 round of 1 s")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand (default: the comparison)."""
    args = parse_args(argv)
    if args.command == "serve":  # the benchmark app, as bench/run.py serves it
        import serve

        serve.main(["--impl", args.impl, "--port", str(args.port), "--cpu", str(args.cpu)])
        return 0
    if args.command == "load":
        spec = LoadSpec(
            args.connections,
            args.window,
            args.duration,
            args.warmup,
            args.compress,
            args.cpu,
            args.path,
        )
        load(args.port, spec)
        return 0
    if args.smoke:
        args.rounds, args.duration, args.warmup = 1, 1.0, 0.5
    try:
        return _compare(args)
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
