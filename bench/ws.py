"""WebSocket echo benchmark: heron vs aiohttp, small text messages over 64 connections.

    python bench/ws.py                                  # both impls, compression off and on
    python bench/ws.py --impls heron --duration 5 --rounds 1
    python bench/ws.py --smoke                          # 1 round of 1 s: proves the harness

Each implementation serves the same echo handler (written against the aiohttp.web API) on
uvloop, pinned to CPU 0.  The load generator runs in its own process pinned to CPU 1: a raw
uvloop client that keeps ``--window`` messages in flight per connection, sends pre-built
masked frames (with ``client_no_context_takeover``, so one pre-compressed frame is valid for
every message) and only counts the echoed frames, so it needs far less CPU than the server
and is not the bottleneck (its CPU use is printed to prove it).  Reported: echoed messages
per second and the server's CPU time per message (medians over the rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
MESSAGE = b'{"type": "chat", "room": "lobby", "text": "hello, world"}'
IMPL_MODULES = {"heron": "heron.web", "aiohttp": "aiohttp.web"}


# ---------------------------------------------------------------------- helpers


def pin(cpu: int) -> None:
    """Pin this process to ``cpu`` when that CPU exists."""
    if cpu >= 0 and hasattr(os, "sched_setaffinity") and cpu in os.sched_getaffinity(0):
        os.sched_setaffinity(0, {cpu})


def use_uvloop() -> None:
    """Make new event loops uvloop ones when uvloop is installed."""
    try:
        import uvloop  # optional dependency
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------- server


def serve(impl: str, port: int, cpu: int) -> None:
    """Serve the echo app with ``impl``'s web module."""
    pin(cpu)
    use_uvloop()
    if impl == "heron":
        sys.path.insert(0, str(REPO_ROOT))
    import importlib

    web: Any = importlib.import_module(IMPL_MODULES[impl])
    if not hasattr(web, "WebSocketResponse"):  # heron.web before the facade exports it
        from heron._web.websocket import WebSocketResponse, WSMsgType

        web.WebSocketResponse, web.WSMsgType = WebSocketResponse, WSMsgType

    async def echo(request: Any) -> Any:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == web.WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type == web.WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/", echo)
    web.run_app(app, host=HOST, port=port, access_log=None, print=lambda *a: None)


# ---------------------------------------------------------------------- load generator


def _client_frame(compress: bool) -> bytes:
    payload = MESSAGE
    first = 0x81
    if compress:
        obj = zlib.compressobj(1, zlib.DEFLATED, -15)
        payload = (obj.compress(MESSAGE) + obj.flush(zlib.Z_SYNC_FLUSH))[:-4]
        first |= 0x40
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return bytes((first, 0x80 | len(payload))) + key + masked


class _LoadConn(asyncio.Protocol):
    """One connection: handshake, then keep ``window`` messages in flight."""

    def __init__(self, frame: bytes, window: int, compress: bool, stats: list[int]) -> None:
        self.frame = frame
        self.window = window
        self.compress = compress
        self.stats = stats
        self.buf = b""
        self.upgraded = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        ext = "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n"
        head = (
            f"GET / HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"{ext if self.compress else ''}\r\n"
        )
        transport.write(head.encode())  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            head = buf[:end]
            if not head.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(RuntimeError(head.decode("latin-1")))
                return
            if self.compress and b"permessage-deflate" not in head:
                self.ready.set_exception(RuntimeError("compression not negotiated"))
                return
            self.upgraded = True
            buf = buf[end + 4 :]
            self.ready.set_result(None)
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
        self.transport.write(self.frame * self.window)


