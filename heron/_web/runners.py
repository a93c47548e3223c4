"""Runners and sites: start an app (or low-level server) and stop it gracefully.

``AppRunner(app)`` runs the app's start-up signals and builds a ``Server``;
sites (``TCPSite``, ``UnixSite``, ``SockSite``) listen for it.  ``cleanup()``
shuts down in aiohttp's order: stop listening, close idle keep-alive
connections, ``on_shutdown``, wait for running handlers (up to
``shutdown_timeout``), close the remaining connections, ``on_cleanup``.
"""

from __future__ import annotations

import asyncio
import asyncio.selector_events
import signal
import socket
import ssl
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from yarl import URL

from .app import AppKey, Application
from .log import AbstractAccessLogger, AccessLogger
from .lowlevel import Server

__all__ = (
    "SIGTERM_DRAIN",
    "AppRunner",
    "BaseRunner",
    "BaseSite",
    "GracefulExit",
    "NamedPipeSite",
    "ServerRunner",
    "SockSite",
    "TCPSite",
    "UnixSite",
)


class GracefulExit(SystemExit):
    """Raised by the signal handlers to stop ``run_app``."""

    code = 1


def _raise_graceful_exit() -> None:
    raise GracefulExit()


#: Application key: a callable run once when the server is asked to stop (SIGTERM under
#: ``handle_signals``, or a supervisor's worker told to stop); it returns the seconds to
#: keep serving, listeners open, before the graceful shutdown begins, so a load balancer
#: that polls readiness stops sending first.  ``heron.observability.health`` sets it.
SIGTERM_DRAIN: AppKey[Callable[[], float]] = AppKey("SIGTERM_DRAIN")


def _sockets_of(server: asyncio.AbstractServer | None) -> list[Any]:
    """The listening sockets of an asyncio or uvloop server (uvloop's is not asyncio.Server)."""
    return list(getattr(server, "sockets", None) or ())


class BaseSite(ABC):
    """Somewhere a runner's server listens."""

    __slots__ = ("_backlog", "_runner", "_server", "_ssl_context")

    def __init__(
        self,
        runner: BaseRunner,
        *,
        shutdown_timeout: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 128,
    ) -> None:
        if runner.server is None:
            raise RuntimeError("Call runner.setup() before making a site")
        self._runner = runner
        self._ssl_context = ssl_context
        self._backlog = backlog
        self._server: asyncio.AbstractServer | None = None

    @property
    @abstractmethod
    def name(self) -> str:
        """A URL describing where the site listens."""

    @abstractmethod
    async def start(self) -> None:
        self._runner._reg_site(self)

    async def stop(self) -> None:
        """Stop listening (connections already open are the runner's to close)."""
        self._runner._check_site(self)
        server = self._server
        if server is not None:
            loop = asyncio.get_running_loop()
            if isinstance(loop, asyncio.selector_events.BaseSelectorEventLoop):
                # Stop accepting first and let the loop set up the connections it has just
                # accepted: closing the server with their setup still queued drops them
                # with a reset (asyncio's Server._attach refuses a closed server).
                for sock in _sockets_of(server):
                    loop.remove_reader(sock.fileno())
                await asyncio.sleep(0)
                await asyncio.sleep(0)
            server.close()
        self._runner._unreg_site(self)

    def _server_or_raise(self) -> Server:
        server = self._runner.server
        if server is None:
            raise RuntimeError("Call runner.setup() before starting a site")
        return server


