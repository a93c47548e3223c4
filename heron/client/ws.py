"""The WebSocket client: ``ws_connect`` and ``ClientWebSocketResponse`` (aiohttp's API).

``ws_connect`` opens its own TCP (or TLS) connection, sends the handshake,
reads the 101 response (at most 64 KiB of head, within the connect timeout),
checks it, and hands the connection to a :class:`WebSocketConnection`, the
same engine the server uses.
"""

from __future__ import annotations

import asyncio
import ssl as ssl_mod
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .. import hdrs
from .._io.websocket import WebSocketConnection
from .._io.ws_messages import MessageMethods, WSMessageTypeError
from .._proto.websocket.deflate import DeflateParams, client_offer, parse_response
from .._proto.websocket.handshake import HandshakeError, check_response, make_key
from .._proto.websocket.models import WSCloseCode
from .context import AwaitableContext
from .exceptions import (
    ClientConnectorError,
    ClientResponseError,
    ConnectionKey,
    RequestInfo,
    ServerTimeoutError,
    adopt_aiohttp_bases,
)

if TYPE_CHECKING:
    from .session import ClientSession

__all__ = (
    "ClientWebSocketResponse",
    "WSMessageTypeError",
    "WSServerHandshakeError",
    "ws_connect",
)

_MAX_HEAD: Final = 2**16
_SCHEMES: Final = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


class WSServerHandshakeError(ClientResponseError):
    """The server did not accept the WebSocket handshake."""


adopt_aiohttp_bases(WSServerHandshakeError)


class _ClientFlow(asyncio.Protocol):
    """The socket under a client WebSocket: handshake head first, then frames."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self._head = bytearray()
        self.head_done: asyncio.Future[tuple[bytes, bytes]] = loop.create_future()
        self.on_data: Callable[[bytes], None] | None = None
        self._write_paused = False
        self._drain: asyncio.Future[None] | None = None
        self._reading_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.on_data is not None:
            self.on_data(data)
            return
        if self.head_done.done():
            return
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end >= 0:
            head, rest = bytes(self._head[: end + 4]), bytes(self._head[end + 4 :])
            self._head = bytearray()
            self.head_done.set_result((head, rest))
        elif len(self._head) > _MAX_HEAD:
            self.head_done.set_exception(ValueError("Handshake response head too large"))

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self.head_done.done():
            self.head_done.set_exception(ConnectionResetError("Connection closed"))
        waiter = self._drain
        if waiter is not None and not waiter.done():
            waiter.set_exception(ConnectionResetError("Connection lost"))
        if self.on_data is not None:
            self.on_data(b"")

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiter = self._drain
        self._drain = None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait_writable(self) -> None:
        if not self._write_paused:
            return
        if self._drain is None:
            self._drain = self._loop.create_future()
        await asyncio.shield(self._drain)

    def pause_reading(self) -> None:
        if self.transport is not None and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()


def _parse_head(head: bytes) -> tuple[int, str, CIMultiDict[str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ValueError(f"Bad status line: {lines[0]!r}")
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"Bad header line: {line!r}")
        headers.add(name.strip(), value.strip())
    return int(parts[1]), parts[2] if len(parts) > 2 else "", headers


class ClientWebSocketResponse(MessageMethods):
    """The client side of one WebSocket (from ``session.ws_connect``)."""

    _conn: WebSocketConnection

    def __init__(
        self,
        conn: WebSocketConnection,
        flow: _ClientFlow,
        *,
        protocol: str | None,
        deflate: DeflateParams | None,
        status: int,
        headers: CIMultiDictProxy[str],
        url: URL,
    ) -> None:
        self._conn = conn
        self._flow = flow
        self._protocol = protocol
        self._deflate = deflate
        self.status = status
        self.headers = headers
        self.url = url

    @property
    def closed(self) -> bool:
        """True once closing has begun (or the connection is gone)."""
        return self._conn.closed

    @property
    def close_code(self) -> int | None:
        """The close code, once closed."""
        return self._conn.close_code

    @property
    def protocol(self) -> str | None:
        """The sub-protocol the server chose."""
        return self._protocol

    @property
    def compress(self) -> int:
        """Window bits of permessage-deflate when in use, else 0."""
        return self._deflate.client_max_window_bits if self._deflate is not None else 0

    @property
    def client_notakeover(self) -> bool:
        """Whether the client resets its compression context per message."""
        return self._deflate is not None and self._deflate.client_no_context_takeover

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Transport information (``peername``, ``sslcontext`` ...)."""
        transport = self._flow.transport
        return default if transport is None else transport.get_extra_info(name, default)

    def exception(self) -> BaseException | None:
        """The error that ended the connection, if any."""
        return self._conn.exception()

    async def close(self, *, code: int = WSCloseCode.OK, message: bytes = b"") -> bool:
        """Close the WebSocket; True if this call did it."""
        return await self._conn.close(code=code, message=message)

    def _connection(self) -> WebSocketConnection:
        return self._conn

    async def __aenter__(self) -> ClientWebSocketResponse:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class WSConnectContextManager(AwaitableContext[ClientWebSocketResponse]):
    """What ``ws_connect`` returns: await it, or ``async with`` it to close at exit."""

    __slots__ = ()


