"""Static files: heron vs aiohttp serving 64 KiB and 10 MiB files under wrk (standalone).

    python bench/static.py                          # both sizes, 3 rounds x 10 s
    python bench/static.py --rounds 5 --duration 5 --sizes 64k
    python bench/static.py --smoke                  # 1 round x 1 s: proves the harness
    python bench/static.py --serve heron --port P --dir D   # (internal) one server

Each implementation serves the same directory with ``app.router.add_static("/static", D)``
(the aiohttp API; uvloop installed when available). For each size and round, heron and
aiohttp take turns: a fresh server pinned to CPU 0, one request checked (status, length,
sha256), a wrk warm-up, then ``taskset -c 1 wrk -t1 -cN -dDs`` on ``/static/<file>``.
The table shows medians of req/s and MiB/s over rounds; ``±`` is half the min-max range.
Every wait is bounded; servers are stopped on exit (see ``process.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import wrk
from process import HOST, ServerError, ServerProcess
from serve import import_impl, install_uvloop, pin_to_cpu

SIZES = {"64k": 64 * 1024, "10m": 10 * 1024 * 1024}
#: Connections per size: many small transfers, fewer large ones (each holds 10 MiB in flight).
CONNECTIONS = {"64k": 64, "10m": 16}
IMPLS = ("heron", "aiohttp")


@dataclass
class Cell:
    """One measurement."""

    size: str
    impl: str
    rps: float = 0.0
    cpu_us: float = 0.0  # server CPU time (all threads) per request
    error: str = ""


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of process ``pid`` so far (Linux; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve(impl: str, port: int, directory: str, cpu: int) -> None:
    """Server side: serve ``directory`` at /static with ``impl``'s web module."""
    pinned = pin_to_cpu(cpu)
    loop = install_uvloop()
    web = import_impl(impl)
    print(f"serve: {impl} loop={loop} pinned={pinned}", flush=True)
    app = web.Application()
    app.router.add_static("/static", directory)
    web.run_app(app, host=HOST, port=port, access_log=None, print=lambda *_: None)


def make_files(directory: Path, sizes: list[str]) -> dict[str, str]:
    """Write one file per size (fixed pseudo-random content); return their sha256."""
    digests = {}
    for name in sizes:
        data = hashlib.shake_256(name.encode()).digest(SIZES[name])
        (directory / f"{name}.bin").write_bytes(data)
        digests[name] = hashlib.sha256(data).hexdigest()
    return digests