class TCPSite(BaseSite):
    """Listen on a TCP host and port (``port=0`` picks a free one: see ``.port``)."""

    __slots__ = ("_host", "_port", "_reuse_address", "_reuse_port")

    def __init__(
        self,
        runner: BaseRunner,
        host: str | None = None,
        port: int | None = None,
        *,
        shutdown_timeout: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 128,
        reuse_address: bool | None = None,
        reuse_port: bool | None = None,
    ) -> None:
        super().__init__(
            runner, shutdown_timeout=shutdown_timeout, ssl_context=ssl_context, backlog=backlog
        )
        self._host = host
        if port is None:
            port = 8443 if ssl_context else 8080
        self._port = port
        self._reuse_address = reuse_address
        self._reuse_port = reuse_port

    @property
    def port(self) -> int:
        """The bound port (the real one after binding port 0)."""
        sockets = _sockets_of(self._server)
        if sockets:
            return int(sockets[0].getsockname()[1])
        return self._port

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        host = "0.0.0.0" if not self._host else self._host
        return str(URL.build(scheme=scheme, host=host, port=self.port))

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._server_or_raise(),
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )


class UnixSite(BaseSite):
    """Listen on a Unix domain socket path."""

    __slots__ = ("_path",)

    def __init__(
        self,
        runner: BaseRunner,
        path: str,
        *,
        shutdown_timeout: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 128,
    ) -> None:
        super().__init__(
            runner, shutdown_timeout=shutdown_timeout, ssl_context=ssl_context, backlog=backlog
        )
        self._path = path

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://unix:{self._path}:"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(
            self._server_or_raise(), self._path, ssl=self._ssl_context, backlog=self._backlog
        )


class NamedPipeSite(BaseSite):
    """Windows named pipes: not supported by heron (it targets Unix event loops)."""

    __slots__ = ()

    def __init__(self, runner: BaseRunner, path: str, *, shutdown_timeout: float = 60.0) -> None:
        raise RuntimeError("Named pipes are only available on Windows with a proactor loop")

    @property
    def name(self) -> str:
        return "named pipe"

    async def start(self) -> None:
        raise RuntimeError("Named pipes are not supported")


class SockSite(BaseSite):
    """Serve on a socket that is already bound (and listening or not)."""

    __slots__ = ("_name", "_sock")

    def __init__(
        self,
        runner: BaseRunner,
        sock: socket.socket,
        *,
        shutdown_timeout: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 128,
    ) -> None:
        super().__init__(
            runner, shutdown_timeout=shutdown_timeout, ssl_context=ssl_context, backlog=backlog
        )
        self._sock = sock
        scheme = "https" if ssl_context else "http"
        if hasattr(socket, "AF_UNIX") and sock.family == socket.AF_UNIX:
            self._name = f"{scheme}://unix:{sock.getsockname()}:"
        else:
            host, port = sock.getsockname()[:2]
            self._name = str(URL.build(scheme=scheme, host=host, port=port))

    @property
    def name(self) -> str:
        return self._name

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._server_or_raise(), sock=self._sock, ssl=self._ssl_context, backlog=self._backlog
        )


