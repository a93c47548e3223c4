"""A repeatable in-process measure of heron's per-request cost: no sockets, no wrk.

    python bench/inproc.py [--scenarios plaintext,json,...] [--requests 20000] [--repeat 5]
    python bench/inproc.py --loop asyncio          # default: uvloop when installed
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        python bench/inproc.py --scenarios plaintext --requests 2000 --repeat 1

The benchmark app (``app.py``) is served by a real ``HttpProtocol`` whose transport is a
stub that records writes. Each request's bytes (as wrk sends them) go to ``data_received``;
the driver then yields to the loop until the response is written. Pipelined requests are
fed 16 per call. The figure is wall-clock µs per request, best of ``--repeat`` runs, on an
otherwise idle loop: it moves with every change to the hot path and with little else, and
under callgrind the instruction count of a run is exactly repeatable.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from app import build_app

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(1, str(REPO_ROOT))

from heron import web  # noqa: E402

_HOST = b"Host: 127.0.0.1:8080\r\n"
_BODY = b"x" * 4096

REQUESTS: dict[str, bytes] = {
    "plaintext": b"GET /plaintext HTTP/1.1\r\n" + _HOST + b"\r\n",
    "json": b"GET /json HTTP/1.1\r\n" + _HOST + b"\r\n",
    "routing": b"GET /api/v1/items/42?fields=name,price HTTP/1.1\r\n" + _HOST + b"\r\n",
    "echo": b"POST /echo HTTP/1.1\r\n"
    + _HOST
    + b"Content-Length: 4096\r\nContent-Type: application/octet-stream\r\n\r\n"
    + _BODY,
    "middleware": b"GET /sub/hello HTTP/1.1\r\n" + _HOST + b"\r\n",
    "notfound": b"GET /no/such/path HTTP/1.1\r\n" + _HOST + b"\r\n",
    "pipeline": (b"GET /plaintext HTTP/1.1\r\n" + _HOST + b"\r\n") * 16,
}
PER_FEED = {"pipeline": 16}


class _Transport:
    """Just enough of an asyncio transport for HttpProtocol."""

    def __init__(self) -> None:
        self.responses = 0
        self.closed = False

    def write(self, data: bytes) -> None:
        # Pipelined responses may leave in one write: count status lines, not writes.
        self.responses += data.count(b"HTTP/1.1 ")

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _run(scenario: str, requests: int, repeat: int) -> float:
    app = build_app(web)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    server = runner.server
    assert server is not None
    data = REQUESTS[scenario]
    per_feed = PER_FEED.get(scenario, 1)
    best = min([await drive(server, data, requests, per_feed) for _ in range(repeat)])
    await runner.cleanup()
    return best


async def drive(server: Any, data: bytes, requests: int, per_feed: int = 1) -> float:
    """Feed ``data`` (``per_feed`` requests) to one new connection of ``server`` until
    ``requests`` are answered; return the wall-clock µs per request."""
    protocol = server()
    transport = _Transport()
    protocol.connection_made(transport)
    feeds = max(1, requests // per_feed)
    gc.collect()
    started = time.perf_counter()
    for _ in range(feeds):
        target = transport.responses + per_feed
        protocol.data_received(data)
        while transport.responses < target:
            await asyncio.sleep(0)
    elapsed = time.perf_counter() - started
    # Let the last request's bookkeeping finish before the next run.
    for _ in range(3):
        await asyncio.sleep(0)
    protocol.connection_lost(None)
    assert not transport.closed, "the connection closed"
    return elapsed / (feeds * per_feed) * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default=",".join(REQUESTS))
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = parser.parse_args(argv)
    if args.loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            args.loop = "asyncio"
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    for name in args.scenarios.split(","):
        if name not in REQUESTS:
            parser.error(f"unknown scenario {name!r}; known: {', '.join(REQUESTS)}")
        us = asyncio.run(_run(name, args.requests, args.repeat))
        print(f"{name:12s} {us:7.2f} µs/request  ({args.loop})", flush=True)


if __name__ == "__main__":
    main()