def _ssl_context(ssl: Any, secure: bool) -> ssl_mod.SSLContext | None:
    if not secure:
        return None
    if isinstance(ssl, ssl_mod.SSLContext):
        return ssl
    if ssl is False:
        ctx = ssl_mod.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl_mod.CERT_NONE
        return ctx
    return ssl_mod.create_default_context()


async def ws_connect(
    session: ClientSession,
    url: str | URL,
    *,
    method: str = "GET",
    protocols: Iterable[str] = (),
    timeout: float | None = None,
    receive_timeout: float | None = None,
    autoclose: bool = True,
    autoping: bool = True,
    heartbeat: float | None = None,
    origin: str | None = None,
    params: Any = None,
    headers: Mapping[str, str] | None = None,
    ssl: Any = True,
    compress: int = 15,
    max_msg_size: int = 4 * 1024 * 1024,
    decode_text: bool = True,
    writer_limit: int = 2**16,
) -> ClientWebSocketResponse:
    """Open a WebSocket to ``url`` (``ws``, ``wss``, ``http`` or ``https``)."""
    target = session._build_url(url)
    if params:
        target = target.extend_query(params)
    scheme = _SCHEMES.get(target.scheme)
    if scheme is None:
        raise ValueError(f"Unsupported WebSocket URL scheme: {target.scheme!r}")
    secure = scheme == "https"
    http_url = target.with_scheme(scheme)
    protocols = tuple(protocols)
    key = make_key()
    req_headers: CIMultiDict[str] = CIMultiDict(session._default_headers)
    if headers:
        for name, value in CIMultiDict(headers).items():
            req_headers[name] = value
    req_headers[hdrs.UPGRADE] = "websocket"
    req_headers[hdrs.CONNECTION] = "Upgrade"
    req_headers[hdrs.SEC_WEBSOCKET_VERSION] = "13"
    req_headers[hdrs.SEC_WEBSOCKET_KEY] = key
    if protocols:
        req_headers[hdrs.SEC_WEBSOCKET_PROTOCOL] = ",".join(protocols)
    if origin is not None:
        req_headers[hdrs.ORIGIN] = origin
    if compress:
        req_headers[hdrs.SEC_WEBSOCKET_EXTENSIONS] = client_offer()
    final = session._final_headers(
        method, http_url, req_headers, frozenset(), None, None, None, None
    )
    final.popall(hdrs.ACCEPT_ENCODING, None)
    info = RequestInfo(http_url, method, CIMultiDictProxy(final), http_url)
    loop = asyncio.get_running_loop()
    host = http_url.raw_host or ""
    port = http_url.port or (443 if secure else 80)
    connect_timeout = session.timeout.connect or session.timeout.total or 30.0
    flow = _ClientFlow(loop)
    try:
        await asyncio.wait_for(
            loop.create_connection(
                lambda: flow,
                host,
                port,
                ssl=_ssl_context(ssl, secure),
                server_hostname=host if secure else None,
            ),
            connect_timeout,
        )
    except OSError as exc:
        raise ClientConnectorError(ConnectionKey(host, port, secure, ssl), exc) from exc
    except asyncio.TimeoutError as exc:
        raise ServerTimeoutError(f"Connection timeout to {host}:{port}") from exc
    transport = flow.transport
    assert transport is not None
    lines = [f"{method} {http_url.raw_path_qs or '/'} HTTP/1.1"]
    lines.extend(f"{name}: {value}" for name, value in final.items())
    transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    try:
        head, rest = await asyncio.wait_for(flow.head_done, connect_timeout)
        status, _reason, resp_headers = _parse_head(head)
        ws_protocol = check_response(status, resp_headers, key, protocols)
        deflate = parse_response(resp_headers.get(hdrs.SEC_WEBSOCKET_EXTENSIONS))
        if deflate is not None and not compress:
            raise HandshakeError(status, "Server enabled compression that was not offered")
    except HandshakeError as exc:
        transport.close()
        raise WSServerHandshakeError(
            info, (), status=exc.status, message=exc.reason, headers=None
        ) from None
    except (ValueError, ConnectionError, asyncio.TimeoutError) as exc:
        transport.close()
        raise WSServerHandshakeError(info, (), status=0, message=str(exc)) from None
    session._cookie_jar.update_from_headers(resp_headers.getall("Set-Cookie", ()), http_url)
    conn = WebSocketConnection(
        flow,
        loop,
        is_server=False,
        deflate=deflate,
        max_msg_size=max_msg_size,
        decode_text=decode_text,
        timeout=timeout if timeout is not None else 10.0,
        receive_timeout=receive_timeout,
        autoclose=autoclose,
        autoping=autoping,
        heartbeat=heartbeat,
        writer_limit=writer_limit,
    )
    flow.on_data = conn.feed
    if rest:
        conn.feed(rest)
    if transport.is_closing():
        conn.feed(b"")
    return ClientWebSocketResponse(
        conn,
        flow,
        protocol=ws_protocol,
        deflate=deflate,
        status=status,
        headers=CIMultiDictProxy(resp_headers),
        url=target,
    )
