"""Serve the benchmark app with one implementation, pinned to one CPU.

    python bench/serve.py --impl heron|aiohttp|ceiling|floor|floor-taskless --port P
                          [--routes N] [--cpu 0] [--static-dir D] [--backlog B]
    python bench/serve.py --impl heron --check      # import only, print the version

Imports the implementation's ``web`` module (``heron.web`` or ``aiohttp.web``), installs uvloop
when available, raises its open-file limit (RLIMIT_NOFILE) to the hard limit (the memory
scenarios hold 10,000 connections), builds ``app.build_app(web, routes=N, static_dir=D)`` and
calls ``web.run_app`` on 127.0.0.1 with ``backlog=B``.
Prints one line starting with ``READY`` when listening (``bench/run.py`` does not rely on it:
it polls the port). ``ceiling`` serves canned bytes with bare uvloop + httptools instead;
``floor`` the leanest aiohttp-shaped framework (``floor.py``), ``floor-taskless`` the same
without a Task per request.
The checkout's own ``heron`` (the parent of ``bench/``) wins over any installed copy.
Exit status 3 means the implementation could not be imported.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import resource
import sys
import warnings
from pathlib import Path
from types import ModuleType

from app import DEFAULT_ROUTES, build_app

REPO_ROOT = Path(__file__).resolve().parent.parent
IMPL_MODULES = {
    "heron": "heron.web",
    "aiohttp": "aiohttp.web",
    "ceiling": "ceiling",
    "floor": "floor",
    "floor-taskless": "floor",
}
#: A bare server's entry point in its module, when it is not ``serve``.
SERVE_FUNCTIONS = {"floor-taskless": "serve_taskless"}
VERSION_MODULES = {
    "heron": "heron",
    "aiohttp": "aiohttp",
    "ceiling": "httptools",
    "floor": "httptools",
    "floor-taskless": "httptools",
}
#: Not frameworks: servers with their own ``serve()`` that only answer the plaintext path.
BARE = frozenset({"ceiling", "floor", "floor-taskless"})
HOST = "127.0.0.1"
EXIT_IMPORT_ERROR = 3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", choices=IMPL_MODULES, required=True)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--check", action="store_true", help="import, print version, exit")
    parser.add_argument("--routes", type=int, default=DEFAULT_ROUTES, help="API route count")
    parser.add_argument("--cpu", type=int, default=0, help="CPU to pin to; -1: no pinning")
    parser.add_argument("--static-dir", help="serve this directory at /static (add_static)")
    parser.add_argument("--backlog", type=int, default=128, help="listen backlog (run_app's)")
    return parser.parse_args(argv)


def raise_nofile_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (best effort); return the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft
        return target
    return soft


def pin_to_cpu(cpu: int) -> str:
    """Pin this process to ``cpu`` when possible; return a short description of what happened."""
    if cpu < 0:
        return "not pinned"
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    if cpu not in os.sched_getaffinity(0):
        return f"not pinned (cpu {cpu} unavailable)"
    os.sched_setaffinity(0, {cpu})
    return f"cpu {cpu}"


def install_uvloop() -> str:
    """Make new event loops uvloop ones when uvloop is installed; return the loop's name."""
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # policies are deprecated on 3.14+
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return f"uvloop {getattr(uvloop, '__version__', '?')}"


def import_impl(impl: str) -> ModuleType:
    """Import and return ``impl``'s module; exit with status 3 and one clear line if it fails."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(1, str(REPO_ROOT))  # after bench/: benchmark the checkout's heron
    name = IMPL_MODULES[impl]
    try:
        return importlib.import_module(name)
    except Exception as exc:  # any failure to import is a finding to report, not to hide
        print(f"IMPORT-ERROR cannot import {name}: {type(exc).__name__}: {exc}", flush=True)
        sys.exit(EXIT_IMPORT_ERROR)


def describe(impl: str) -> str:
    """``<package> <version>`` for an imported implementation."""
    package = VERSION_MODULES[impl]
    version = getattr(sys.modules.get(package), "__version__", "?")
    return f"{package} {version}"


def ready(message: str) -> None:
    """Print the one-line readiness message, whatever multi-line text the caller passes."""
    first = message.strip().splitlines()[0] if message.strip() else "listening"
    print(f"READY {first}", flush=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    args = parse_args(argv)
    module = import_impl(args.impl)
    if args.check:
        print(f"{describe(args.impl)} ({module.__name__} from {module.__file__})", flush=True)
        return
    pinned = pin_to_cpu(args.cpu)
    nofile = raise_nofile_limit()
    if args.impl in BARE:
        print(f"serve: {describe(args.impl)} pinned={pinned}", flush=True)
        getattr(module, SERVE_FUNCTIONS.get(args.impl, "serve"))(HOST, args.port, ready)
        return
    loop_name = install_uvloop()
    print(
        f"serve: {describe(args.impl)} loop={loop_name} pinned={pinned} nofile={nofile}",
        flush=True,
    )
    app = build_app(module, routes=args.routes, static_dir=args.static_dir)
    module.run_app(
        app, host=HOST, port=args.port, access_log=None, print=ready, backlog=args.backlog
    )


if __name__ == "__main__":
    main()