class BaseRunner(ABC):
    """Owns a server and its sites; ``setup()`` then sites, then ``cleanup()``."""

    def __init__(
        self,
        *,
        handle_signals: bool = False,
        shutdown_timeout: float = 60.0,
        **kwargs: Any,
    ) -> None:
        self._handle_signals = handle_signals
        self._kwargs = kwargs
        self._server: Server | None = None
        self._sites: list[BaseSite] = []
        self._shutdown_timeout = shutdown_timeout
        self._drain_timer: asyncio.TimerHandle | None = None

    @property
    def server(self) -> Server | None:
        return self._server

    @property
    def addresses(self) -> list[Any]:
        """Every address the sites listen on."""
        return [sock.getsockname() for site in self._sites for sock in _sockets_of(site._server)]

    @property
    def sites(self) -> set[BaseSite]:
        return set(self._sites)

    async def setup(self) -> None:
        """Start the application and build the server."""
        loop = asyncio.get_running_loop()
        if self._handle_signals:
            try:
                loop.add_signal_handler(signal.SIGINT, _raise_graceful_exit)
                loop.add_signal_handler(signal.SIGTERM, self._on_sigterm)
            except NotImplementedError:  # pragma: no cover - not on Unix
                pass
        self._server = await self._make_server()

    def _on_sigterm(self) -> None:
        """SIGTERM: shut down now, or after the drain delay the app asks for (a second
        SIGTERM during the drain: now)."""
        delay = self.begin_drain() if self._drain_timer is None else 0.0
        if delay <= 0:
            raise GracefulExit()
        loop = asyncio.get_running_loop()
        self._drain_timer = loop.call_later(delay, _raise_graceful_exit)

    def begin_drain(self) -> float:
        """The server is asked to stop: run the app's ``SIGTERM_DRAIN`` hook (readiness
        turns 503) and return how many seconds to keep serving before ``cleanup()``
        (0 without a hook)."""
        return 0.0

    @abstractmethod
    async def shutdown(self) -> None:
        """Run the application's shutdown signals."""

    async def cleanup(self) -> None:
        """Stop listening, finish in-flight requests, close everything, run cleanup."""
        if self._drain_timer is not None:
            self._drain_timer.cancel()
        for site in list(self._sites):
            await site.stop()
        server = self._server
        if server is not None:
            server.pre_shutdown()
            await self.shutdown()
            await server.wait_handlers(self._shutdown_timeout)
            await server.shutdown(0.0)
        await self._cleanup_server()
        self._server = None
        if self._handle_signals:
            loop = asyncio.get_running_loop()
            try:
                loop.remove_signal_handler(signal.SIGINT)
                loop.remove_signal_handler(signal.SIGTERM)
            except NotImplementedError:  # pragma: no cover
                pass

    @abstractmethod
    async def _make_server(self) -> Server: ...

    @abstractmethod
    async def _cleanup_server(self) -> None: ...

    def _reg_site(self, site: BaseSite) -> None:
        if site in self._sites:
            raise RuntimeError(f"Site {site} is already registered in runner {self}")
        self._sites.append(site)

    def _check_site(self, site: BaseSite) -> None:
        if site not in self._sites:
            raise RuntimeError(f"Site {site} is not registered in runner {self}")

    def _unreg_site(self, site: BaseSite) -> None:
        if site not in self._sites:
            raise RuntimeError(f"Site {site} is not registered in runner {self}")
        self._sites.remove(site)


class ServerRunner(BaseRunner):
    """Runs a low-level ``web.Server``."""

    def __init__(
        self,
        web_server: Server,
        *,
        handle_signals: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(handle_signals=handle_signals, **kwargs)
        self._web_server = web_server

    async def shutdown(self) -> None:
        pass

    async def _make_server(self) -> Server:
        return self._web_server

    async def _cleanup_server(self) -> None:
        pass


class AppRunner(BaseRunner):
    """Runs an :class:`Application`: start-up signals, server, shutdown and cleanup."""

    def __init__(
        self,
        app: Application,
        *,
        handle_signals: bool = False,
        access_log_class: type[AbstractAccessLogger] = AccessLogger,
        **kwargs: Any,
    ) -> None:
        if not isinstance(app, Application):
            raise TypeError(f"The first argument should be web.Application instance, got {app!r}")
        if not (
            isinstance(access_log_class, type)
            and issubclass(access_log_class, AbstractAccessLogger)
        ):
            raise TypeError(
                "access_log_class must be subclass of heron.abc.AbstractAccessLogger, "
                f"got {access_log_class!r}"
            )
        kwargs["access_log_class"] = access_log_class
        super().__init__(handle_signals=handle_signals, **kwargs)
        self._app = app

    @property
    def app(self) -> Application:
        return self._app

    async def shutdown(self) -> None:
        await self._app.shutdown()

    def begin_drain(self) -> float:
        drain = self._app.get(SIGTERM_DRAIN)
        return 0.0 if drain is None else float(drain())

    async def _make_server(self) -> Server:
        loop = asyncio.get_running_loop()
        self._app._set_loop(loop)
        self._app.on_startup.freeze()
        await self._app.startup()
        self._app.freeze()
        return self._app._make_handler(loop=loop, **self._kwargs)

    async def _cleanup_server(self) -> None:
        await self._app.cleanup()