async def _load(
    port: int, connections: int, window: int, compress: bool, seconds: float, warmup: float
) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    frame = _client_frame(compress)
    stats = [0]
    conns: list[_LoadConn] = []
    for _ in range(connections):
        _, conn = await loop.create_connection(
            lambda: _LoadConn(frame, window, compress, stats), HOST, port
        )
        conns.append(conn)
    await asyncio.wait_for(asyncio.gather(*(c.ready for c in conns)), 20)
    for conn in conns:
        conn.start()
    await asyncio.sleep(warmup)
    start_count, start_time, start_cpu = stats[0], time.perf_counter(), time.process_time()
    await asyncio.sleep(seconds)
    count, elapsed = stats[0] - start_count, time.perf_counter() - start_time
    cpu = time.process_time() - start_cpu
    for conn in conns:
        assert conn.transport is not None
        conn.transport.abort()
    return {"messages": count, "seconds": elapsed, "client_cpu": cpu}


def load(
    port: int,
    connections: int,
    window: int,
    compress: bool,
    seconds: float,
    warmup: float,
    cpu: int,
) -> None:
    """Run the load generator and print one JSON line of results."""
    pin(cpu)
    use_uvloop()
    result = asyncio.run(_load(port, connections, window, compress, seconds, warmup))
    print(json.dumps(result))


# ---------------------------------------------------------------------- orchestration


def _wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited early")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def run_once(impl: str, compress: bool, args: argparse.Namespace) -> dict[str, float]:
    """One measured run: fresh server, one load generator."""
    port = free_port()
    me = [sys.executable, str(Path(__file__).resolve())]
    server = subprocess.Popen(
        [*me, "serve", "--impl", impl, "--port", str(port), "--cpu", "0"],
        stderr=subprocess.DEVNULL,  # aborted connections at the end make handlers log
    )
    try:
        _wait_port(port, server)
        cmd = [
            *me,
            "load",
            "--port",
            str(port),
            "--connections",
            str(args.connections),
            "--window",
            str(args.window),
            "--duration",
            str(args.duration),
            "--warmup",
            str(args.warmup),
            "--cpu",
            "1",
        ]
        if compress:
            cmd.append("--compress")
        loader = subprocess.Popen(cmd, stdout=subprocess.PIPE)
        time.sleep(args.warmup + 0.5)
        server_cpu0 = cpu_seconds(server.pid)
        out, _ = loader.communicate(timeout=args.duration + args.warmup + 60)
        server_cpu = cpu_seconds(server.pid) - server_cpu0
        if loader.returncode:
            raise RuntimeError("load generator failed")
        result: dict[str, float] = json.loads(out)
        result["server_cpu"] = server_cpu
        return result
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run a subcommand (default: the comparison)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "command", nargs="?", default="compare", choices=["compare", "serve", "load"]
    )
    parser.add_argument("--impl", choices=list(IMPL_MODULES), default="heron")
    parser.add_argument("--impls", default="heron,aiohttp")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cpu", type=int, default=-1)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--window", type=int, default=4, help="messages in flight per connection")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compress", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="1 round of 1 s")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.impl, args.port, args.cpu)
        return 0
    if args.command == "load":
        load(
            args.port,
            args.connections,
            args.window,
            args.compress,
            args.duration,
            args.warmup,
            args.cpu,
        )
        return 0
    if args.smoke:
        args.rounds, args.duration, args.warmup = 1, 1.0, 0.5
    impls = [i.strip() for i in args.impls.split(",") if i.strip()]
    rows = []
    for compress in (False, True):
        results: dict[str, list[dict[str, float]]] = {impl: [] for impl in impls}
        for _ in range(args.rounds):
            for impl in impls:
                results[impl].append(run_once(impl, compress, args))
        for impl in impls:
            runs = results[impl]
            rate = statistics.median(r["messages"] / r["seconds"] for r in runs)
            us = statistics.median(1e6 * r["server_cpu"] / max(r["messages"], 1) for r in runs)
            load_cpu = statistics.median(r["client_cpu"] / r["seconds"] for r in runs)
            rows.append((compress, impl, rate, us, load_cpu))
    print(f"{'compress':<9}{'impl':<9}{'msg/s':>10}{'server µs/msg':>15}{'loader CPU':>12}")
    for compress, impl, rate, us, load_cpu in rows:
        print(f"{'on' if compress else 'off':<9}{impl:<9}{rate:>10.0f}{us:>15.1f}{load_cpu:>11.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
