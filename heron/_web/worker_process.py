"""One worker of the supervisor: import the app, serve the inherited sockets, beat from the loop.

A worker is forked from the supervisor before any event loop exists; it imports the app's
module itself (so each new worker runs the code on disk now), builds the app with
``init_func(argv)``, and serves the listening sockets it inherited with an ``AppRunner`` and
one ``SockSite`` each.  SIGTERM or SIGINT stops it: it stops accepting, drains its keep-alive
connections (``Connection: close`` on each answer, for up to a second), then
``AppRunner.cleanup()`` runs aiohttp's shutdown order, as under ``run_app``.

It talks to the supervisor through the write end of a pipe, one byte per message:

- ``READY`` once every site listens;
- ``HEARTBEAT`` every ``heartbeat_interval`` seconds, sent by a callback *on the worker's
  event loop*: a loop blocked by a handler stops beating, and the supervisor kills the worker
  once its last beat is older than its timeout;
- ``RECYCLE`` once the worker has served ``max_requests`` requests: the supervisor starts a
  replacement and stops this worker when the replacement is ready.

Nothing here runs per request: the request count is read from the server at each beat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from .app import Application
from .drain import drain
from .run_app import close_loop
from .runners import AppRunner, SockSite

__all__ = (
    "HEARTBEAT",
    "READY",
    "RECYCLE",
    "WorkerOptions",
    "load_entry",
    "new_event_loop",
    "run_worker",
)

READY = b"R"
HEARTBEAT = b"."
RECYCLE = b"M"

#: Exit status of a worker whose app could not be imported or built (gunicorn's value).
BOOT_ERROR = 3

log = logging.getLogger("heron.worker")


@dataclass(frozen=True)
class WorkerOptions:
    """What a worker needs to know; built by the supervisor, passed across ``fork``."""

    entry: str
    """``"package.module:init_func"``; ``init_func(argv)`` returns an app or an awaitable."""
    argv: tuple[str, ...] = ()
    heartbeat_interval: float = 1.0
    shutdown_timeout: float = 60.0
    """Seconds running handlers get at shutdown (``AppRunner``'s ``shutdown_timeout``)."""
    max_requests: int = 0
    """Ask to be replaced after this many requests (0: never)."""
    loop: str = "asyncio"
    """``"asyncio"`` or ``"uvloop"``."""
    backlog: int = 2048
    """The listen backlog (asyncio calls ``listen()`` again on an adopted socket)."""
    runner_kwargs: dict[str, Any] = field(default_factory=dict)
    """More ``AppRunner`` keywords (``keepalive_timeout``, access log settings, limits)."""


def load_entry(entry: str) -> Callable[..., Any]:
    """Import ``"module:function"`` and return the function (ImportError/AttributeError)."""
    module_name, _, func_name = entry.partition(":")
    return getattr(import_module(module_name), func_name)  # type: ignore[no-any-return]


def new_event_loop(kind: str) -> asyncio.AbstractEventLoop:
    """A fresh loop of the given kind (``"asyncio"`` or ``"uvloop"``)."""
    if kind == "uvloop":
        import uvloop  # optional: the "speed" extra

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


class _Channel:
    """The write end of the pipe to the supervisor; writes never block the loop."""

    __slots__ = ("_fd", "_parent")

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._parent = os.getppid()
        os.set_blocking(fd, False)

    def send(self, message: bytes) -> bool:
        """False once the supervisor is gone (the worker should stop then)."""
        if os.getppid() != self._parent:
            return False
        try:
            os.write(self._fd, message)
        except BlockingIOError:
            pass  # the supervisor is behind on reading; a lost beat is harmless
        except OSError:
            return False
        return True


def run_worker(options: WorkerOptions, sockets: Sequence[socket.socket], status_fd: int) -> int:
    """Serve until stopped; return the exit status (``BOOT_ERROR`` if the app cannot start).

    Call in a freshly forked child whose signal handlers are back to their defaults.
    """
    # The supervisor's signals: a HUP or TTIN/TTOU sent to the whole process group must not
    # stop a worker (TTIN/TTOU stop a process by default).
    for signum in (signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU):
        signal.signal(signum, signal.SIG_IGN)
    channel = _Channel(status_fd)
    try:
        init_func = load_entry(options.entry)
    except Exception:
        log.exception("cannot import %s", options.entry)
        return BOOT_ERROR
    loop = new_event_loop(options.loop)
    asyncio.set_event_loop(loop)
    main = loop.create_task(_serve(init_func, options, sockets, channel))
    try:
        return loop.run_until_complete(main)
    finally:
        close_loop(loop, main)


async def _serve(
    init_func: Callable[..., Any],
    options: WorkerOptions,
    sockets: Sequence[socket.socket],
    channel: _Channel,
) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # A quick stop (the supervisor's SIGQUIT): exit now, as gunicorn's workers do.
    loop.add_signal_handler(signal.SIGQUIT, os._exit, 0)
    runner: AppRunner | None = None
    beat = _Heartbeat(loop, channel, options, stop, lambda: runner)
    beat.start()
    try:
        try:
            app = init_func(list(options.argv))
            if not isinstance(app, Application):
                app = await app
            runner = AppRunner(
                app,
                handle_signals=False,
                shutdown_timeout=options.shutdown_timeout,
                **options.runner_kwargs,
            )
            await runner.setup()
            sites = [SockSite(runner, sock, backlog=options.backlog) for sock in sockets]
            for site in sites:
                await site.start()
        except Exception:
            log.exception("the app failed to start")
            return BOOT_ERROR
        channel.send(READY)
        await stop.wait()
        await _drain_delay(loop, runner)
        await drain(runner)
        return 0  # the cleanup below closes the idle connections before it yields
    finally:
        try:
            if runner is not None:
                await runner.cleanup()
        finally:
            # Beating on through the shutdown: handlers may run longer than --timeout.
            beat.cancel()
            sys.stdout.flush()


async def _drain_delay(loop: asyncio.AbstractEventLoop, runner: AppRunner) -> None:
    """Serve on, reporting not ready, for the app's drain delay (``health.setup``; none
    without it), so a load balancer stops sending first; a second signal cuts it short."""
    delay = runner.begin_drain()
    if delay <= 0:
        return
    again = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, again.set)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(again.wait(), delay)


class _Heartbeat:
    """Beats from the loop; asks for recycling after ``max_requests``; stops an orphan."""

    __slots__ = ("_asked", "_channel", "_handle", "_loop", "_options", "_runner", "_stop")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        channel: _Channel,
        options: WorkerOptions,
        stop: asyncio.Event,
        runner: Callable[[], AppRunner | None],
    ) -> None:
        self._loop = loop
        self._channel = channel
        self._options = options
        self._stop = stop
        self._runner = runner
        self._asked = False
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._beat()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _beat(self) -> None:
        message = HEARTBEAT
        limit = self._options.max_requests
        if limit and not self._asked:
            runner = self._runner()
            server = runner.server if runner is not None else None
            if server is not None and server.requests_count >= limit:
                self._asked = True
                message = RECYCLE
        if not self._channel.send(message):
            log.warning("the supervisor is gone: stopping")
            self._stop.set()
        self._handle = self._loop.call_later(self._options.heartbeat_interval, self._beat)
