"""Compare heron with aiohttp (and the bare "ceiling" server): speed under wrk, WebSocket echo
throughput, and memory per idle connection, in one run.

    python bench/run.py                                   # everything, 3 rounds of 8 s
    python bench/run.py --impls aiohttp --duration 3 --rounds 1
    python bench/run.py --scenarios plaintext,routes-1000 --rounds 5
    python bench/run.py --scenarios ws,ws-deflate,mem-http,mem-ws
    python bench/run.py --smoke                           # 1 round of 1 s: proves the harness

For each scenario and round, each implementation in turn (heron, aiohttp, ceiling, heron, ...)
gets a fresh server pinned to CPU 0; the load (wrk, the WebSocket load generator of ``ws.py``
or the connection holder of ``memory.py``) runs pinned to CPU 1. The tables show medians over
the rounds, then a summary; the JSON in bench/results/ keeps every round. See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import memory
import report
import wrk
import ws
from app import write_static_dir
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
from scenarios import HTTP_SUMMARY, SCENARIOS, Scenario, get_scenario
from serve import BARE, IMPL_MODULES

RESULTS_DIR = BENCH_DIR / "results"
LOOP_PROBE = "import uvloop; print('uvloop', uvloop.__version__)"
EXIT_SETUP = 2
EXIT_INTERRUPTED = 130
#: Idle connections held by the memory scenarios (``--idle-http``, ``--idle-ws``; ``--smoke``).
IDLE_HTTP = 10_000
IDLE_WS = 1_000
SMOKE_IDLE = 200
#: WebSocket messages in flight per connection (``ws.py``'s ``--window``).
WS_WINDOW = 4
#: Above this share of its CPU the WebSocket load generator may be the bottleneck.
LOADER_CPU_WARN = 0.9


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
    idle_http: int  # connections held by mem-http
    idle_ws: int  # WebSockets held by mem-ws


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        epilog=f"scenarios: {', '.join(SCENARIOS)}, routes-N (any N)",
    )
    parser.add_argument(
        "--impls",
        default="heron,aiohttp,ceiling",
        help="comma list of heron, aiohttp, ceiling, floor, floor-taskless",
    )
    parser.add_argument("--scenarios", default="all", help="comma list, or 'all'")
    parser.add_argument("--duration", type=int, default=8, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of load before measuring")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64, help="wrk and WebSocket load")
    parser.add_argument("--idle-http", type=int, default=IDLE_HTTP, help="mem-http connections")
    parser.add_argument("--idle-ws", type=int, default=IDLE_WS, help="mem-ws WebSockets")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the servers")
    parser.add_argument("--ready-timeout", type=float, default=20.0, help="server start bound")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server/wrk to CPUs")
    parser.add_argument(
        "--smoke", action="store_true", help=f"1 round of 1 s, no warm-up, {SMOKE_IDLE} idle"
    )
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
        idle_http=min(ns.idle_http, SMOKE_IDLE) if ns.smoke else max(1, ns.idle_http),
        idle_ws=min(ns.idle_ws, SMOKE_IDLE) if ns.smoke else max(1, ns.idle_ws),
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


def static_dir(log_dir: Path) -> Path:
    """Where the run keeps the static scenario's file (next to the server logs)."""
    return log_dir / "static"


def _client_cpu(options: Options) -> int:
    return -1 if options.client_cpu is None else options.client_cpu


def preflight_scenario(scenario: Scenario, port: int) -> None:
    """Send the scenario's request once (a WebSocket echo for WebSocket paths) and check it."""
    if scenario.websocket:
        ws.preflight(port, scenario.path, scenario.compress)
        return
    preflight(
        port,
        scenario.method,
        scenario.path,
        scenario.body,
        scenario.expect_status,
        scenario.expect_body,
    )


