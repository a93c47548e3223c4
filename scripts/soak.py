"""Soak test: mixed traffic against a run_app server; its RSS and open fds must stay flat.

Usage::

    .venv/bin/python scripts/soak.py --duration 600     # the full 10 minutes (make soak)
    .venv/bin/python scripts/soak.py --duration 30      # a quick look

The server is a ``web.run_app`` subprocess on 127.0.0.1 (so its memory and file
descriptors are measured alone, from ``/proc``); the traffic comes from aiohttp's
client in this process: keep-alive GETs and JSON POSTs, multipart uploads (half of
them large enough to be spooled to a temporary file), and WebSocket sessions
(connect, echo a few messages, close).  Every ``--interval`` seconds the server's
RSS and open-fd count are sampled.  After the warm-up (the first ``--warmup``
fraction of the run) the samples are split in two halves: the script fails when
the later half's peak exceeds the earlier half's peak by more than ``--rss-slack``
(RSS, MiB and 5 %) or ``--fd-slack`` (fds), when any request fails, or when the
server does not exit cleanly on SIGTERM.  Exit status 0 means flat.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import statistics
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field

import aiohttp

SERVER = """
import os, sys
from heron import web
from heron._web import websocket as _ws  # until heron.web exports the WebSocket names

WebSocketResponse = getattr(web, "WebSocketResponse", _ws.WebSocketResponse)
WSMsgType = getattr(web, "WSMsgType", _ws.WSMsgType)

async def hello(request):
    return web.Response(text="Hello, world")

async def echo_json(request):
    data = await request.json()
    return web.json_response({"n": data["n"] + 1})

async def upload(request):
    form = await request.post()
    f = form["file"]
    size = len(f.file.read())
    return web.json_response({"size": size, "name": f.filename})

async def ws(request):
    sock = WebSocketResponse()
    await sock.prepare(request)
    async for msg in sock:
        if msg.type == WSMsgType.TEXT:
            await sock.send_str(msg.data)
        elif msg.type == WSMsgType.BINARY:
            await sock.send_bytes(msg.data)
    return sock

app = web.Application(client_max_size=4 * 1024 * 1024)
app.router.add_get("/", hello)
app.router.add_post("/json", echo_json)
app.router.add_post("/upload", upload)
app.router.add_get("/ws", ws)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None,
            shutdown_timeout=5, keepalive_timeout=30)
