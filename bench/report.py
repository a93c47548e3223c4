"""Aggregate per-round measurements into medians, print the tables and summary, write JSON.

Three tables: the wrk scenarios (req/s, p99, server CPU per request), the WebSocket echo
scenarios (messages/s, server CPU per message) and the memory scenarios (server RSS without
and with N idle connections, KiB per connection). ``headline`` condenses them into the
summary printed under the tables (and saved in the JSON).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from memory import MemoryResult
from wrk import WrkResult
from ws import WsResult

NOT_APPLICABLE = "n/a"


@dataclass
class Measurement:
    """One (scenario, implementation, round): a wrk, WebSocket or memory result, or an error."""

    scenario: str
    impl: str
    round: int
    result: WrkResult | None = None  # wrk scenarios
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    #: Server CPU time (user + system) per request (per message for WebSocket scenarios)
    #: during the measured run.
    cpu_us_per_req: float | None = None
    ws: WsResult | None = None  # WebSocket echo scenarios
    memory: MemoryResult | None = None  # memory (idle connection) scenarios

    @property
    def rate(self) -> float | None:
        """Requests (or echoed messages) per second, when this round measured a rate."""
        if self.result is not None:
            return self.result.requests_per_sec
        return self.ws.rate if self.ws is not None else None

    @property
    def ok(self) -> bool:
        """Whether this round produced a result."""
        return self.result is not None or self.ws is not None or self.memory is not None


@dataclass
class Summary:
    """Medians over the successful rounds of one (scenario, implementation)."""

    scenario: str
    impl: str
    rounds_ok: int = 0
    #: req/s (messages/s for WebSocket scenarios).
    rps_median: float | None = None
    rps_min: float | None = None
    rps_max: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    cpu_us_median: float | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    not_applicable: bool = False
    unavailable: bool = False  # the implementation could not be imported at all
    #: Memory scenarios: idle connections held, and medians of the RSS figures (KiB).
    connections: int | None = None
    baseline_kib: float | None = None
    held_kib: float | None = None
    per_conn_kib: float | None = None

    @property
    def measured(self) -> bool:
        """Whether at least one round produced a figure."""
        return self.rps_median is not None or self.per_conn_kib is not None

    @property
    def spread_pct(self) -> float:
        """Half the min-max range of req/s over rounds, in % of the median: the noise."""
        if not self.rps_median or self.rps_min is None or self.rps_max is None:
            return 0.0
        return 50.0 * (self.rps_max - self.rps_min) / self.rps_median


def summarise(scenario: str, impl: str, measurements: Sequence[Measurement]) -> Summary:
    """Medians (rate, latency percentiles, CPU, memory) over the rounds with a result."""
    summary = Summary(scenario=scenario, impl=impl)
    summary.errors = sorted({m.error for m in measurements if m.error})
    summary.warnings = sorted({w for m in measurements for w in m.warnings})
    summary.rounds_ok = sum(1 for m in measurements if m.ok)
    rates = [r for m in measurements if (r := m.rate) is not None]
    if rates:
        summary.rps_median = statistics.median(rates)
        summary.rps_min, summary.rps_max = min(rates), max(rates)
    results = [m.result for m in measurements if m.result is not None]
    if results:
        summary.p50_ms = statistics.median(r.latency_ms["p50"] for r in results)
        summary.p99_ms = statistics.median(r.latency_ms["p99"] for r in results)
    cpu = [m.cpu_us_per_req for m in measurements if m.cpu_us_per_req is not None]
    summary.cpu_us_median = statistics.median(cpu) if cpu else None
    _summarise_memory(summary, [m.memory for m in measurements if m.memory is not None])
    return summary


def _summarise_memory(summary: Summary, results: Sequence[MemoryResult]) -> None:
    if not results:
        return
    summary.connections = results[0].connections
    summary.baseline_kib = statistics.median(r.baseline_kib for r in results)
    summary.held_kib = statistics.median(r.held_kib for r in results)
    summary.per_conn_kib = statistics.median(r.per_conn_kib for r in results)


def _fmt_rps(summary: Summary | None) -> str:
    if summary is None:
        return "-"
    if summary.not_applicable:
        return NOT_APPLICABLE
    if summary.unavailable:
        return "unavailable"
    if summary.rps_median is None:
        return "FAILED"
    flag = "!" if summary.warnings else ""
    spread = f" ±{summary.spread_pct:.0f}%" if summary.rounds_ok > 1 else ""
    return f"{summary.rps_median:,.0f}{spread}{flag}"


def _fmt_latency(summary: Summary | None) -> str:
    """``p50 / p99`` in milliseconds."""
    if summary is None or summary.p99_ms is None or summary.p50_ms is None:
        return NOT_APPLICABLE if summary is not None and summary.not_applicable else "-"
    return f"{summary.p50_ms:.2f} / {summary.p99_ms:.2f}"


def _ratio(a: Summary | None, b: Summary | None) -> str:
    if b is not None and b.not_applicable:
        return NOT_APPLICABLE
    if a is None or b is None or not a.rps_median or not b.rps_median:
        return "-"
    ratio = a.rps_median / b.rps_median
    noisy = abs(ratio - 1.0) * 100.0 < max(a.spread_pct, b.spread_pct)
    return f"{ratio:.2f}x{'~' if noisy else ''}"


def _cpu_ratio(a: Summary | None, b: Summary | None) -> str:
    """How many times less server CPU per request the first uses (higher is better)."""
    if a is None or b is None or not a.cpu_us_median or not b.cpu_us_median:
        return "-"
    return f"{b.cpu_us_median / a.cpu_us_median:.2f}x"


def _fmt_cpu(summary: Summary | None) -> str:
    if summary is None or summary.cpu_us_median is None:
        return "-"
    return f"{summary.cpu_us_median:.1f}"


def table(
    scenarios: Sequence[str],
    impls: Sequence[str],
    summaries: dict[tuple[str, str], Summary],
    unit: str = "req",
    latency: bool = True,
) -> str:
    """Render ``scenario | <impl> req/s ... | first/other ... | <impl> p50/p99 ... | CPU`` as text.

    There is one ratio column per implementation after the first (first/second, then e.g.
    first/ceiling); ``unit`` names what is counted (``req``, ``msg``); ``latency=False`` drops
    the p99 columns.
    """
    header = ["scenario", *(f"{i} {unit}/s" for i in impls)]
    header += [f"{impls[0]}/{other}" for other in impls[1:]]
    if latency:
        header += [f"{i} p50/p99 ms" for i in impls]
    header += [f"{i} CPU us/{unit}" for i in impls]
    if len(impls) >= 2:
        header.append("CPU ratio")
    rows = [header]
    for name in scenarios:
        cells = [summaries.get((name, i)) for i in impls]
        row = [name, *(_fmt_rps(c) for c in cells)]
        row += [_ratio(cells[0], other) for other in cells[1:]]
        if latency:
            row += [_fmt_latency(c) for c in cells]
        row += [_fmt_cpu(c) for c in cells]
        if len(impls) >= 2:
            row.append(_cpu_ratio(cells[0], cells[1]))
        rows.append(row)
    return _render(rows)


def _fmt_kib(kib: float | None, mib: bool = False) -> str:
    if kib is None:
        return "-"
    return f"{kib / 1024:.1f}" if mib else f"{kib:.2f}"


def _memory_cells(summary: Summary | None) -> list[str]:
    """baseline MiB, held MiB, KiB per connection (or why there is none)."""
    if summary is None or summary.per_conn_kib is None:
        status = "FAILED" if summary is not None and summary.errors else "-"
        return ["-", "-", "unavailable" if summary is not None and summary.unavailable else status]
    return [
        _fmt_kib(summary.baseline_kib, mib=True),
        _fmt_kib(summary.held_kib, mib=True),
        _fmt_kib(summary.per_conn_kib),
    ]


def _memory_ratio(a: Summary | None, b: Summary | None) -> str:
    if a is None or b is None or a.per_conn_kib is None or not b.per_conn_kib:
        return "-"
    return f"{a.per_conn_kib / b.per_conn_kib:.2f}x"


def memory_table(
    scenarios: Sequence[str], impls: Sequence[str], summaries: dict[tuple[str, str], Summary]
) -> str:
    """Render ``scenario | N | <impl> baseline, held (MiB), KiB/conn ... | first/second``."""
    header = ["scenario", "idle conns"]
    for impl in impls:
        header += [f"{impl} base MiB", f"{impl} held MiB", f"{impl} KiB/conn"]
    if len(impls) >= 2:
        header.append(f"{impls[0]}/{impls[1]} KiB/conn")
    rows = [header]
    for name in scenarios:
        cells = [summaries.get((name, i)) for i in impls]
        counts = [c.connections for c in cells if c is not None and c.connections]
        row = [name, f"{counts[0]:,}" if counts else "-"]
        for cell in cells:
            row += _memory_cells(cell)
        if len(impls) >= 2:
            row.append(_memory_ratio(cells[0], cells[1]))
        rows.append(row)
    return _render(rows)


def _render(rows: list[list[str]]) -> str:
    """Align ``rows`` (the first is the header) in columns separated by ``|``."""
    header = rows[0]
    widths = [max(len(r[col]) for r in rows) for col in range(len(header))]
    lines = [
        " | ".join(
            cell.ljust(w) if col == 0 else cell.rjust(w)
            for col, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def notes(summaries: dict[tuple[str, str], Summary]) -> list[str]:
    """One line per failure or warning, for printing under the table."""
    out: list[str] = []
    unavailable = sorted({impl for (_, impl), s in summaries.items() if s.unavailable})
    out += [
        f"UNAVAILABLE {impl}: could not be imported (see the log above)" for impl in unavailable
    ]
    for (scenario, impl), summary in summaries.items():
        out += [f"FAILED {scenario} [{impl}]: {_one_line(e)}" for e in summary.errors]
        out += [f"! {scenario} [{impl}]: {w}" for w in summary.warnings]
    return out


def _one_line(error: str) -> str:
    """First and last line of a multi-line error (a server's traceback): enough under a table."""
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    return error if len(lines) < 2 else f"{lines[0]} ... {lines[-1]}"


def _median_ratio(
    summaries: dict[tuple[str, str], Summary], name: str, top: str, bottom: str, field: str
) -> float | None:
    """``field``'s median for ``top`` over the same for ``bottom`` on scenario ``name``."""
    st, sb = summaries.get((name, top)), summaries.get((name, bottom))
    if st is None or sb is None:
        return None
    vt, vb = getattr(st, field), getattr(sb, field)
    return vt / vb if vt and vb else None


def _rate_ratio(
    summaries: dict[tuple[str, str], Summary], name: str, a: str, b: str
) -> float | None:
    """a's req/s (or msg/s) over b's."""
    return _median_ratio(summaries, name, a, b, "rps_median")


def _cpu_factor(
    summaries: dict[tuple[str, str], Summary], name: str, a: str, b: str
) -> float | None:
    """b's CPU per operation over a's (higher is better for a)."""
    return _median_ratio(summaries, name, b, a, "cpu_us_median")


def _p99_verdicts(
    summaries: dict[tuple[str, str], Summary], names: Sequence[str], a: str, b: str
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        sa, sb = summaries.get((name, a)), summaries.get((name, b))
        if sa is None or sb is None or sa.p99_ms is None or sb.p99_ms is None:
            continue
        out[name] = {"ok": sa.p99_ms <= sb.p99_ms, a: sa.p99_ms, b: sb.p99_ms}
    return out


def _memory_ratios(
    summaries: dict[tuple[str, str], Summary], names: Sequence[str], a: str, b: str
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name in names:
        sa, sb = summaries.get((name, a)), summaries.get((name, b))
        if sa is None or sb is None or sa.per_conn_kib is None or sb.per_conn_kib is None:
            continue
        ratio = sa.per_conn_kib / sb.per_conn_kib if sb.per_conn_kib else math.nan
        out[name] = {a: sa.per_conn_kib, b: sb.per_conn_kib, "ratio": ratio}
    return out


def headline(
    summaries: dict[tuple[str, str], Summary],
    impls: Sequence[str],
    groups: dict[str, Sequence[str]],
) -> dict[str, Any]:
    """The figures the summary quotes, first implementation against the second.

    ``groups`` names the scenarios by role: ``http`` (geometric mean), ``latency`` (p99
    compared), ``ws`` and ``memory``; ``ceiling`` is used when it is among ``impls``.
    """
    if len(impls) < 2:
        return {}
    a, b = impls[0], impls[1]
    http = {n: r for n in groups["http"] if (r := _rate_ratio(summaries, n, a, b)) is not None}
    out: dict[str, Any] = {"pair": [a, b], "http_ratios": http}
    if http:
        out["http_geomean"] = math.exp(statistics.fmean(math.log(r) for r in http.values()))
        lowest = min(http, key=lambda n: http[n])
        out["http_lowest"] = [lowest, http[lowest]]
    out["http_missing"] = [n for n in groups["http"] if n not in http]
    if "ceiling" in impls:
        # The first two, and the floors that took part (where pure Python bottoms out).
        floors = ("floor", "floor-taskless")
        shown = [a, b] + [i for i in impls if i in floors and i not in (a, b)]
        out["ceiling_pct"] = {
            n: {i: 100.0 * r for i in shown if (r := _rate_ratio(summaries, n, i, "ceiling"))}
            for n in groups["http"]
            if _rate_ratio(summaries, n, a, "ceiling") is not None
        }
    out["ws"] = {
        n: {"rate": r, "cpu": _cpu_factor(summaries, n, a, b)}
        for n in groups["ws"]
        if (r := _rate_ratio(summaries, n, a, b)) is not None
    }
    out["memory"] = _memory_ratios(summaries, groups["memory"], a, b)
    out["p99"] = _p99_verdicts(summaries, groups["latency"], a, b)
    return out


def summary_lines(head: dict[str, Any]) -> list[str]:
    """Render ``headline``'s figures as the summary printed under the tables."""
    if not head:
        return []
    a, b = head["pair"]
    lines = [
        f"summary: ratios are {a}/{b} (speed: above 1 = {a} faster; memory: below 1 = {a} smaller)"
    ]
    if "http_geomean" in head:
        names = ", ".join(head["http_ratios"])
        lines.append(f"  HTTP req/s, geometric mean: {head['http_geomean']:.2f}x ({names})")
        name, ratio = head["http_lowest"]
        lines.append(f"  lowest: {name} {ratio:.2f}x")
    if head["http_missing"]:
        lines.append(f"  not measured: {', '.join(head['http_missing'])}")
    for name, pct in head.get("ceiling_pct", {}).items():
        shown = ", ".join(f"{impl} {p:.0f}%" for impl, p in pct.items())
        lines.append(f"  {name} as % of the ceiling: {shown}")
    for name, ws in head["ws"].items():
        cpu = f", CPU per message {b}/{a} {ws['cpu']:.2f}x" if ws["cpu"] else ""
        lines.append(f"  WebSocket {name}: msg/s {ws['rate']:.2f}x{cpu}")
    for name, mem in head["memory"].items():
        lines.append(
            f"  memory {name}: {mem[a]:.2f} KiB vs {mem[b]:.2f} KiB per idle connection"
            f" = {mem['ratio']:.2f}x"
        )
    if head["p99"]:
        lines += _p99_lines(head["p99"], a, b)
    return lines


def _p99_lines(verdicts: dict[str, dict[str, Any]], a: str, b: str) -> list[str]:
    """``p99 a <= b`` per scenario: the names where it holds, the figures where it does not."""
    yes = [n for n, v in verdicts.items() if v["ok"]]
    no = [f"{n} ({v[a]:.2f} vs {v[b]:.2f} ms)" for n, v in verdicts.items() if not v["ok"]]
    lines = [f"  p99 {a} <= {b} in {len(yes)} of {len(verdicts)} scenarios"]
    if yes:
        lines.append(f"    yes: {', '.join(yes)}")
    if no:
        lines.append(f"    NO: {', '.join(no)}")
    return lines


def write_json(
    path: Path,
    meta: dict[str, Any],
    measurements: Sequence[Measurement],
    summaries: dict[tuple[str, str], Summary],
    head: dict[str, Any] | None = None,
) -> None:
    """Write metadata, every round, the medians and the headline figures to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "meta": meta,
        "headline": head or {},
        "summary": [{**asdict(s), "spread_pct": s.spread_pct} for s in summaries.values()],
        "rounds": [asdict(m) for m in measurements],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")
