"""``python -m heron.web``: serve ``package.module:init_func``, in one process or in workers.

Same command line as ``python -m aiohttp.web``, plus the options of a production server::

    python -m heron.web [-H HOSTNAME] [-P PORT] [-U PATH] [--fd N] [--workers N]
                        [--timeout S] [--graceful-timeout S] [--max-requests N]
                        [--max-requests-jitter N] [--backlog N] [--loop asyncio|uvloop]
                        [--log-level LEVEL] package.module:init_func [args...]

``init_func(argv)`` receives the arguments this parser did not consume and returns an
``Application`` (or an awaitable giving one).  ``-U`` serves on a Unix socket as well as,
or (without ``-H``) instead of, TCP.  Without ``--workers`` the app runs in this process
under ``run_app``; with it, a supervisor forks that many workers (``supervisor.py``) and
each one imports and builds the app.  See docs/deployment.md.
"""

from __future__ import annotations

import importlib.util
import logging
import socket
import sys
from argparse import ArgumentParser, BooleanOptionalAction, Namespace
from collections.abc import Sequence
from typing import Any

from .._util.systemd import Notifier, activated
from .listeners import Listeners
from .run_app import run_app
from .supervisor import Supervisor, SupervisorOptions
from .worker_process import WorkerOptions, load_entry, new_event_loop

__all__ = ("main",)


def _parser() -> ArgumentParser:
    parser = ArgumentParser(description="heron.web Application server", prog="heron.web")
    parser.add_argument(
        "entry_func",
        metavar="entry-func",
        help="callable returning the heron.web.Application to run, as 'module:function'",
    )
    parser.add_argument(
        "-H", "--hostname", default=None, help="TCP/IP hostname to serve on (default: localhost)"
    )
    parser.add_argument(
        "-P", "--port", type=int, default=8080, help="TCP/IP port to serve on (default: 8080)"
    )
    parser.add_argument(
        "-U",
        "--path",
        "--uds",
        default=None,
        help="Unix socket path to serve on; combine with -H to serve on both",
    )
    parser.add_argument(
        "--fd",
        type=int,
        action="append",
        default=[],
        metavar="N",
        help="serve on the inherited listening socket N (repeatable)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="serve with N worker processes under a supervisor (default: 0, this process)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="kill a worker whose event loop has been blocked this long (0: never; default 30)",
    )
    parser.add_argument(
        "--graceful-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="time running requests get at shutdown (default 60)",
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=0,
        metavar="N",
        help="replace a worker after N requests (0: never)",
    )
    parser.add_argument(
        "--max-requests-jitter",
        type=int,
        default=0,
        metavar="N",
        help="add a random 0..N to each worker's --max-requests",
    )
    parser.add_argument(
        "--reuse-port",
        action=BooleanOptionalAction,
        default=hasattr(socket, "SO_REUSEPORT"),
        help="with --workers: each worker gets its own SO_REUSEPORT TCP socket, which spreads "
        "connections evenly (default where the OS has it; --no-reuse-port: one shared socket)",
    )
    parser.add_argument("--backlog", type=int, default=128, help="listen backlog (default 128)")
    parser.add_argument(
        "--loop", choices=("asyncio", "uvloop"), default="asyncio", help="event loop"
    )
    parser.add_argument(
        "--log-level",
        default="debug",
        choices=("debug", "info", "warning", "error", "critical"),
        help="logging level (default: debug, which shows the access log)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Parse ``argv`` (default: ``sys.argv[1:]``), then serve the app until stopped."""
    parser = _parser()
    args, extra_argv = parser.parse_known_args(sys.argv[1:] if argv is None else list(argv))
    mod_name, _, func_name = args.entry_func.partition(":")
    if not mod_name or not func_name:
        parser.error("'entry-func' not in 'module:function' syntax")
    if mod_name.startswith("."):
        parser.error("relative module names not supported")
    if args.path is not None and not hasattr(socket, "AF_UNIX"):
        parser.error("file system paths not supported by your operating environment")
    if args.workers < 0:
        parser.error("--workers must be 0 or more")
    if args.loop == "uvloop" and importlib.util.find_spec("uvloop") is None:
        parser.error("--loop uvloop needs uvloop: pip install 'heron[speed]'")
    logging.basicConfig(level=args.log_level.upper())
    if args.workers:
        # The supervisor never imports the app: each worker does, so a reload loads new code.
        sys.exit(_supervise(parser, args, extra_argv))
    try:
        init_func = load_entry(args.entry_func)
    except ImportError as exc:
        parser.error(f"unable to import {mod_name}: {exc}")
    except AttributeError:
        parser.error(f"module {mod_name!r} has no attribute {func_name!r}")
    _serve_here(args, init_func(extra_argv))
    parser.exit(message="Stopped\n")


def _serve_here(args: Namespace, app: Any) -> None:
    """Serve in this process with ``run_app``."""
    notifier = Notifier()
    kwargs: dict[str, Any] = {}
    listeners = None
    if args.fd or activated():
        listeners = _open(args)
        kwargs["sock"] = listeners.sockets
    elif args.path is not None and args.hostname is None:
        kwargs.update(host=None, port=None, path=args.path)
    else:
        kwargs.update(host=args.hostname or "localhost", port=args.port, path=args.path)

    def announce(*lines: Any) -> None:  # run_app prints once every site listens
        print(*lines, flush=True)
        notifier.ready()

    try:
        run_app(
            app,
            shutdown_timeout=args.graceful_timeout,
            backlog=args.backlog,
            print=announce,
            loop=new_event_loop(args.loop),
            **kwargs,
        )
    finally:
        notifier.stopping()
        if listeners is not None:
            listeners.close()


def _open(args: Namespace, *, reuse_port: bool = False) -> Listeners:
    return Listeners.open(
        host=args.hostname,
        port=args.port,
        uds=[args.path] if args.path is not None else [],
        fds=args.fd,
        backlog=args.backlog,
        reuse_port=reuse_port,
    )


def _supervise(parser: ArgumentParser, args: Namespace, extra_argv: list[str]) -> int:
    try:
        listeners = _open(args, reuse_port=args.reuse_port)
    except (OSError, ValueError) as exc:
        parser.error(f"cannot listen: {exc}")
    try:
        worker = WorkerOptions(
            entry=args.entry_func,
            argv=tuple(extra_argv),
            heartbeat_interval=_heartbeat_interval(args.timeout),
            # aiohttp's gunicorn worker gives running handlers 95 % of the graceful timeout,
            # so the worker's own cleanup still fits before the supervisor kills it.
            shutdown_timeout=args.graceful_timeout * 0.95,
            loop=args.loop,
            backlog=args.backlog,
        )
        options = SupervisorOptions(
            workers=args.workers,
            timeout=args.timeout,
            graceful_timeout=args.graceful_timeout,
            max_requests=args.max_requests,
            max_requests_jitter=args.max_requests_jitter,
        )
        print(
            f"======== Running on {', '.join(listeners.names())} "
            f"with {args.workers} workers ========",
            flush=True,
        )
        return Supervisor(options, worker, listeners).run()
    finally:
        listeners.close()


def _heartbeat_interval(timeout: float) -> float:
    """Beat often enough that a few lost beats never look like a blocked loop."""
    if timeout <= 0:
        return 1.0
    return min(1.0, max(0.05, timeout / 4))
