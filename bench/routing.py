"""Routing benchmark: req/s of heron and aiohttp with 10, 100 and 1000 routes.

    python bench/routing.py                      # 3 rounds of 10 s per size, heron vs aiohttp
    python bench/routing.py --rounds 5 --duration 5
    python bench/routing.py --sizes 10,1000,5000 --smoke

Each size N serves ``bench/app.py`` with N API routes (plain and dynamic mixed, the hit one
``/api/v1/items/{item_id}`` registered last) and requests
``/api/v1/items/42?fields=name,price``. It is ``run.py --scenarios routes-N,...`` with the
same conventions: a fresh server per measurement pinned to CPU 0, wrk pinned to CPU 1
(taskset), heron and aiohttp alternated round by round, medians in the table, every
round in ``bench/results/``. Options other than ``--sizes`` are passed to ``run.py``.

If heron's resolution cost does not grow with the number of routes, its req/s stays flat
from 10 to 1000 routes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import run
from scenarios import ROUTING_SIZES


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``--sizes`` and hand everything else to ``run.main``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sizes",
        default=",".join(str(n) for n in ROUTING_SIZES),
        help="comma list of route-table sizes (default: %(default)s)",
    )
    args, rest = parser.parse_known_args(argv)
    sizes = [int(part) for part in args.sizes.split(",") if part.strip()]
    if not sizes or min(sizes) < 1:
        parser.error("--sizes needs positive integers")
    if any(arg == "--scenarios" or arg.startswith("--scenarios=") for arg in rest):
        parser.error("use --sizes, not --scenarios")
    scenarios = ",".join(f"routes-{n}" for n in sizes)
    return run.main(["--scenarios", scenarios, *rest])


if __name__ == "__main__":
    sys.exit(main())
