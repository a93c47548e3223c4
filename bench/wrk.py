"""Drive wrk and parse its ``--latency`` report.

wrk prints durations with a unit that changes with the magnitude (``850.00us``, ``1.23ms``,
``2.00s``, ``1.00m``); everything here is normalised to milliseconds.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from process import die_with_parent

INSTALL_HINT = (
    "wrk is not installed. Install it with:\n"
    "    apt-get update && apt-get install -y wrk      (as root)\n"
    "or run bench/install.sh as root."
)

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_DURATION_RE = re.compile(r"([\d.]+)(us|ms|s|m|h)")
_PERCENTILE_RE = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+(\S+)\s*$", re.MULTILINE)
_RPS_RE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_REQUESTS_RE = re.compile(r"^\s*(\d+) requests in ([\d.]+\w+),", re.MULTILINE)
_NON2XX_RE = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_RE = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", re.MULTILINE
)


class WrkError(Exception):
    """wrk failed, timed out, or printed something this parser does not understand."""


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    requests_per_sec: float
    latency_ms: dict[str, float]  # "p50", "p75", "p90", "p99"
    requests: int
    duration_ms: float
    non_2xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        """Total socket errors (connect + read + write + timeout)."""
        return sum(self.socket_errors.values())


def find_wrk() -> str | None:
    """Return the path of the wrk binary, or None."""
    return shutil.which("wrk")


def wrk_version(wrk: str) -> str:
    """Return wrk's version line (wrk prints it on ``-v``, with a non-zero status)."""
    proc = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10, check=False)
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def parse_duration_ms(text: str) -> float:
    """Convert a wrk duration such as ``850.00us``, ``1.23ms`` or ``2.00s`` to milliseconds."""
    match = _DURATION_RE.fullmatch(text.strip())
    if not match:
        raise WrkError(f"unparsable wrk duration {text!r}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]


def parse_output(output: str) -> WrkResult:
    """Parse the stdout of ``wrk --latency``."""
    rps = _RPS_RE.search(output)
    total = _REQUESTS_RE.search(output)
    percentiles = {f"p{p}": parse_duration_ms(v) for p, v in _PERCENTILE_RE.findall(output)}
    if not rps or not total or "p99" not in percentiles:
        raise WrkError(f"cannot parse wrk output:\n{output}")
    non_2xx = _NON2XX_RE.search(output)
    sock = _SOCKET_RE.search(output)
    socket_errors = (
        dict(zip(("connect", "read", "write", "timeout"), map(int, sock.groups()), strict=True))
        if sock
        else {}
    )
    return WrkResult(
        requests_per_sec=float(rps.group(1)),
        latency_ms=percentiles,
        requests=int(total.group(1)),
        duration_ms=parse_duration_ms(total.group(2)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=socket_errors,
    )


@dataclass(frozen=True)
class WrkCommand:
    """How to invoke wrk for one run."""

    wrk: str
    url: str
    duration_s: int
    connections: int
    threads: int = 1
    script: Path | None = None
    script_args: tuple[str, ...] = ()
    cpu: int | None = None  # pin wrk to this CPU with taskset

    def argv(self) -> list[str]:
        """Return the full command line."""
        prefix = ["taskset", "-c", str(self.cpu)] if self.cpu is not None else []
        cmd = [
            self.wrk,
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{self.duration_s}s",
            "--latency",
        ]
        if self.script is not None:
            cmd += ["-s", str(self.script)]
        cmd.append(self.url)
        if self.script_args:
            cmd += ["--", *self.script_args]
        return prefix + cmd


def run(command: WrkCommand, grace_s: float = 30.0) -> WrkResult:
    """Run wrk (bounded by its duration plus ``grace_s``) and parse its report."""
    argv = command.argv()
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=command.duration_s + grace_s,
            check=False,
            preexec_fn=die_with_parent,
        )
    except subprocess.TimeoutExpired as exc:
        raise WrkError(f"wrk did not finish within {command.duration_s + grace_s:.0f}s") from exc
    if proc.returncode != 0:
        raise WrkError(f"wrk exited {proc.returncode}: {proc.stderr.strip() or proc.stdout}")
    return parse_output(proc.stdout)
