"""Development server with auto-reload: ``heron run --reload module:init_func`` or ``script.py``.

The parent process binds the listening socket once and keeps it for its whole life.  Each
version of the app runs in a child process that inherits the socket and serves it; when a
source file changes (``watchfiles``) the parent starts a new child, waits until it serves,
then stops the old one, which stops accepting first and finishes the requests it took.
Connections that arrive in between wait in the socket's backlog: none is refused.  If the
new version fails to start, the old one keeps serving and the error is shown.

An app that calls ``web.run_app()`` itself works unchanged: in the child, ``run_app``
serves the inherited socket (its host and port arguments are ignored).  See docs/devserver.md.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import runpy
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from argparse import ArgumentParser, Namespace
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import web

__all__ = ("main",)

log = logging.getLogger("heron.devserver")

#: Set in a child: the inherited listening socket's file descriptor.
SOCKET_FD_ENV = "HERON_DEVSERVER_FD"
#: Set in a child: a pipe it writes one byte to once it serves.
READY_FD_ENV = "HERON_DEVSERVER_READY_FD"
_READY_TIMEOUT = 30.0  # a child that takes longer to start is killed
_STOP_TIMEOUT = 10.0  # an old child still busy after this long is killed
# After it stops accepting, a child waits this long before closing idle connections, so a
# connection it accepted a moment ago delivers its request (and gets an answer).
_HANDOVER_GRACE = 0.2


def _parser() -> ArgumentParser:
    parser = ArgumentParser(prog="heron", description="heron development tools")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="serve an app, restarting it when its source changes")
    run.add_argument("entry", help="'package.module:init_func' or a script path ('app.py')")
    run.add_argument("-H", "--hostname", default="localhost", help="default: localhost")
    run.add_argument("-P", "--port", type=int, default=8080, help="default: 8080 (0: any)")
    run.add_argument("--reload", action="store_true", help="restart when a .py file changes")
    run.add_argument(
        "--reload-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="directory to watch (repeatable; default: the current directory)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``heron run [--reload] [-H HOST] [-P PORT] ENTRY [ARGS...]``; returns the exit status.

    ``ENTRY`` is ``module:init_func`` (``init_func(args)`` returns an ``Application`` or
    an awaitable of one, as with ``python -m heron.web``) or a script that calls
    ``web.run_app()``; the remaining arguments go to it.
    """
    parser = _parser()
    args, extra = parser.parse_known_args(sys.argv[1:] if argv is None else list(argv))
    if args.entry.endswith(".py") and not Path(args.entry).is_file():
        parser.error(f"no such script: {args.entry}")
    if not args.entry.endswith(".py") and ":" not in args.entry:
        parser.error("the entry must be 'module:init_func' or a script path ending in .py")
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    sock = socket.create_server((args.hostname, args.port))
    if not args.reload:
        _run_entry(args.entry, extra, sock)
        return 0
    try:
        return _Supervisor(args, extra, sock).run()
    finally:
        sock.close()


# ---------------------------------------------------------------------- the parent


class _Supervisor:
    """Keeps the socket, starts a child per version of the code, hands over between them."""

    def __init__(self, args: Namespace, extra: list[str], sock: socket.socket) -> None:
        self._entry = args.entry
        self._extra = extra
        self._sock = sock
        self._dirs = [Path(d).resolve() for d in (args.reload_dir or ["."])]
        self._stop = threading.Event()

    def run(self) -> int:
        import watchfiles  # optional dependency: the "devserver" extra

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self._stop.set())
        host, port = self._sock.getsockname()[:2]
        print(f"======== heron dev server on http://{host}:{port} ========", flush=True)
        print(f"(reloading on changes in {', '.join(map(str, self._dirs))})", flush=True)
        current: subprocess.Popen[bytes] | None = None
        started = False
        try:
            for changes in watchfiles.watch(
                *self._dirs,
                watch_filter=watchfiles.PythonFilter(),
                debounce=400,
                stop_event=self._stop,
                raise_interrupt=False,
                yield_on_timeout=True,  # the first (empty) yield: the watcher is set up
                rust_timeout=200,
            ):
                if not started:
                    # Watch first, then start: an edit made while the app starts is seen.
                    current, started = self._start_child(), True
                if not changes:
                    continue
                names = sorted({Path(path).name for _, path in changes})
                log.info("changed: %s; restarting", ", ".join(names))
                new = self._start_child()
                if new is not None:
                    _stop_child(current)
                    current = new
                    log.info("reloaded")
                elif current is not None and current.poll() is None:
                    log.error("reload failed: still serving the previous version")
        finally:
            _stop_child(current)
        return 0

    def _start_child(self) -> subprocess.Popen[bytes] | None:
        """Start the app in a child; return it once it serves, or None if it failed."""
        ready_r, ready_w = os.pipe()
        fd = self._sock.fileno()
        env = {**os.environ, SOCKET_FD_ENV: str(fd), READY_FD_ENV: str(ready_w)}
        command = [sys.executable, "-m", "heron.devserver", "_child", self._entry, *self._extra]
        try:
            child = subprocess.Popen(command, env=env, pass_fds=(fd, ready_w))
        finally:
            os.close(ready_w)
        try:
            if _wait_ready(ready_r, child, _READY_TIMEOUT):
                return child
        finally:
            os.close(ready_r)
        _stop_child(child)
        return None