"""


@dataclass
class Stats:
    ok: dict[str, int] = field(default_factory=lambda: {"get": 0, "json": 0, "upload": 0, "ws": 0})
    errors: list[str] = field(default_factory=list)
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (t, rss KiB, fds)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def http_worker(base: str, stop: float, stats: Stats) -> None:
    async with aiohttp.ClientSession() as session:  # one keep-alive pool per worker
        n = 0
        while time.monotonic() < stop:
            n += 1
            try:
                if n % 2:
                    async with session.get(base + "/") as r:
                        body = await r.read()
                        assert r.status == 200 and body == b"Hello, world", (r.status, body)
                        stats.ok["get"] += 1
                else:
                    async with session.post(base + "/json", json={"n": n}) as r:
                        assert r.status == 200, r.status
                        assert (await r.json()) == {"n": n + 1}
                        stats.ok["json"] += 1
            except Exception as exc:
                stats.errors.append(f"http: {exc!r}")


async def upload_worker(base: str, stop: float, stats: Stats) -> None:
    small = os.urandom(10_000)
    large = os.urandom(300_000)  # above the 64 KiB spool threshold: goes to a temp file
    async with aiohttp.ClientSession() as session:
        n = 0
        while time.monotonic() < stop:
            n += 1
            payload = large if n % 2 else small
            form = aiohttp.FormData()
            form.add_field("file", payload, filename=f"f{n}.bin")
            form.add_field("note", "soak")
            try:
                async with session.post(base + "/upload", data=form) as r:
                    assert r.status == 200, r.status
                    assert (await r.json()) == {"size": len(payload), "name": f"f{n}.bin"}
                    stats.ok["upload"] += 1
            except Exception as exc:
                stats.errors.append(f"upload: {exc!r}")


async def ws_worker(base: str, stop: float, stats: Stats) -> None:
    async with aiohttp.ClientSession() as session:
        n = 0
        while time.monotonic() < stop:
            n += 1
            try:
                async with session.ws_connect(base + "/ws") as sock:
                    for i in range(10):
                        await sock.send_str(f"m{n}.{i}")
                        assert (await sock.receive_str(timeout=10)) == f"m{n}.{i}"
                    await sock.send_bytes(b"\x00" * 4096)
                    assert (await sock.receive_bytes(timeout=10)) == b"\x00" * 4096
                stats.ok["ws"] += 1
            except Exception as exc:
                stats.errors.append(f"ws: {exc!r}")


async def sampler(pid: int, start: float, stop: float, interval: float, stats: Stats) -> None:
    while time.monotonic() < stop:
        stats.samples.append((time.monotonic() - start, rss_kib(pid), fd_count(pid)))
        await asyncio.sleep(interval)  # a sampling period, not synchronisation


async def wait_listening(port: int, proc: asyncio.subprocess.Process) -> None:
    for _ in range(200):  # bounded: 20 s
        if proc.returncode is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        w.close()
        return
    raise RuntimeError("server did not start")


def verdict(
    stats: Stats, duration: float, warmup: float, rss_slack_mib: float, fd_slack: int
) -> list[str]:
    problems: list[str] = []
    steady = [s for s in stats.samples if s[0] >= duration * warmup]
    if len(steady) < 4:
        return ["too few samples after warm-up"]
    half = len(steady) // 2
    early, late = steady[:half], steady[half:]
    rss_early = max(s[1] for s in early) / 1024
    rss_late = max(s[1] for s in late) / 1024
    fd_early = max(s[2] for s in early)
    fd_late = max(s[2] for s in late)
    print(
        f"steady state ({len(steady)} samples): RSS peak {rss_early:.1f} MiB -> {rss_late:.1f} MiB"
        f" (median {statistics.median(s[1] for s in early) / 1024:.1f} -> "
        f"{statistics.median(s[1] for s in late) / 1024:.1f}); "
        f"fds peak {fd_early} -> {fd_late}"
    )
    if rss_late > rss_early * 1.05 + rss_slack_mib:
        problems.append(f"RSS grew: {rss_early:.1f} -> {rss_late:.1f} MiB")
    if fd_late > fd_early + fd_slack:
        problems.append(f"fds grew: {fd_early} -> {fd_late}")
    if stats.errors:
        problems.append(f"{len(stats.errors)} failed requests, first: {stats.errors[:3]}")
    return problems


async def main(args: argparse.Namespace) -> int:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "soak_server.py")
        with open(script, "w") as f:
            f.write(textwrap.dedent(SERVER))
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            script,
            str(port),
            stdout=asyncio.subprocess.DEVNULL,
            env={**os.environ, "TMPDIR": tmp},
        )
        stats = Stats()
        try:
            await wait_listening(port, proc)
            base = f"http://127.0.0.1:{port}"
            start = time.monotonic()
            stop = start + args.duration
            workers = [
                *(http_worker(base, stop, stats) for _ in range(args.http)),
                *(upload_worker(base, stop, stats) for _ in range(args.uploads)),
                *(ws_worker(base, stop, stats) for _ in range(args.websockets)),
                sampler(proc.pid, start, stop, args.interval, stats),
            ]
            await asyncio.gather(*workers)
            leftovers = [n for n in os.listdir(tmp) if n != "soak_server.py"]
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    elapsed = time.monotonic() - start
    total = sum(stats.ok.values())
    print(
        f"soak: {elapsed:.0f} s, {total} ok ({total / elapsed:.0f}/s: "
        + ", ".join(f"{k} {v}" for k, v in stats.ok.items())
        + f"), {len(stats.errors)} errors"
    )
    first = stats.samples[0]
    print(f"first sample: RSS {first[1] / 1024:.1f} MiB, fds {first[2]}")
    step = max(1, len(stats.samples) // 10)
    print(
        "samples (t s, RSS MiB, fds): "
        + ", ".join(f"({t:.0f}, {r / 1024:.1f}, {d})" for t, r, d in stats.samples[::step])
    )
    problems = verdict(stats, args.duration, args.warmup, args.rss_slack, args.fd_slack)
    if leftovers:
        problems.append(f"temporary files left behind: {leftovers[:5]}")
    if code != 0:
        problems.append(f"server exit status {code} after SIGTERM")
    for p in problems:
        print("FAIL:", p)
    if not problems:
        print("PASS: RSS and fds flat after warm-up; no errors; clean exit")
    return 1 if problems else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--duration", type=float, default=600.0, help="seconds of traffic (600)")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between samples (2)")
    p.add_argument("--warmup", type=float, default=0.2, help="fraction ignored at start (0.2)")
    p.add_argument("--rss-slack", type=float, default=4.0, help="MiB allowed on top of 5%% (4)")
    p.add_argument("--fd-slack", type=int, default=4, help="fds allowed to grow (4)")
    p.add_argument("--http", type=int, default=4, help="keep-alive HTTP workers (4)")
    p.add_argument("--uploads", type=int, default=2, help="upload workers (2)")
    p.add_argument("--websockets", type=int, default=2, help="WebSocket workers (2)")
    return p.parse_args(argv)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(main(parse_args())))
