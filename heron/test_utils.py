"""Testing helpers with aiohttp.test_utils' names: test servers, a test client, loops.

``TestServer(app)`` serves an application on a free port of 127.0.0.1,
``RawTestServer(handler)`` serves a low-level handler, and ``TestClient(server)``
sends requests to either with paths relative to the server's root.  The client is
heron's own HTTP client (:mod:`heron.client`).

Not provided yet: ``make_mocked_request``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import ipaddress
import socket
import sys
import warnings
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator
from types import TracebackType
from typing import Any
from unittest import IsolatedAsyncioTestCase, mock

from yarl import URL

from ._web.app import Application
from ._web.lowlevel import Server
from ._web.request import BaseRequest
from ._web.response import StreamResponse
from ._web.runners import AppRunner, BaseRunner, ServerRunner, TCPSite
from .client import ClientResponse, ClientSession, CookieJar
from .client.session import RequestContextManager
from .client.ws import ClientWebSocketResponse, WSConnectContextManager

__all__ = (
    "AioHTTPTestCase",
    "BaseTestServer",
    "RawTestServer",
    "TestClient",
    "TestServer",
    "get_port_socket",
    "get_unused_port_socket",
    "loop_context",
    "make_mocked_coro",
    "setup_test_loop",
    "teardown_test_loop",
    "unittest_run_loop",
    "unused_port",
)

LowLevelHandler = Callable[[BaseRequest], Awaitable[StreamResponse]]


# ---------------------------------------------------------------------- ports


def get_unused_port_socket(
    host: str, family: socket.AddressFamily = socket.AF_INET
) -> socket.socket:
    """A socket bound to a free port of ``host``."""
    return get_port_socket(host, 0, family)


def get_port_socket(
    host: str, port: int, family: socket.AddressFamily = socket.AF_INET
) -> socket.socket:
    """A socket bound to ``host:port`` (SO_REUSEADDR on POSIX)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    if sys.platform != "win32":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def unused_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# ---------------------------------------------------------------------- servers


class BaseTestServer(ABC):
    """A server on a local port for tests; ``start_server()`` binds, ``close()`` stops."""

    __test__ = False

    def __init__(
        self,
        *,
        scheme: str = "",
        host: str = "127.0.0.1",
        port: int | None = None,
        skip_url_asserts: bool = False,
        **kwargs: Any,
    ) -> None:
        self.runner: BaseRunner | None = None
        self._root: URL | None = None
        self.host = host
        self.port = port
        self.scheme = scheme
        self.skip_url_asserts = skip_url_asserts
        self._kwargs = kwargs
        self._closed = False

    async def start_server(self, **kwargs: Any) -> None:
        """Set the runner up and listen (on a free port unless ``port`` was given)."""
        if self.runner is not None:
            return
        options = {**self._kwargs, **kwargs}
        options.pop("loop", None)
        ssl_context = options.pop("ssl", None)
        options.setdefault("handler_cancellation", True)
        runner = self.runner = await self._make_runner(**options)
        await runner.setup()
        site = TCPSite(runner, self.host, self.port or 0, ssl_context=ssl_context)
        await site.start()
        self.port = site.port
        if not self.scheme:
            self.scheme = "https" if ssl_context is not None else "http"
        host = self.host
        with contextlib.suppress(ValueError):
            if ipaddress.ip_address(host).version == 6:
                host = f"[{host}]"
        self._root = URL(f"{self.scheme}://{host}:{self.port}")

    @abstractmethod
    async def _make_runner(self, **kwargs: Any) -> BaseRunner:
        """Create the (not yet set up) runner."""

    def make_url(self, path: str | URL) -> URL:
        """The absolute URL of ``path`` on this server."""
        assert self._root is not None, "the server is not started"
        url = URL(path)
        if not self.skip_url_asserts:
            assert not url.absolute, "make_url() takes a path, not an absolute URL"
            return self._root.join(url)
        return URL(str(self._root) + str(path))

    @property
    def started(self) -> bool:
        """True once ``start_server()`` ran."""
        return self.runner is not None

    @property
    def closed(self) -> bool:
        """True once ``close()`` ran."""
        return self._closed

    @property
    def handler(self) -> Any:
        """The low-level ``Server`` (protocol factory) of the runner."""
        runner = self.runner
        assert runner is not None
        return runner.server

    async def close(self) -> None:
        """Stop the server (idempotent)."""
        if self.started and not self._closed:
            assert self.runner is not None
            await self.runner.cleanup()
            self._root = None
            self.port = None
            self._closed = True

    def __enter__(self) -> None:
        raise TypeError("Use async with instead")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        raise TypeError("Use async with instead")  # pragma: no cover - never entered

    async def __aenter__(self) -> BaseTestServer:
        await self.start_server()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class TestServer(BaseTestServer):
    """Serves an ``Application`` through ``AppRunner``."""

    def __init__(
        self,
        app: Application,
        *,
        scheme: str = "",
        host: str = "127.0.0.1",
        port: int | None = None,
        **kwargs: Any,
    ) -> None:
        self.app = app
        super().__init__(scheme=scheme, host=host, port=port, **kwargs)

    async def _make_runner(self, **kwargs: Any) -> BaseRunner:
        return AppRunner(self.app, **kwargs)