def _wait_ready(ready_fd: int, child: subprocess.Popen[bytes], timeout: float) -> bool:
    """True once the child reports it serves; False if it exits or times out first."""
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([ready_fd], [], [], remaining)
        if readable:
            # One byte: serving.  End of file: the child closed the pipe by exiting.
            return os.read(ready_fd, 1) == b"R"
    log.error("the app did not start within %.0f s", timeout)
    return False


def _stop_child(child: subprocess.Popen[bytes] | None) -> None:
    if child is None or child.poll() is not None:
        return
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        log.warning("the previous version did not stop within %.0f s: killed", _STOP_TIMEOUT)
        child.kill()
        child.wait()


# ---------------------------------------------------------------------- the child


def _child_main(argv: Sequence[str]) -> None:
    """Serve ``argv[0]`` (the entry) on the inherited socket; tell the parent when ready."""
    sock = socket.socket(fileno=int(os.environ.pop(SOCKET_FD_ENV)))
    ready_fd = int(os.environ.pop(READY_FD_ENV))
    logging.basicConfig(level=logging.INFO)  # access logs, as python -m heron.web shows them

    def ready() -> None:
        os.write(ready_fd, b"R")
        os.close(ready_fd)

    _run_entry(argv[0], list(argv[1:]), sock, ready)


def _run_entry(
    entry: str, extra: list[str], sock: socket.socket, ready: Callable[[], None] | None = None
) -> None:
    if entry.endswith(".py"):
        # The script's own run_app() call serves our socket, whatever host/port it names.
        web.run_app = _inherited_run_app(sock, ready)
        sys.argv = [entry, *extra]
        sys.path.insert(0, str(Path(entry).resolve().parent))
        runpy.run_path(entry, run_name="__main__")
        return
    module_name, _, func_name = entry.partition(":")
    sys.path.insert(0, os.getcwd())
    init_func = getattr(importlib.import_module(module_name), func_name)
    _inherited_run_app(sock, ready)(init_func(extra))


def _inherited_run_app(listening: socket.socket, ready: Callable[[], None] | None) -> Any:
    """A ``run_app`` that serves ``sock`` and hands over gracefully on SIGTERM/SIGINT."""

    def run_app(
        app: Any,
        *,
        host: Any = None,
        port: Any = None,
        path: Any = None,
        sock: Any = None,
        reuse_address: Any = None,
        reuse_port: Any = None,
        handle_signals: bool = True,
        loop: asyncio.AbstractEventLoop | None = None,
        **kwargs: Any,
    ) -> None:
        loop = loop or asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(_serve(app, listening, ready, **kwargs))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    return run_app


async def _serve(
    app: Any,
    sock: socket.socket,
    ready: Callable[[], None] | None,
    *,
    ssl_context: Any = None,
    backlog: int = 128,
    print: Callable[..., None] | None = print,
    **runner_kwargs: Any,
) -> None:
    if not isinstance(app, web.Application):
        app = await app
    runner = web.AppRunner(app, handle_signals=False, **runner_kwargs)
    await runner.setup()
    try:
        site = web.SockSite(runner, sock, ssl_context=ssl_context, backlog=backlog)
        await site.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        if print is not None:
            print(f"======== Running on {site.name} (pid {os.getpid()}) ========")
            sys.stdout.flush()
        if ready is not None:
            ready()
        await stop.wait()
        # Stop accepting first: connections still in the backlog go to the next version.
        # An asyncio selector loop finishes setting up an accepted connection in a task;
        # closing the server before that task runs drops the connection (CPython's
        # Server._attach asserts).  So stop the accept callback, let those tasks run, and
        # only then close the server (uvloop has no such callback: remove_reader is a no-op).
        loop.remove_reader(sock.fileno())
        for _ in range(2):
            await asyncio.sleep(0)
        await site.stop()
        await asyncio.sleep(_HANDOVER_GRACE)
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    if sys.argv[1:2] == ["_child"]:
        _child_main(sys.argv[2:])
    else:
        sys.exit(main())