def _measure_wrk(
    options: Options, wrk_path: str, scenario: Scenario, server: ServerProcess, m: Measurement
) -> None:
    """Warm up, then one wrk run; server CPU time read around it."""
    command = wrk_command(options, wrk_path, scenario, server.port)
    if options.warmup_s:
        wrk.run(replace(command, duration_s=options.warmup_s))
    cpu_before = process_cpu_seconds(server.pid)
    m.result = wrk.run(command)
    cpu_after = process_cpu_seconds(server.pid)
    if cpu_before is not None and cpu_after is not None and m.result.requests:
        # CPU time per request is much less sensitive than req/s to other load on
        # a shared machine: the ratio to trust when the req/s spread is large.
        m.cpu_us_per_req = 1e6 * (cpu_after - cpu_before) / m.result.requests
    m.warnings = _result_warnings(scenario, m.result)


def _measure_ws(
    options: Options, scenario: Scenario, server: ServerProcess, m: Measurement, log: Path
) -> None:
    """``ws.py``'s load generator (warm-up included) against the echo endpoint."""
    spec = ws.LoadSpec(
        connections=options.connections,
        window=WS_WINDOW,
        duration_s=options.duration_s,
        warmup_s=options.warmup_s,
        compress=scenario.compress,
        cpu=_client_cpu(options),
        path=scenario.path,
    )
    m.ws = ws.measure_echo(server.port, server.pid, spec, options.python, log)
    m.cpu_us_per_req = m.ws.cpu_us_per_msg
    if m.ws.client_cpu_s > LOADER_CPU_WARN * m.ws.seconds:
        m.warnings.append("the load generator used over 90% of its CPU: it may be the limit")


def _measure_idle(
    options: Options, scenario: Scenario, server: ServerProcess, m: Measurement, log: Path
) -> None:
    """``memory.py``: RSS after the warm-up request, then with N idle connections held."""
    count = options.idle_ws if scenario.websocket else options.idle_http
    m.memory = memory.measure_idle(
        server,
        scenario.path,
        scenario.websocket,
        count,
        python=options.python,
        client_cpu=_client_cpu(options),
        log_path=log,
    )
    fds = m.memory.server_fds
    if fds is not None and fds < count:
        m.warnings.append(f"the server had only {fds} descriptors open for {count} connections")


def measure(
    options: Options, wrk_path: str, scenario: Scenario, impl: str, rnd: int, log_dir: Path
) -> Measurement:
    """Start a fresh server, check one request, measure the scenario, stop the server."""
    measurement = Measurement(scenario=scenario.name, impl=impl, round=rnd)
    log_path = log_dir / f"{scenario.name}-{impl}-{rnd}.log"
    client_log = log_dir / f"{scenario.name}-{impl}-{rnd}-client.log"
    args = scenario.server_args(static_dir(log_dir))
    try:
        with ServerProcess(impl, args, log_path, options.python, options.server_cpu) as server:
            server.wait_ready(options.ready_timeout_s)
            preflight_scenario(scenario, server.port)  # also the memory baseline's warm-up
            if scenario.kind == "ws":
                _measure_ws(options, scenario, server, measurement, client_log)
            elif scenario.kind == "idle":
                _measure_idle(options, scenario, server, measurement, client_log)
            else:
                _measure_wrk(options, wrk_path, scenario, server, measurement)
    except (ServerError, wrk.WrkError) as exc:
        measurement.error = str(exc)
    return measurement


def _describe(m: Measurement, latency: bool) -> str:
    """One progress line's worth of a measurement."""
    if not m.ok:
        return f"FAILED: {m.error}"
    if m.ws is not None:
        text = f"{m.ws.rate:,.0f} msg/s  {m.cpu_us_per_req or 0:.1f} us/msg"
        text += f"  (load generator CPU {m.ws.client_cpu_s / m.ws.seconds:.0%})"
    elif m.memory is not None:
        mem = m.memory
        text = (
            f"RSS {mem.baseline_kib / 1024:.1f} MiB -> {mem.held_kib / 1024:.1f} MiB with "
            f"{mem.connections:,} idle: {mem.per_conn_kib:.2f} KiB/conn "
            f"(opened in {mem.setup_s:.1f}s, server fds {mem.server_fds})"
        )
    else:
        assert m.result is not None
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
        if key in failed or (impl in BARE and not scenario.ceiling):
            continue
        m = measure(options, wrk_path, scenario, impl, rnd, log_dir)
        outcome = _describe(m, scenario.latency)
        log(f"[{scenario.name}] round {rnd}/{options.rounds} {impl}: {outcome}")
        measurements.append(m)
        if not m.ok:
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
            summary.not_applicable = impl in BARE and not scenario.ceiling
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
            "idle_http": options.idle_http,
            "idle_ws": options.idle_ws,
            "ws_window": WS_WINDOW,
        },
        "rlimit_nofile_hard": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
    }