class RawTestServer(BaseTestServer):
    """Serves a low-level handler (``async def handler(request) -> response``)."""

    def __init__(
        self,
        handler: LowLevelHandler,
        *,
        scheme: str = "",
        host: str = "127.0.0.1",
        port: int | None = None,
        **kwargs: Any,
    ) -> None:
        self._handler = handler
        super().__init__(scheme=scheme, host=host, port=port, **kwargs)

    async def _make_runner(self, **kwargs: Any) -> BaseRunner:
        return ServerRunner(Server(self._handler, **kwargs))


# ---------------------------------------------------------------------- client


class TestClient:
    """A ``ClientSession`` bound to one test server: requests take paths, not URLs.

    Cookies are kept for IP hosts too (``CookieJar(unsafe=True)``), and every
    response is closed with the client.
    """

    __test__ = False

    def __init__(
        self,
        server: BaseTestServer,
        *,
        cookie_jar: CookieJar | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(server, BaseTestServer):
            raise TypeError(f"server must be a BaseTestServer instance, found {type(server)}")
        kwargs.pop("loop", None)
        self._server = server
        if cookie_jar is None:
            cookie_jar = CookieJar(unsafe=True)
        self._session = ClientSession(cookie_jar=cookie_jar, **kwargs)
        self._closed = False
        self._responses: list[ClientResponse] = []
        self._websockets: list[ClientWebSocketResponse] = []

    async def start_server(self) -> None:
        """Start the server (if it is not running yet)."""
        await self._server.start_server()

    @property
    def host(self) -> str:
        """The server's host."""
        return self._server.host

    @property
    def port(self) -> int | None:
        """The server's port."""
        return self._server.port

    @property
    def server(self) -> BaseTestServer:
        """The test server."""
        return self._server

    @property
    def app(self) -> Application | None:
        """The application served (``None`` for a RawTestServer)."""
        return getattr(self._server, "app", None)

    @property
    def session(self) -> ClientSession:
        """The underlying session (use for what TestClient does not wrap)."""
        return self._session

    def make_url(self, path: str | URL) -> URL:
        """The absolute URL of ``path`` on the server."""
        return self._server.make_url(path)

    async def _request(self, method: str, path: str | URL, **kwargs: Any) -> ClientResponse:
        resp = await self._session.request(method, self.make_url(path), **kwargs)
        self._responses.append(resp)
        return resp

    def request(self, method: str, path: str | URL, **kwargs: Any) -> RequestContextManager:
        """Send a request for ``path``; await it or use ``async with``."""
        return RequestContextManager(self._request(method, path, **kwargs))

    def get(self, path: str | URL, **kwargs: Any) -> RequestContextManager:
        """GET ``path``."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str | URL, **kwargs: Any) -> RequestContextManager:
        """POST to ``path``."""
        return self.request("POST", path, **kwargs)

    def put(self, path: str | URL, **kwargs: Any) -> RequestContextManager:
        """PUT to ``path``."""
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str | URL, **kwargs: Any) -> RequestContextManager:
        """PATCH ``path``."""
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str | URL, **kwargs: Any) -> RequestContextManager:
        """DELETE ``path``."""
        return self.request("DELETE", path, **kwargs)

    def head(self, path: str | URL, **kwargs: Any) -> RequestContextManager:
        """HEAD ``path``."""
        return self.request("HEAD", path, **kwargs)

    def options(self, path: str | URL, **kwargs: Any) -> RequestContextManager:
        """OPTIONS ``path``."""
        return self.request("OPTIONS", path, **kwargs)

    def ws_connect(self, path: str | URL, **kwargs: Any) -> WSConnectContextManager:
        """Open a WebSocket to ``path``; await it or use ``async with``."""
        return WSConnectContextManager(self._ws_connect(path, **kwargs))

    async def _ws_connect(self, path: str | URL, **kwargs: Any) -> ClientWebSocketResponse:
        ws = await self._session.ws_connect(self.make_url(path), **kwargs)
        self._websockets.append(ws)
        return ws

    async def close(self) -> None:
        """Close every response and WebSocket, the session and the server (idempotent)."""
        if self._closed:
            return
        for resp in self._responses:
            resp.close()
        self._responses.clear()
        for ws in self._websockets:
            await ws.close()
        self._websockets.clear()
        await self._session.close()
        await self._server.close()
        self._closed = True

    def __enter__(self) -> None:
        raise TypeError("Use async with instead")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pass  # pragma: no cover - __enter__ always raises

    async def __aenter__(self) -> TestClient:
        await self.start_server()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


# ---------------------------------------------------------------------- unittest


class AioHTTPTestCase(IsolatedAsyncioTestCase):
    """A unittest case with ``self.app``, ``self.server`` and ``self.client`` ready.

    Override ``get_application()``; override ``get_server()``/``get_client()`` to
    customise how they are built.
    """

    app: Application
    server: BaseTestServer
    client: TestClient
    loop: asyncio.AbstractEventLoop

    async def get_application(self) -> Application:
        """Return the application to test."""
        raise NotImplementedError("override get_application() in your test case")

    async def get_server(self, app: Application) -> BaseTestServer:
        """Return the server for ``app`` (a TestServer by default)."""
        return TestServer(app)

    async def get_client(self, server: BaseTestServer) -> TestClient:
        """Return the client for ``server`` (a TestClient by default)."""
        return TestClient(server)

    async def setUpAsync(self) -> None:
        """Legacy hook, run after the client started."""

    async def tearDownAsync(self) -> None:
        """Legacy hook, run before the client closes."""

    async def asyncSetUp(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.app = await self.get_application()
        self.server = await self.get_server(self.app)
        self.client = await self.get_client(self.server)
        await self.client.start_server()
        await self.setUpAsync()

    async def asyncTearDown(self) -> None:
        await self.tearDownAsync()
        await self.client.close()


def unittest_run_loop(func: Callable[..., Any]) -> Callable[..., Any]:
    """Deprecated no-op: AioHTTPTestCase runs async test methods by itself."""
    warnings.warn(
        "unittest_run_loop is a no-op: AioHTTPTestCase runs async tests itself",
        DeprecationWarning,
        stacklevel=2,
    )
    return func


# ---------------------------------------------------------------------- loops and mocks


def setup_test_loop(
    loop_factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop,
) -> asyncio.AbstractEventLoop:
    """Create a loop with ``loop_factory`` and make it the current one."""
    loop = loop_factory()
    asyncio.set_event_loop(loop)
    return loop


def teardown_test_loop(loop: asyncio.AbstractEventLoop, fast: bool = False) -> None:
    """Run pending callbacks, close the loop, and unset it."""
    if not loop.is_closed():
        loop.call_soon(loop.stop)
        loop.run_forever()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    if not fast:
        gc.collect()
    asyncio.set_event_loop(None)


@contextlib.contextmanager
def loop_context(
    loop_factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop,
    fast: bool = False,
) -> Iterator[asyncio.AbstractEventLoop]:
    """A fresh current event loop for the duration of the ``with`` block."""
    loop = setup_test_loop(loop_factory)
    try:
        yield loop
    finally:
        teardown_test_loop(loop, fast=fast)


class _Unset:
    __slots__ = ()


_UNSET = _Unset()


def make_mocked_coro(return_value: Any = _UNSET, raise_exception: Any = _UNSET) -> mock.Mock:
    """A ``Mock`` wrapping a coroutine function that returns ``return_value`` or raises."""

    async def mocked(*args: Any, **kwargs: Any) -> Any:
        if not isinstance(raise_exception, _Unset):
            raise raise_exception
        if isinstance(return_value, _Unset):
            return None
        if inspect.isawaitable(return_value):
            return await return_value
        return return_value

    return mock.Mock(wraps=mocked)
