"""``python -m heron.web``: serve ``package.module:init_func`` for development.

Same command line as ``python -m aiohttp.web``::

    python -m heron.web [-H HOSTNAME] [-P PORT] [-U PATH] package.module:init_func [args...]

``init_func(argv)`` receives the arguments this parser did not consume and returns an
``Application`` (or an awaitable giving one).  ``-U`` serves on a Unix socket as well as,
or (without ``-H``) instead of, TCP.
"""

from __future__ import annotations

import logging
import socket
import sys
from argparse import ArgumentParser
from collections.abc import Sequence
from importlib import import_module

from .run_app import run_app

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
        default=None,
        help="Unix socket path to serve on; combine with -H to serve on both",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Parse ``argv`` (default: ``sys.argv[1:]``), build the app, run it until stopped."""
    parser = _parser()
    args, extra_argv = parser.parse_known_args(sys.argv[1:] if argv is None else list(argv))
    mod_name, _, func_name = args.entry_func.partition(":")
    if not mod_name or not func_name:
        parser.error("'entry-func' not in 'module:function' syntax")
    if mod_name.startswith("."):
        parser.error("relative module names not supported")
    try:
        module = import_module(mod_name)
    except ImportError as exc:
        parser.error(f"unable to import {mod_name}: {exc}")
    try:
        init_func = getattr(module, func_name)
    except AttributeError:
        parser.error(f"module {mod_name!r} has no attribute {func_name!r}")
    if args.path is not None and not hasattr(socket, "AF_UNIX"):
        parser.error("file system paths not supported by your operating environment")
    logging.basicConfig(level=logging.DEBUG)
    if args.path is not None and args.hostname is None:
        host, port = None, None
    else:
        host, port = args.hostname or "localhost", args.port
    app = init_func(extra_argv)
    run_app(app, host=host, port=port, path=args.path)
    parser.exit(message="Stopped\n")