def preflight(port: int, name: str, digest: str) -> None:
    """Fetch the file once; check status, length and content."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", f"/static/{name}.bin")
        response = conn.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise ServerError(f"preflight: {type(exc).__name__}: {exc}") from exc
    finally:
        conn.close()
    if response.status != 200 or hashlib.sha256(body).hexdigest() != digest:
        raise ServerError(f"preflight: status {response.status}, {len(body)} bytes, wrong body")


def measure(args: argparse.Namespace, name: str, impl: str, digest: str, log: Path) -> Cell:
    """One server, one wrk run."""
    cell = Cell(name, impl)
    server = ServerProcess(impl, [], log, sys.executable, args.cpu)
    script = str(Path(__file__).resolve())
    server.argv = [sys.executable, script, "--serve", impl, "--port", str(server.port)]
    server.argv += ["--dir", args.dir, "--cpu", str(args.cpu)]
    try:
        with server:
            server.wait_ready(20)
            preflight(server.port, name, digest)
            command = wrk.WrkCommand(
                wrk=args.wrk,
                url=f"http://{HOST}:{server.port}/static/{name}.bin",
                duration_s=args.duration,
                connections=args.connections or CONNECTIONS[name],
                cpu=args.client_cpu,
            )
            if args.warmup:
                wrk.run(replace(command, duration_s=args.warmup))
            before = cpu_seconds(server.pid)
            result = wrk.run(command)
            cell.cpu_us = (cpu_seconds(server.pid) - before) / max(result.requests, 1) * 1e6
    except (ServerError, wrk.WrkError) as exc:
        cell.error = str(exc).splitlines()[0]
        return cell
    if result.non_2xx or result.errors:
        cell.error = f"{result.non_2xx} non-2xx, {result.errors} socket errors"
    cell.rps = result.requests_per_sec
    return cell


def report(cells: list[Cell], names: list[str]) -> str:
    """A table of medians (req/s, MiB/s, server CPU per request) with heron/aiohttp ratios.

    On a shared machine req/s moves with other load; CPU per request moves much less.
    """
    lines = [
        f"{'size':<6} {'impl':<8} {'req/s':>15} {'MiB/s':>8} {'CPU us/req':>11}"
        f" {'req/s ratio':>12} {'CPU ratio':>10}"
    ]
    for name in names:
        medians: dict[str, tuple[float, float]] = {}
        for impl in IMPLS:
            good = [c for c in cells if c.size == name and c.impl == impl and not c.error]
            if not good:
                lines.append(f"{name:<6} {impl:<8} {'FAILED':>15}")
                continue
            rps = statistics.median(c.rps for c in good)
            cpu = statistics.median(c.cpu_us for c in good)
            values = [c.rps for c in good]
            spread = (max(values) - min(values)) / 2 / rps * 100 if rps else 0.0
            medians[impl] = (rps, cpu)
            mib = rps * SIZES[name] / 2**20
            lines.append(
                f"{name:<6} {impl:<8} {rps:>9.1f} ±{spread:>3.0f}% {mib:>8.1f} {cpu:>11.0f}"
            )
        if len(medians) == 2 and medians["aiohttp"][0] and medians["heron"][1]:
            rps_ratio = medians["heron"][0] / medians["aiohttp"][0]
            cpu_ratio = medians["aiohttp"][1] / medians["heron"][1]
            lines[-1] += f" {rps_ratio:>11.2f}x {cpu_ratio:>9.2f}x"
    lines.append("ratios: heron/aiohttp req/s, and aiohttp/heron CPU per request (>1: heron wins)")
    errors = [f"  {c.size} {c.impl}: {c.error}" for c in cells if c.error]
    return "\n".join(lines + (["errors:", *errors] if errors else []))


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default=",".join(SIZES), help="comma list of 64k, 10m")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=0, help="default: per size")
    parser.add_argument("--smoke", action="store_true", help="1 round of 1 s, no warm-up")
    parser.add_argument("--serve", choices=IMPLS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=8080, help=argparse.SUPPRESS)
    parser.add_argument("--dir", default="", help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, default=0, help="server CPU; -1: no pinning")
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port, args.dir, args.cpu)
        return 0
    names = [n.strip() for n in args.sizes.split(",") if n.strip()]
    if unknown := [n for n in names if n not in SIZES]:
        parser.error(f"unknown sizes {unknown}; known: {', '.join(SIZES)}")
    if args.smoke:
        args.duration, args.rounds, args.warmup = 1, 1, 0
    args.wrk = wrk.find_wrk()
    if args.wrk is None:
        print(wrk.INSTALL_HINT, file=sys.stderr)
        return 2
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    args.client_cpu = 1 if args.cpu == 0 and {0, 1} <= cpus else None
    cells: list[Cell] = []
    with tempfile.TemporaryDirectory(prefix="heron-static-bench-") as directory:
        args.dir = directory
        digests = make_files(Path(directory), names)
        for name in names:
            for rnd in range(args.rounds):
                for impl in IMPLS:
                    log = Path(directory) / f"{name}-{impl}-{rnd}.log"
                    cell = measure(args, name, impl, digests[name], log)
                    print(
                        f"[{name} {impl} round {rnd + 1}] {cell.rps:.1f} req/s"
                        f" {cell.cpu_us:.0f} us/req {cell.error}",
                        file=sys.stderr,
                        flush=True,
                    )
                    cells.append(cell)
    print(report(cells, names))
    return 0 if any(not c.error for c in cells) else 1


if __name__ == "__main__":
    sys.exit(main())
