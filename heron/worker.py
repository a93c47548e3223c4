"""gunicorn worker classes: ``gunicorn module:init -k heron.worker.GunicornWebWorker``.

The names and the contract are aiohttp's (``aiohttp.worker``), so a deployment moves by
changing ``-k``:

- the target is an :class:`~heron.web.Application`, or an ``async`` factory returning an
  ``Application`` or an ``AppRunner`` (then the runner's own settings are used as they are);
- gunicorn's ``--keep-alive`` becomes ``keepalive_timeout``, 95 % of ``--graceful-timeout``
  becomes ``shutdown_timeout``, ``--access-logfile`` / ``--access-logformat`` feed heron's access
  log (gunicorn's default format becomes aiohttp's; gunicorn's ``%(name)s`` atoms are refused
  with a ``ValueError``, as aiohttp does: heron's atoms are aiohttp's), ``--certfile`` /
  ``--keyfile`` make the sites serve TLS, ``--max-requests`` (with its jitter) retires the worker
  gracefully once it has answered that many requests;
- the sockets gunicorn's arbiter bound are served through :class:`~heron.web.SockSite`;
- the arbiter's heartbeat is sent from inside the event loop (once a second), so a loop blocked
  longer than ``--timeout`` gets the worker killed and replaced;
- signals, as gunicorn documents them for workers: ``TERM`` graceful stop (stop accepting,
  answer with ``Connection: close`` for up to a second so keep-alive clients are told rather
  than reset, finish in-flight requests within the graceful timeout, aiohttp's shutdown
  order; ``--max-requests`` retires a worker the same way), ``QUIT`` and
  ``INT`` quick stop (running handlers are cancelled, ``on_shutdown``/``on_cleanup`` still run),
  ``USR1`` reopen the log files, ``ABRT`` exit at once (gunicorn's worker timeout);
- a failure before the sockets are served (import error, a failing factory or ``on_startup``)
  leaves the worker un-booted, so the arbiter halts instead of respawning it forever.

Importing :mod:`heron` does not import gunicorn: this module is loaded only when named
(``heron.GunicornWebWorker`` is resolved lazily).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import signal
import ssl
import sys
from types import FrameType
from typing import Any

from gunicorn.config import AccessLogFormat
from gunicorn.workers import base

from ._web.drain import drain
from .web import AccessLogger, Application, AppRunner, SockSite

__all__ = ("GunicornUVLoopWebWorker", "GunicornWebWorker")

#: How often the worker tells the arbiter it is alive (seconds), from inside the loop.
_HEARTBEAT = 1.0


class GunicornWebWorker(base.Worker):  # type: ignore[misc]
    """A gunicorn worker serving a heron application on an asyncio event loop."""

    DEFAULT_AIOHTTP_LOG_FORMAT = AccessLogger.LOG_FORMAT
    DEFAULT_GUNICORN_LOG_FORMAT = AccessLogFormat.default

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Called in the arbiter, before the fork: the loop is made in init_process.
        super().__init__(*args, **kwargs)
        self.exit_code = 0
        self.loop: asyncio.AbstractEventLoop
        self._wakeup: asyncio.Event | None = None
        self._quick = False

    # ------------------------------------------------------------------ process set-up

    def init_process(self) -> None:
        self.loop = self._new_loop()
        asyncio.set_event_loop(self.loop)
        super().init_process()

    def _new_loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.new_event_loop()

    def _signals_through_the_loop(self) -> None:
        """Signals through the loop, so a handler runs between callbacks, never inside one."""
        loop = self.loop
        loop.add_signal_handler(signal.SIGTERM, self.handle_exit, signal.SIGTERM, None)
        loop.add_signal_handler(signal.SIGQUIT, self.handle_quit, signal.SIGQUIT, None)
        loop.add_signal_handler(signal.SIGINT, self.handle_quit, signal.SIGINT, None)
        loop.add_signal_handler(signal.SIGUSR1, self.handle_usr1, signal.SIGUSR1, None)
        loop.add_signal_handler(signal.SIGWINCH, self.handle_winch, signal.SIGWINCH, None)
        loop.add_signal_handler(signal.SIGABRT, self.handle_abort, signal.SIGABRT, None)
        # Neither a graceful stop nor a log reopen should interrupt a system call.
        signal.siginterrupt(signal.SIGTERM, False)
        signal.siginterrupt(signal.SIGUSR1, False)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """``TERM``: graceful stop."""
        self.alive = False
        self._wake()

    def handle_quit(self, sig: int, frame: FrameType | None) -> None:
        """``QUIT``/``INT``: quick stop (handlers are cancelled, cleanup still runs)."""
        self.alive = False
        self._quick = True
        self.cfg.worker_int(self)
        self._wake()

    def handle_abort(self, sig: int, frame: FrameType | None) -> None:
        """``ABRT`` (the arbiter's timeout): leave now."""
        self.alive = False
        self.exit_code = 1
        self.cfg.worker_abort(self)
        sys.exit(1)

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    # ------------------------------------------------------------------ serving

    def run(self) -> None:
        # gunicorn marks the worker booted before run(); here booting (the factory, on_startup,
        # the sites) happens inside run(): a failure there must halt the arbiter, not respawn.
        self.booted = False
        try:
            self.loop.run_until_complete(self._serve())
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()
        sys.exit(self.exit_code)

    async def _serve(self) -> None:
        # Until now gunicorn's own init_signals handlers (plain ones, which also reset the
        # arbiter's SIGCHLD handler) were in place: uvloop drops a signal that arrives while
        # its loop is not running, so a TERM during the app's import would have been lost.
        self._signals_through_the_loop()
        runner = await self._make_runner()
        await runner.setup()
        beating: asyncio.Task[None] | None = None
        try:
            ssl_context = self._ssl_context() if self.cfg.is_ssl else None
            for listener in self.sockets:
                # gunicorn wraps each socket; the loop wants the socket itself.
                sock = getattr(listener, "sock", listener)
                await SockSite(runner, sock, ssl_context=ssl_context).start()
            self.booted = True
            await self._watch(runner)
            # A graceful stop may take up to the graceful timeout: the arbiter must not take
            # the worker for a hung one meanwhile.
            beating = self.loop.create_task(self._keep_beating())
            if not self._quick:
                # Graceful: stop accepting (what is queued goes to the other workers), let
                # keep-alive clients learn from a "Connection: close" answer rather than a
                # reset, and read requests already in the sockets before closing idle ones.
                await drain(runner)
        finally:
            if self._quick:
                runner._shutdown_timeout = 0.0
            try:
                await runner.cleanup()
            finally:
                if beating is not None:
                    beating.cancel()

    async def _keep_beating(self) -> None:
        while True:
            self.notify()
            await asyncio.sleep(_HEARTBEAT)

    async def _make_runner(self) -> AppRunner:
        target = self.wsgi
        if isinstance(target, Application):
            app = target
        elif inspect.iscoroutinefunction(target):
            made = await target()
            if isinstance(made, AppRunner):
                return made
            if not isinstance(made, Application):
                raise RuntimeError(
                    f"the app factory {target!r} returned {made!r}: "
                    "expected a heron Application or AppRunner"
                )
            app = made
        else:
            raise RuntimeError(
                "wsgi app should be either Application or async function returning "
                f"Application, got {target!r}"
            )
        access_log = self.log.access_log if self.cfg.accesslog else None
        return AppRunner(
            app,
            logger=self.log.error_log,
            access_log=access_log,
            access_log_format=self._get_valid_log_format(self.cfg.access_log_format),
            keepalive_timeout=self.cfg.keepalive,
            shutdown_timeout=self.cfg.graceful_timeout / 100 * 95,
        )

    async def _watch(self, runner: AppRunner) -> None:
        """Beat for the arbiter until told to stop, the request budget is spent or the
        arbiter is gone."""
        server = runner.server
        assert server is not None
        wakeup = self._wakeup = asyncio.Event()
        pid = os.getpid()
        while self.alive:
            self.notify()
            if server.requests_count >= self.max_requests:
                self.alive = False
                self.log.info("Max requests, shutting down: %s", self)
            elif pid == os.getpid() and self.ppid != os.getppid():
                self.alive = False
                self.log.info("Parent changed, shutting down: %s", self)
            else:
                # The next beat, or at once when a signal sets the event.
                wakeup.clear()
                beat = self.loop.call_later(_HEARTBEAT, wakeup.set)
                await wakeup.wait()
                beat.cancel()

    def _ssl_context(self) -> ssl.SSLContext:
        """The TLS context gunicorn's settings describe (its ``ssl_context`` hook included)."""
        from gunicorn import sock

        context: ssl.SSLContext = sock.ssl_context(self.cfg)
        return context

    def _get_valid_log_format(self, source_format: str) -> str:
        """gunicorn's ``access_log_format`` as heron's: its default becomes aiohttp's;
        gunicorn's own ``%(name)s`` atoms are refused (heron's atoms are aiohttp's)."""
        if source_format == self.DEFAULT_GUNICORN_LOG_FORMAT:
            return self.DEFAULT_AIOHTTP_LOG_FORMAT
        if re.search(r"%\([^\)]+\)", source_format):
            raise ValueError(
                "Gunicorn's style options in form of `%(name)s` are not supported for the "
                "log formatting. Please use aiohttp's format specification to configure "
                "access log formatting: http://docs.aiohttp.org/en/stable/logging.html"
                "#format-specification"
            )
        return source_format


class GunicornUVLoopWebWorker(GunicornWebWorker):
    """:class:`GunicornWebWorker` on uvloop's event loop."""

    def _new_loop(self) -> asyncio.AbstractEventLoop:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        return loop
