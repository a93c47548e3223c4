"""WebSocketResponse: aiohttp's server-side WebSocket API.

``prepare(request)`` validates the handshake (400, or 426 with
``Sec-WebSocket-Version`` for an unsupported version), negotiates the
sub-protocol and permessage-deflate, sends the 101 response and takes over the
connection; from then on a :class:`WebSocketConnection` does the work and this
class forwards to it.

Differences from aiohttp, on purpose: only version 13 is accepted; a
connection that ends without a Close frame reports close code 1006
(ABNORMAL_CLOSURE); a peer's protocol error is answered with a Close frame at
once, even while the handler is not in ``receive()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from .. import hdrs
from .._io.websocket import WebSocketConnection
from .._io.ws_messages import MessageMethods
from .._proto.websocket.deflate import DeflateParams, negotiate
from .._proto.websocket.handshake import (
    HandshakeError,
    accept_key,
    check_request,
    select_protocol,
)
from .._proto.websocket.models import WSCloseCode, WSMessage, WSMsgType
from .exceptions import HTTPBadRequest, HTTPUpgradeRequired
from .response import StreamResponse

if TYPE_CHECKING:
    from .._io.writer import ResponseWriter
    from .request import BaseRequest

__all__ = (
    "MsgType",
    "WSCloseCode",
    "WSMessage",
    "WSMsgType",
    "WebSocketReady",
    "WebSocketResponse",
)

#: aiohttp's older alias.
MsgType: Final = WSMsgType

JSONDecoder = Callable[[str], Any]
JSONEncoder = Callable[[Any], str]


class WebSocketReady(NamedTuple):
    """The answer of ``can_prepare``: whether the request can be upgraded, and to what."""

    ok: bool
    protocol: str | None

    def __bool__(self) -> bool:
        return self.ok


class WebSocketResponse(MessageMethods, StreamResponse):
    """The server side of one WebSocket (create in a handler, ``await prepare(request)``)."""

    _length_check = False

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        receive_timeout: float | None = None,
        autoclose: bool = True,
        autoping: bool = True,
        heartbeat: float | None = None,
        protocols: Iterable[str] = (),
        compress: bool = True,
        max_msg_size: int = 4 * 1024 * 1024,
        writer_limit: int = 2**18,
        decode_text: bool = True,
    ) -> None:
        super().__init__(status=101)
        self._protocols = tuple(protocols)
        self._ws_protocol: str | None = None
        self._conn: WebSocketConnection | None = None
        self._ws_timeout = timeout
        self._receive_timeout = receive_timeout
        self._autoclose = autoclose
        self._autoping = autoping
        self._heartbeat = heartbeat
        self._compress_enabled = compress
        self._deflate: DeflateParams | None = None
        self._max_msg_size = max_msg_size
        self._writer_limit = writer_limit
        self._decode_text = decode_text

    # ------------------------------------------------------------------ handshake

    def _handshake(self, request: BaseRequest) -> None:
        """Validate the request and fill in the 101 response's headers."""
        headers = request.headers
        try:
            key = check_request(request.method, request.version, headers)
        except HandshakeError as exc:
            if exc.status == 426:
                raise HTTPUpgradeRequired(text=exc.reason, headers=exc.headers) from None
            raise HTTPBadRequest(text=exc.reason) from None
        self._ws_protocol = select_protocol(
            headers.get(hdrs.SEC_WEBSOCKET_PROTOCOL), self._protocols
        )
        out = self._headers
        out[hdrs.UPGRADE] = "websocket"
        out[hdrs.CONNECTION] = "upgrade"
        out[hdrs.SEC_WEBSOCKET_ACCEPT] = accept_key(key)
        if self._ws_protocol:
            out[hdrs.SEC_WEBSOCKET_PROTOCOL] = self._ws_protocol
        if self._compress_enabled:
            self._deflate = negotiate(headers.get(hdrs.SEC_WEBSOCKET_EXTENSIONS))
            if self._deflate is not None:
                out[hdrs.SEC_WEBSOCKET_EXTENSIONS] = self._deflate.header()

    def can_prepare(self, request: BaseRequest) -> WebSocketReady:
        """Whether ``request`` is a WebSocket handshake this response could accept."""
        if self._conn is not None:
            raise RuntimeError("Already started")
        try:
            check_request(request.method, request.version, request.headers)
        except HandshakeError:
            return WebSocketReady(False, None)
        protocol = select_protocol(
            request.headers.get(hdrs.SEC_WEBSOCKET_PROTOCOL), self._protocols
        )
        return WebSocketReady(True, protocol)

    async def prepare(self, request: BaseRequest) -> ResponseWriter | None:
        """Send the 101 response and take over the connection."""
        if self._writer is not None:
            return self._writer
        self._handshake(request)
        # A status set before prepare() gives way to 101, as in aiohttp.
        self.set_status(101)
        protocol = request._protocol
        transport = protocol.transport
        if transport is None or transport.is_closing() or protocol.peer_eof:
            # The client left while the handler was busy (aiohttp's error and message; a
            # peer that has shut down its side could never send a Close frame either).
            raise ConnectionResetError("Connection lost")
        writer = await super().prepare(request)
        conn = self._conn = WebSocketConnection(
            protocol,
            request._loop,
            is_server=True,
            deflate=self._deflate,
            max_msg_size=self._max_msg_size,
            decode_text=self._decode_text,
            timeout=self._ws_timeout,
            receive_timeout=self._receive_timeout,
            autoclose=self._autoclose,
            autoping=self._autoping,
            heartbeat=self._heartbeat,
            writer_limit=self._writer_limit,
        )
        transport = protocol.transport
        if transport is not None:
            # A WebSocket's write buffer is bounded by writer_limit, not the HTTP default.
            transport.set_write_buffer_limits(high=self._writer_limit)
        early = protocol.upgrade(conn.feed, conn.go_away, conn.flush)
        if early:
            conn.feed(early)
        if transport is None or transport.is_closing():
            conn.feed(b"")
        return writer

    def _finish_headers(self, request: BaseRequest) -> None:
        self._keep_alive = True  # no "Connection: close": the connection lives on
        super()._finish_headers(request)
        self._headers[hdrs.CONNECTION] = "upgrade"
        self._headers.pop(hdrs.CONTENT_TYPE, None)

    # ------------------------------------------------------------------ state

    def _connection(self) -> WebSocketConnection:
        conn = self._conn
        if conn is None:
            raise RuntimeError("Call .prepare() first")
        return conn

    @property
    def closed(self) -> bool:
        """True once closing has begun (or the connection is gone)."""
        return self._conn is not None and self._conn.closed

    @property
    def close_code(self) -> int | None:
        """The close code, once the connection is closed."""
        return self._conn.close_code if self._conn is not None else None

    @property
    def ws_protocol(self) -> str | None:
        """The negotiated sub-protocol, if any."""
        return self._ws_protocol

    @property
    def compress(self) -> int | bool:
        """The compressor's window bits when permessage-deflate is in use, else False."""
        deflate = self._deflate
        if deflate is None:
            return False if self._conn is not None else self._compress_enabled
        return deflate.server_max_window_bits

    def exception(self) -> BaseException | None:
        """The error that ended the connection, if any."""
        return self._conn.exception() if self._conn is not None else None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Transport information (``peername``, ``sslcontext`` ...)."""
        req = self._req
        if req is None:
            return default
        return req.get_extra_info(name, default)

    # ------------------------------------------------------------------ sending

    async def write(self, data: Any) -> None:
        raise RuntimeError("Cannot call .write() for websocket")

    async def write_eof(self, data: bytes = b"") -> None:
        """Finish the response: close the WebSocket if the handler has not."""
        if self._eof_sent:
            return
        if self._writer is None:
            raise RuntimeError("Response has not been started")
        if self._conn is not None:
            await self._conn.close()
        self._eof_sent = True

    async def close(
        self, *, code: int = WSCloseCode.OK, message: bytes | str = b"", drain: bool = True
    ) -> bool:
        """Close the WebSocket; True if this call did it, False if it was closing already."""
        return await self._connection().close(code=code, message=message, drain=drain)
