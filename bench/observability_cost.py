"""Per-request cost of heron.observability, in-process (bench/inproc.py's driver, no sockets).

    python bench/observability_cost.py [--requests 20000] [--rounds 5] [--loop asyncio]
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        python bench/observability_cost.py --only metrics --requests 2000

Serves the "plaintext" scenario with each configuration in turn, alternating them round
after round, and prints the median µs per request of each and its difference from "off":

- off: nothing enabled (the default), no access log;
- text-log: aiohttp's default format (``AccessLogger``), for comparison;
- json-log: ``JsonAccessLogger`` writing to /dev/null through a ``StreamHandler``;
- request-ids: ``request_ids.setup(app)``;
- metrics: ``metrics.setup(app)`` (single-process mode);
- json-log+metrics: both;
- all: JSON log, request ids, metrics and tracing (an SDK tracer provider, no exporter).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from app import build_app
from inproc import REQUESTS, drive

from heron import web
from heron.observability import JsonAccessLogger, metrics, request_ids, tracing


def _json_logger() -> logging.Logger:
    logger = logging.getLogger("bench.access")
    if not logger.handlers:
        logger.addHandler(logging.StreamHandler(open("/dev/null", "w")))  # noqa: SIM115
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def _tracer_provider() -> Any:
    from opentelemetry.sdk.trace import TracerProvider

    return TracerProvider()


Configure = Callable[[web.Application], dict[str, Any]]


def _off(app: web.Application) -> dict[str, Any]:
    return {"access_log": None}


def _json_log(app: web.Application) -> dict[str, Any]:
    return {"access_log": _json_logger(), "access_log_class": JsonAccessLogger}


def _text_log(app: web.Application) -> dict[str, Any]:
    return {"access_log": _json_logger()}


def _request_ids(app: web.Application) -> dict[str, Any]:
    request_ids.setup(app)
    return {"access_log": None}


def _metrics(app: web.Application) -> dict[str, Any]:
    metrics.setup(app)
    return {"access_log": None}


def _log_and_metrics(app: web.Application) -> dict[str, Any]:
    metrics.setup(app)
    return _json_log(app)


def _all(app: web.Application) -> dict[str, Any]:
    request_ids.setup(app)
    metrics.setup(app)
    tracing.setup(app, tracer_provider=_tracer_provider(), client=False)
    return _json_log(app)


CONFIGS: dict[str, Configure] = {
    "off": _off,
    "text-log": _text_log,
    "json-log": _json_log,
    "request-ids": _request_ids,
    "metrics": _metrics,
    "json-log+metrics": _log_and_metrics,
    "all": _all,
}


async def _measure(configure: Configure, requests: int) -> float:
    app = build_app(web)
    kwargs = configure(app)
    runner = web.AppRunner(app, **kwargs)
    await runner.setup()
    server = runner.server
    assert server is not None
    per_request = await drive(server, REQUESTS["plaintext"], requests)
    await runner.cleanup()
    return per_request


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument(
        "--only", choices=tuple(CONFIGS), help="one configuration, once (for callgrind)"
    )
    args = parser.parse_args(argv)
    if args.loop == "uvloop":
        import uvloop

        run: Callable[[Any], float] = uvloop.run
    else:
        run = asyncio.run
    if args.only:
        print(f"{args.only}: {run(_measure(CONFIGS[args.only], args.requests)):.2f} µs/request")
        return
    times: dict[str, list[float]] = {name: [] for name in CONFIGS}
    for _ in range(args.rounds):
        for name, configure in CONFIGS.items():
            times[name].append(run(_measure(configure, args.requests)))
    base = statistics.median(times["off"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:18s} {median:7.2f} µs/request  {median - base:+6.2f} µs  ({args.loop})")


if __name__ == "__main__":
    main()