def _raise_interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt(f"signal {signum}")


def _exit_status(options: Options, summaries: dict[tuple[str, str], Summary]) -> int:
    measured = any(s.measured for s in summaries.values())
    failed = any(s.errors or s.unavailable for s in summaries.values())
    return 1 if not measured or (options.strict and failed) else 0


def _print_header(options: Options, meta: dict[str, Any]) -> None:
    log(
        f"bench: {len(options.scenarios)} scenarios x {options.rounds} rounds x "
        f"{options.duration_s}s (+{options.warmup_s}s warm-up), -c{options.connections} "
        f"-t{options.threads}, idle {options.idle_http} HTTP / {options.idle_ws} WebSocket; "
        f"{meta['pinning']}; {meta['loop']}; load {meta['loadavg_start']}"
    )
    for impl, line in meta["implementations"].items():
        log(f"  {impl}: {line}")


def _taking_part(options: Options, scenarios: Sequence[Scenario]) -> list[str]:
    """The requested implementations that take part in at least one of ``scenarios``."""
    return [i for i in options.impls if i not in BARE or any(s.ceiling for s in scenarios)]


def print_report(options: Options, summaries: dict[tuple[str, str], Summary]) -> dict[str, Any]:
    """Print the tables (wrk, WebSocket, memory), the notes and the summary; return its figures."""
    by_kind = {
        kind: [s for s in options.scenarios if s.kind == kind] for kind in ("wrk", "ws", "idle")
    }
    tables = []
    if by_kind["wrk"]:
        names = [s.name for s in by_kind["wrk"]]
        impls = _taking_part(options, by_kind["wrk"])
        tables.append(report.table(names, impls, summaries))
    if by_kind["ws"]:
        names = [s.name for s in by_kind["ws"]]
        impls = _taking_part(options, by_kind["ws"])
        tables.append(report.table(names, impls, summaries, unit="msg", latency=False))
    if by_kind["idle"]:
        names = [s.name for s in by_kind["idle"]]
        tables.append(report.memory_table(names, _taking_part(options, by_kind["idle"]), summaries))
    print("\n\n".join(tables))
    for line in report.notes(summaries):
        print(line)
    groups = {
        "http": [s.name for s in by_kind["wrk"] if s.name in HTTP_SUMMARY],
        "latency": [s.name for s in by_kind["wrk"] if s.latency],
        "ws": [s.name for s in by_kind["ws"]],
        "memory": [s.name for s in by_kind["idle"]],
    }
    head = report.headline(summaries, options.impls, groups)
    for line in report.summary_lines(head):
        print(line)
    return head


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
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="heron-bench-") as log_dir:
            write_static_dir(static_dir(Path(log_dir)))
            measurements = run_all(options, wrk_path, impls, Path(log_dir))
    except KeyboardInterrupt:
        log("interrupted: servers stopped, nothing written")
        return EXIT_INTERRUPTED
    meta["loadavg_end"] = os.getloadavg()
    meta["elapsed_s"] = round(time.monotonic() - started, 1)
    summaries = summarise_all(options, impls, measurements)
    head = print_report(options, summaries)
    print(f"elapsed: {meta['elapsed_s']:.0f}s")
    if options.save:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = RESULTS_DIR / f"{stamp}.json"
        report.write_json(path, meta, measurements, summaries, head)
        print(f"results: {path.relative_to(BENCH_DIR.parent)}")
    return _exit_status(options, summaries)


if __name__ == "__main__":
    sys.exit(main())
