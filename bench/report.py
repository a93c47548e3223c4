"""Aggregate per-round measurements into medians, print the table, write the JSON."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from wrk import WrkResult

NOT_APPLICABLE = "n/a"


@dataclass
class Measurement:
    """One (scenario, implementation, round): a wrk result, or why there is none."""

    scenario: str
    impl: str
    round: int
    result: WrkResult | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    #: Server CPU time (user + system) per request during the measured run.
    cpu_us_per_req: float | None = None


@dataclass
class Summary:
    """Medians over the successful rounds of one (scenario, implementation)."""

    scenario: str
    impl: str
    rounds_ok: int = 0
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

    @property
    def spread_pct(self) -> float:
        """Half the min-max range of req/s over rounds, in % of the median: the noise."""
        if not self.rps_median or self.rps_min is None or self.rps_max is None:
            return 0.0
        return 50.0 * (self.rps_max - self.rps_min) / self.rps_median


def summarise(scenario: str, impl: str, measurements: Sequence[Measurement]) -> Summary:
    """Median req/s and latency percentiles over the rounds that produced a result."""
    summary = Summary(scenario=scenario, impl=impl)
    results = [m.result for m in measurements if m.result is not None]
    summary.errors = sorted({m.error for m in measurements if m.error})
    summary.warnings = sorted({w for m in measurements for w in m.warnings})
    if not results:
        return summary
    rps = [r.requests_per_sec for r in results]
    summary.rounds_ok = len(results)
    summary.rps_median = statistics.median(rps)
    summary.rps_min, summary.rps_max = min(rps), max(rps)
    summary.p50_ms = statistics.median(r.latency_ms["p50"] for r in results)
    summary.p99_ms = statistics.median(r.latency_ms["p99"] for r in results)
    cpu = [m.cpu_us_per_req for m in measurements if m.cpu_us_per_req is not None]
    summary.cpu_us_median = statistics.median(cpu) if cpu else None
    return summary


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


def _fmt_ms(summary: Summary | None) -> str:
    if summary is None or summary.p99_ms is None:
        return NOT_APPLICABLE if summary is not None and summary.not_applicable else "-"
    ms = summary.p99_ms
    return f"{ms * 1000:.0f}us" if ms < 1 else f"{ms:.2f}ms"


def _ratio(a: Summary | None, b: Summary | None) -> str:
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
    scenarios: Sequence[str], impls: Sequence[str], summaries: dict[tuple[str, str], Summary]
) -> str:
    """Render ``scenario | <impl> req/s ... | first/second | <impl> p99 ...`` as text."""
    header = ["scenario", *(f"{i} req/s" for i in impls)]
    if len(impls) >= 2:
        header.append(f"{impls[0]}/{impls[1]}")
    header += [f"{i} p99" for i in impls]
    header += [f"{i} CPU us/req" for i in impls]
    if len(impls) >= 2:
        header.append("CPU ratio")
    rows = [header]
    for name in scenarios:
        cells = [summaries.get((name, i)) for i in impls]
        row = [name, *(_fmt_rps(c) for c in cells)]
        if len(impls) >= 2:
            row.append(_ratio(cells[0], cells[1]))
        row += [_fmt_ms(c) for c in cells]
        row += [_fmt_cpu(c) for c in cells]
        if len(impls) >= 2:
            row.append(_cpu_ratio(cells[0], cells[1]))
        rows.append(row)
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


def write_json(
    path: Path,
    meta: dict[str, Any],
    measurements: Sequence[Measurement],
    summaries: dict[tuple[str, str], Summary],
) -> None:
    """Write metadata, every round, and the medians to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "meta": meta,
        "summary": [{**asdict(s), "spread_pct": s.spread_pct} for s in summaries.values()],
        "rounds": [asdict(m) for m in measurements],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")
