"""Compressed JSON (64 KiB): heron.compression's zstd, br and gzip against aiohttp's gzip.

    python bench/compression.py                      # 3 rounds of 10 s per scenario
    python bench/compression.py --duration 5 --rounds 2

aiohttp has no app-wide compression: its handler calls ``enable_compression()`` on each
response (gzip, compressed in its executor above 4 KiB).  heron serves the same handler
without that call, with ``heron.compression.setup(app)``.  As in bench/run.py, each server
is a fresh process pinned to CPU 0 (uvloop when installed, no access log) and wrk runs
pinned to CPU 1; the scenarios alternate within each round; the table shows medians and
the size of one compressed body.  The same script serves: ``--serve heron|aiohttp``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import wrk
from process import HOST, die_with_parent, free_port
from serve import import_impl, install_uvloop, pin_to_cpu, ready

# This file is named like Python 3.14's "compression" package: keep bench/ off the path
# so that heron finds compression.zstd.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

SCENARIOS = (("aiohttp", "gzip"), ("heron", "gzip"), ("heron", "br"), ("heron", "zstd"))
ITEMS = 810  # about 64 KiB of JSON


def payload() -> list[dict[str, object]]:
    """A JSON document of about 64 KiB, shaped like an API listing."""
    return [
        {"id": i, "name": f"user {i}", "email": f"user{i}@example.org", "active": i % 3 != 0}
        for i in range(ITEMS)
    ]


def serve(impl: str, port: int, cpu: int) -> None:
    """Run the benchmark server for ``impl`` until SIGTERM."""
    web = import_impl(impl)
    pin_to_cpu(cpu)
    install_uvloop()
    # Encoded once: the scenario measures compression and serving, not json.dumps.
    body = json.dumps(payload()).encode()
    app = web.Application()
    if impl == "heron":
        from heron import compression

        compression.setup(app)

        async def handler(request: object) -> object:
            return web.Response(body=body, content_type="application/json")
    else:

        async def handler(request: object) -> object:
            response = web.Response(body=body, content_type="application/json")
            response.enable_compression()
            return response

    app.router.add_get("/json", handler)
    web.run_app(app, host=HOST, port=port, access_log=None, print=ready)


def body_size(port: int, coding: str) -> tuple[int, int]:
    """(compressed size, Content-Length or -1) of one response."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", "/json", headers={"Accept-Encoding": coding})
        response = conn.getresponse()
        body = response.read()
        assert response.getheader("Content-Encoding") == coding, response.getheaders()
        return len(body), int(response.getheader("Content-Length") or -1)
    finally:
        conn.close()


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with status {proc.returncode}")
        try:
            http.client.HTTPConnection(HOST, port, timeout=0.5).connect()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server not listening")


def measure(impl: str, coding: str, args: argparse.Namespace) -> tuple[float, int, float]:
    """(req/s, compressed bytes, p99 ms) for one fresh server."""
    port = free_port()
    command = [sys.executable, __file__, "--serve", impl, "--port", str(port)]
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, cwd=Path(__file__).parent, preexec_fn=die_with_parent
    )
    try:
        wait_listening(port, proc, 20)
        size, _ = body_size(port, coding)
        wrk_argv = wrk.WrkCommand(
            wrk=args.wrk,
            url=f"http://{HOST}:{port}/json",
            duration_s=args.duration,
            connections=args.connections,
            cpu=1,
        ).argv()
        wrk_argv[-1:-1] = ["-H", f"Accept-Encoding: {coding}"]
        out = subprocess.run(
            wrk_argv, capture_output=True, text=True, timeout=args.duration + 30, check=True
        )
        result = wrk.parse_output(out.stdout)
        if result.non_2xx or result.errors:
            print(f"  warning: {result.non_2xx} non-2xx, {result.errors} socket errors")
        return result.requests_per_sec, size, result.latency_ms.get("p99", float("nan"))
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    """Parse the command line; serve, or run every scenario and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--serve", choices=("heron", "aiohttp"))
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, 0)
        return
    args.wrk = wrk.find_wrk()
    if args.wrk is None:
        raise SystemExit("wrk not found: run bash bench/install.sh")
    raw = len(json.dumps(payload()).encode())
    print(f"JSON body: {raw} bytes; {args.rounds} rounds of {args.duration} s, wrk on CPU 1")
    results: dict[tuple[str, str], list[tuple[float, int, float]]] = {s: [] for s in SCENARIOS}
    for round_no in range(args.rounds):
        for impl, coding in SCENARIOS:
            rps, size, p99 = measure(impl, coding, args)
            results[(impl, coding)].append((rps, size, p99))
            print(f"  round {round_no + 1}: {impl:7} {coding:4} {rps:9.0f} req/s  {size} B")
    base = statistics.median(r[0] for r in results[("aiohttp", "gzip")])
    print(
        f"\n{'server':8} {'coding':6} {'bytes':>7} {'ratio':>6} {'req/s':>9} {'vs aiohttp':>10} p99"
    )
    for (impl, coding), rows in results.items():
        rps = statistics.median(r[0] for r in rows)
        p99 = statistics.median(r[2] for r in rows)
        size = rows[0][1]
        print(
            f"{impl:8} {coding:6} {size:7} {raw / size:6.1f} {rps:9.0f} {rps / base:9.2f}x "
            f"{p99:.1f} ms"
        )


if __name__ == "__main__":
    main()
