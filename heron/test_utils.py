"""Testing helpers with aiohttp.test_utils' names: test servers, a test client, loops.

``TestServer(app)`` serves an application on a free port of 127.0.0.1,
``RawTestServer(handler)`` serves a low-level handler, and ``TestClient(server)``
sends requests to either with paths relative to the server's root.  The client is
heron's own HTTP client (:mod:`heron.client`).

``make_mocked_request(method, path, ...)`` builds a ``web.Request`` without a server,
for unit tests of handlers and middlewares.  A response prepared against it goes
to a writer that records the bytes (``request.writer.output``) and sends nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import ipaddress
import socket
import ssl
import sys
import warnings
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator
from types import TracebackType
from typing import Any
from unittest import IsolatedAsyncioTestCase, mock

from multidict import CIMultiDict
from yarl import URL

from . import hdrs
from ._io.config import ServerConfig
from ._io.protocol import HttpProtocol
from ._io.registry import ConnectionRegistry
from ._io.streams import EMPTY_PAYLOAD, StreamReader
from ._io.writer import ResponseWriter
from ._proto.h1 import HttpVersion, RequestHead
from ._util.dates import DateCache
from ._web.app import Application
from ._web.lowlevel import Server
from ._web.match_info import UrlMappingMatchInfo
from ._web.request import BaseRequest, Request
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
    "make_mocked_request",
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


# ---------------------------------------------------------------------- mocked requests


class _MockTransport(asyncio.Transport):
    """A transport that keeps what is written to it and sends nothing.

    ``get_extra_info`` answers as aiohttp's mocked transport does: ``sockname`` is
    ``("127.0.0.1", 80)``, ``sslcontext`` is the one given, anything else is unknown.
    """

    def __init__(self, sslcontext: ssl.SSLContext | None = None) -> None:
        super().__init__()
        self.data = bytearray()
        self._sslcontext = sslcontext
        self._closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "sslcontext":
            return self._sslcontext
        if name == "sockname":
            return ("127.0.0.1", 80)
        return default

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.data += data

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True

    def abort(self) -> None:
        self._closing = True

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return False


class _RecordingFlow:
    """The connection side of a mocked request's writer: never paused, never corked."""

    __slots__ = ("transport",)

    def __init__(self, transport: _MockTransport) -> None:
        self.transport: asyncio.Transport | None = transport

    @property
    def write_paused(self) -> bool:
        return False

    def write_response(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def flush(self) -> None:
        return None

    async def wait_writable(self) -> None:
        return None


class _MockedWriter(ResponseWriter):
    """A response writer whose bytes (head and body) are kept in :attr:`output`."""

    __slots__ = ("_sink",)

    def __init__(self, sink: _MockTransport, *, head_only: bool = False) -> None:
        super().__init__(_RecordingFlow(sink), head_only=head_only)
        self._sink = sink

    @property
    def output(self) -> bytes:
        """Everything written for the response so far: the head, then the framed body."""
        return bytes(self._sink.data)


async def _no_handler(protocol: HttpProtocol, head: RequestHead, payload: StreamReader) -> bool:
    raise RuntimeError("a mocked request's connection serves no requests")


def _mocked_loop() -> Any:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        # As aiohttp: without a running loop, a stand-in (a real one would leak).
        loop = mock.Mock()
        loop.create_future.return_value = ()
        return loop


def make_mocked_request(
    method: str,
    path: str,
    headers: Any = None,
    *,
    match_info: Any = _UNSET,
    version: tuple[int, int] = HttpVersion(1, 1),
    closing: bool = False,
    app: Any = None,
    writer: Any = _UNSET,
    protocol: Any = _UNSET,
    transport: Any = _UNSET,
    payload: StreamReader = EMPTY_PAYLOAD,
    sslcontext: ssl.SSLContext | None = None,
    client_max_size: int = 1024**2,
    client_max_fields: int = 1000,
    loop: Any = ...,
) -> Request:
    """A ``web.Request`` for unit tests, with no server and no network.

    ``headers`` is anything ``CIMultiDict`` accepts (kept as the raw headers too);
    ``path`` is the request target (path and query).  ``match_info`` is a dict of path
    variables; ``app`` the application (a fresh :class:`~heron.web.Application` if
    None).  ``payload`` is the body stream (feed it and ``feed_eof()`` it first).
    ``sslcontext`` makes the request secure.  HTTP/1.0 requests are ``closing``.
    By default the transport records writes and reports ``sockname`` only (no peer),
    and responses go to a writer that keeps their bytes in ``request.writer.output``.
    ``writer``, ``protocol`` and ``transport`` given are used as they are.
    """
    if loop is ...:
        loop = _mocked_loop()
    version = HttpVersion(*version)
    if version < (1, 1):
        closing = True
    method = method.upper()
    fields = CIMultiDict[str](headers or ())
    raw_headers = [(name.encode("utf-8"), value.encode("utf-8")) for name, value in fields.items()]
    host = fields.get(hdrs.HOST)
    target = path
    url = URL(path)
    if url.is_absolute():
        # An absolute-form target: route on its path, take the host from it if need be.
        path = url.raw_path_qs
        if host is None and url.raw_authority:
            host = url.raw_authority
    length = fields.get(hdrs.CONTENT_LENGTH)
    expect = fields.get(hdrs.EXPECT)
    head = RequestHead(
        method,
        target,
        path,
        version,
        raw_headers,
        not closing,
        fields.get(hdrs.CONNECTION, "").lower() == "upgrade" and bool(fields.get(hdrs.UPGRADE)),
        "chunked" in fields.get(hdrs.TRANSFER_ENCODING, "").lower(),
        int(length) if length is not None and length.isdigit() else None,
        host.encode("utf-8") if host is not None else None,
        expect.encode("utf-8") if expect is not None else None,
    )

    if transport is _UNSET:
        transport = _MockTransport(sslcontext)
    if protocol is _UNSET:
        protocol = HttpProtocol(
            ServerConfig(), ConnectionRegistry(), _no_handler, DateCache(), loop
        )
    # As aiohttp: the request's transport is the protocol's, whoever made either.
    protocol.transport = transport
    if writer is _UNSET:
        sink = transport if isinstance(transport, _MockTransport) else _MockTransport(sslcontext)
        writer = _MockedWriter(sink, head_only=method == hdrs.METH_HEAD)
    with contextlib.suppress(AttributeError):  # heron's protocol keeps no writer
        protocol.writer = writer

    request = Request(
        head,
        payload,
        protocol,
        writer,
        mock.Mock(),  # the handler's task, as aiohttp's
        loop,
        client_max_size=client_max_size,
        client_max_fields=client_max_fields,
    )
    if app is None:
        app = Application()
    info = UrlMappingMatchInfo({} if match_info is _UNSET else match_info, mock.Mock())
    info.add_app(app)
    request._match_info = info
    request._app = app
    return request
