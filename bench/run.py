"""Compare heron with aiohttp (and optionally the bare "ceiling" server) under wrk.

    python bench/run.py                                   # all scenarios, 3 rounds of 10 s
    python bench/run.py --impls aiohttp --duration 3 --rounds 1
    python bench/run.py --scenarios plaintext,routes-1000 --rounds 5
    python bench/run.py --smoke                           # 1 round of 1 s: proves the harness

For each scenario and round, each implementation in turn (heron, aiohttp, heron, aiohttp, ...)
gets a fresh server pinned to CPU 0; wrk runs pinned to CPU 1. The table shows medians over the
rounds; the JSON in bench/results/ keeps every round. See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import report
import wrk
from process import (
    BENCH_DIR,
    HOST,
    ServerError,
    ServerProcess,
    check_impl,
    preflight,
    probe,
    process_cpu_seconds,
)
from report import Measurement, Summary
from scenarios import SCENARIOS, Scenario, get_scenario
from serve import IMPL_MODULES

RESULTS_DIR = BENCH_DIR / "results"
LOOP_PROBE = "import uvloop; print('uvloop', uvloop.__version__)"
EXIT_SETUP = 2
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Options:
    """Everything a run needs, resolved from the command line."""

    impls: tuple[str, ...]
    scenarios: tuple[Scenario, ...]
    duration_s: int
    warmup_s: int
    rounds: int
    connections: int
    threads: int
    python: str
    server_cpu: int  # -1: do not pin
    client_cpu: int | None  # None: do not pin
    ready_timeout_s: float
    strict: bool
    save: bool


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        epilog=f"scenarios: {', '.join(SCENARIOS)}, routes-N (any N)",
    )
    parser.add_argument("--impls", default="heron,aiohttp", help="comma list; also: ceiling")
    parser.add_argument("--scenarios", default="all", help="comma list, or 'all'")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of wrk before measuring")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the servers")
    parser.add_argument("--ready-timeout", type=float, default=20.0, help="server start bound")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server/wrk to CPUs")
    parser.add_argument("--smoke", action="store_true", help="1 round of 1 s, no warm-up")
    parser.add_argument("--strict", action="store_true", help="exit 1 on any failed cell")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    return parser.parse_args(argv)


def _cpu_plan(no_pin: bool) -> tuple[int, int | None, str]:
    """Return (server cpu or -1, wrk cpu or None, a description) for this machine."""
    if no_pin:
        return -1, None, "no pinning (--no-pin)"
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    if not {0, 1} <= cpus:
        return -1, None, f"no pinning (need CPUs 0 and 1, have {sorted(cpus)})"
    if shutil.which("taskset") is None:
        return 0, None, "server on CPU 0; wrk unpinned (taskset missing)"
    return 0, 1, "server on CPU 0, wrk on CPU 1"


def resolve_options(ns: argparse.Namespace) -> tuple[Options, str]:
    """Turn parsed arguments into Options (``--smoke`` overrides duration/rounds/warm-up)."""
    names = list(SCENARIOS) if ns.scenarios == "all" else _csv(ns.scenarios)
    scenarios = tuple(get_scenario(n) for n in names)  # KeyError names the unknown one
    impls = tuple(_csv(ns.impls))
    unknown = [i for i in impls if i not in IMPL_MODULES]
    if unknown or not impls:
        raise KeyError(f"unknown implementation(s) {unknown}; known: {', '.join(IMPL_MODULES)}")
    server_cpu, client_cpu, pinning = _cpu_plan(ns.no_pin)
    options = Options(
        impls=impls,
        scenarios=scenarios,
        duration_s=1 if ns.smoke else max(1, ns.duration),
        warmup_s=0 if ns.smoke else max(0, ns.warmup),
        rounds=1 if ns.smoke else max(1, ns.rounds),
        connections=ns.connections,
        threads=ns.threads,
        python=ns.python,
        server_cpu=server_cpu,
        client_cpu=client_cpu,
        ready_timeout_s=ns.ready_timeout,
        strict=ns.strict,
        save=not ns.no_save,
    )
    return options, pinning


def log(message: str) -> None:
    """Progress goes to stderr so stdout holds only the table."""
    print(message, file=sys.stderr, flush=True)


def probe_impls(options: Options) -> tuple[list[str], dict[str, str]]:
    """Return the implementations that import, and a version-or-reason line for each."""
    available: list[str] = []
    info: dict[str, str] = {}
    for impl in options.impls:
        ok, line = check_impl(options.python, impl)
        info[impl] = line if ok else f"UNAVAILABLE: {line}"
        if ok:
            available.append(impl)
        else:
            log(f"[{impl}] cannot be used, skipping it: {line}")
    return available, info


def wrk_command(options: Options, wrk_path: str, scenario: Scenario, port: int) -> wrk.WrkCommand:
    """The wrk invocation measuring ``scenario`` against a server on ``port``."""
    return wrk.WrkCommand(
        wrk=wrk_path,
        url=f"http://{HOST}:{port}{scenario.path}",
        duration_s=options.duration_s,
        connections=options.connections,
        threads=options.threads,
        script=BENCH_DIR / scenario.script if scenario.script else None,
        script_args=scenario.script_args,
        cpu=options.client_cpu,
    )


def _result_warnings(scenario: Scenario, result: wrk.WrkResult) -> list[str]:
    """Anomalies that make a number suspicious without making it wrong."""
    warnings = []
    if scenario.expect_status < 400 and result.non_2xx:
        warnings.append(f"{result.non_2xx} non-2xx/3xx responses")
    if result.errors:
        detail = ", ".join(f"{k} {v}" for k, v in result.socket_errors.items() if v)
        warnings.append(f"socket errors: {detail}")
    return warnings


def measure(
    options: Options, wrk_path: str, scenario: Scenario, impl: str, rnd: int, log_dir: Path
) -> Measurement:
    """Start a fresh server, check one request, warm up, run wrk, stop the server."""
    measurement = Measurement(scenario=scenario.name, impl=impl, round=rnd)
    log_path = log_dir / f"{scenario.name}-{impl}-{rnd}.log"
    args = scenario.server_args()
    try:
        with ServerProcess(impl, args, log_path, options.python, options.server_cpu) as server:
            server.wait_ready(options.ready_timeout_s)
            preflight(
                server.port,
                scenario.method,
                scenario.path,
                scenario.body,
                scenario.expect_status,
                scenario.expect_body,
            )
            command = wrk_command(options, wrk_path, scenario, server.port)
            if options.warmup_s:
                wrk.run(replace(command, duration_s=options.warmup_s))
            cpu_before = process_cpu_seconds(server.pid)
            measurement.result = wrk.run(command)
            cpu_after = process_cpu_seconds(server.pid)
            if cpu_before is not None and cpu_after is not None and measurement.result.requests:
                # CPU time per request is much less sensitive than req/s to other load on
                # a shared machine: the ratio to trust when the req/s spread is large.
                measurement.cpu_us_per_req = (
                    1e6 * (cpu_after - cpu_before) / measurement.result.requests
                )
    except (ServerError, wrk.WrkError) as exc:
        measurement.error = str(exc)
        return measurement
    measurement.warnings = _result_warnings(scenario, measurement.result)
    return measurement


def _describe(m: Measurement, latency: bool) -> str:
    if m.result is None:
        return f"FAILED: {m.error}"
    r = m.result
    text = f"{r.requests_per_sec:,.0f} req/s"
    if latency:
        text += f"  p50 {r.latency_ms['p50']:.2f}ms  p99 {r.latency_ms['p99']:.2f}ms"
    return text + (f"  [{'; '.join(m.warnings)}]" if m.warnings else "")


def schedule(options: Options, impls: Sequence[str]) -> Iterator[tuple[Scenario, int, str]]:
    """Yield (scenario, round, impl): per scenario, rounds alternate the implementations."""
    for scenario in options.scenarios:
        for rnd in range(1, options.rounds + 1):
            for impl in impls:
                yield scenario, rnd, impl


def run_all(
    options: Options, wrk_path: str, impls: Sequence[str], log_dir: Path
) -> list[Measurement]:
    """Run the schedule; an implementation that fails on a scenario is not retried on it."""
    measurements: list[Measurement] = []
    failed: set[tuple[str, str]] = set()
    for scenario, rnd, impl in schedule(options, impls):
        key = (scenario.name, impl)
        if key in failed or (impl == "ceiling" and not scenario.ceiling):
            continue
        m = measure(options, wrk_path, scenario, impl, rnd, log_dir)
        outcome = _describe(m, scenario.latency)
        log(f"[{scenario.name}] round {rnd}/{options.rounds} {impl}: {outcome}")
        measurements.append(m)
        if m.result is None:
            failed.add(key)
    return measurements


def summarise_all(
    options: Options, impls: Sequence[str], measurements: Sequence[Measurement]
) -> dict[tuple[str, str], Summary]:
    """One Summary per (scenario, requested implementation), in table order."""
    summaries: dict[tuple[str, str], Summary] = {}
    for scenario in options.scenarios:
        for impl in options.impls:
            own = [m for m in measurements if m.scenario == scenario.name and m.impl == impl]
            summary = report.summarise(scenario.name, impl, own)
            summary.not_applicable = impl == "ceiling" and not scenario.ceiling
            if not scenario.latency:
                summary.p50_ms = summary.p99_ms = None
            summary.unavailable = impl not in impls
            summaries[(scenario.name, impl)] = summary
    return summaries


def _git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=BENCH_DIR,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


def metadata(
    options: Options, wrk_path: str, impl_info: dict[str, str], pinning: str
) -> dict[str, Any]:
    """Where and how the numbers were taken."""
    ok, loop = probe(options.python, "-c", LOOP_PROBE)
    return {
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git": _git_revision(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
        "pinning": pinning,
        "wrk": wrk.wrk_version(wrk_path),
        "loop": loop if ok else "asyncio (uvloop unavailable)",
        "implementations": impl_info,
        "options": {
            "impls": list(options.impls),
            "scenarios": [s.name for s in options.scenarios],
            "duration_s": options.duration_s,
            "warmup_s": options.warmup_s,
            "rounds": options.rounds,
            "connections": options.connections,
            "threads": options.threads,
        },
    }


def _raise_interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt(f"signal {signum}")


def _exit_status(options: Options, summaries: dict[tuple[str, str], Summary]) -> int:
    measured = any(s.rps_median is not None for s in summaries.values())
    failed = any(s.errors or s.unavailable for s in summaries.values())
    return 1 if not measured or (options.strict and failed) else 0


def _print_header(options: Options, meta: dict[str, Any]) -> None:
    log(
        f"bench: {len(options.scenarios)} scenarios x {options.rounds} rounds x "
        f"{options.duration_s}s (+{options.warmup_s}s warm-up), -c{options.connections} "
        f"-t{options.threads}; {meta['pinning']}; {meta['loop']}; load {meta['loadavg_start']}"
    )
    for impl, line in meta["implementations"].items():
        log(f"  {impl}: {line}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    try:
        options, pinning = resolve_options(parse_args(argv))
    except KeyError as exc:
        log(f"error: {exc.args[0]}")
        return EXIT_SETUP
    wrk_path = wrk.find_wrk()
    if wrk_path is None:
        log(wrk.INSTALL_HINT)
        return EXIT_SETUP
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupt)
    impls, impl_info = probe_impls(options)
    meta = metadata(options, wrk_path, impl_info, pinning)
    _print_header(options, meta)
    try:
        with tempfile.TemporaryDirectory(prefix="heron-bench-") as log_dir:
            measurements = run_all(options, wrk_path, impls, Path(log_dir))
    except KeyboardInterrupt:
        log("interrupted: servers stopped, nothing written")
        return EXIT_INTERRUPTED
    meta["loadavg_end"] = os.getloadavg()
    summaries = summarise_all(options, impls, measurements)
    print(report.table([s.name for s in options.scenarios], options.impls, summaries))
    for line in report.notes(summaries):
        print(line)
    if options.save:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = RESULTS_DIR / f"{stamp}.json"
        report.write_json(path, meta, measurements, summaries)
        print(f"results: {path.relative_to(BENCH_DIR.parent)}")
    return _exit_status(options, summaries)


if __name__ == "__main__":
    sys.exit(main())
