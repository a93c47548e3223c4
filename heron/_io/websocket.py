"""WebSocketConnection: one open WebSocket over an upgraded transport.

It feeds received bytes to the sans-IO :class:`MessageDecoder`, queues messages
for ``receive`` (reading pauses while more than ``read_limit`` bytes wait),
writes frames with backpressure (``send`` waits while more than
``writer_limit`` bytes are unsent), answers pings, runs the heartbeat, and
performs the closing handshake with a timeout.  The server's
``WebSocketResponse`` and the client's ``ClientWebSocketResponse`` are thin
shells over it.

States: OPEN → CLOSING (peer's Close frame received) → CLOSED (``close()``
called or the connection is gone).  A protocol error from the peer fails the
connection at once: a Close frame with the error's code, then the transport closes.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Final, Protocol

from .._proto.websocket.decoder import MessageDecoder
from .._proto.websocket.deflate import Compressor, DeflateParams
from .._proto.websocket.frames import OP_CLOSE, OP_PING, OP_PONG, encode_frame
from .._proto.websocket.models import (
    WS_CLOSED_MESSAGE,
    WS_CLOSING_MESSAGE,
    WebSocketError,
    WSCloseCode,
    WSMessage,
    WSMsgType,
)

__all__ = ("WebSocketConnection", "WebSocketFlow")

log = logging.getLogger("heron.websocket")

_new = tuple.__new__
_CLOSE: Final = WSMsgType.CLOSE
_PING: Final = WSMsgType.PING
_PONG: Final = WSMsgType.PONG
_CLOSING: Final = WSMsgType.CLOSING
_ERROR: Final = WSMsgType.ERROR
_DATA: Final = frozenset({WSMsgType.TEXT, WSMsgType.BINARY})
# aiohttp raises after this many receive() calls on a closed WebSocket (a busy-loop guard).
_CLOSED_READS: Final = 5
_MAX_REASON: Final = 123


class WebSocketFlow(Protocol):
    """What a WebSocket needs from the connection under it."""

    transport: asyncio.Transport | None

    async def wait_writable(self) -> None: ...

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(asyncio.TimeoutError())


def _reason_bytes(message: bytes | str) -> bytes:
    data = message.encode("utf-8") if isinstance(message, str) else bytes(message)
    if len(data) > _MAX_REASON:
        # A Close frame carries at most 123 bytes of reason: cut on a character boundary.
        data = data[:_MAX_REASON].decode("utf-8", "ignore").encode("utf-8")
    return data


class WebSocketConnection:
    """Reads and writes one WebSocket; see the module docstring for the states."""

    __slots__ = (
        "_autoclose",
        "_autoping",
        "_close_code",
        "_close_done",
        "_close_sent",
        "_closed",
        "_closed_reads",
        "_closing",
        "_compressor",
        "_decoder",
        "_eof",
        "_exception",
        "_flow",
        "_hb_handle",
        "_heartbeat",
        "_is_server",
        "_last_rx",
        "_loop",
        "_paused",
        "_peer_close",
        "_ping_sent",
        "_queue",
        "_queued",
        "_read_limit",
        "_receive_timeout",
        "_shutdown_task",
        "_timeout",
        "_waiter",
        "_waiting",
        "_writer_limit",
    )

    def __init__(
        self,
        flow: WebSocketFlow,
        loop: asyncio.AbstractEventLoop,
        *,
        is_server: bool,
        deflate: DeflateParams | None = None,
        max_msg_size: int = 4 * 1024 * 1024,
        decode_text: bool = True,
        timeout: float = 10.0,
        receive_timeout: float | None = None,
        autoclose: bool = True,
        autoping: bool = True,
        heartbeat: float | None = None,
        writer_limit: int = 2**18,
        read_limit: int = 2**16,
    ) -> None:
        self._flow = flow
        self._loop = loop
        self._is_server = is_server
        self._decoder = MessageDecoder(
            is_server=is_server,
            max_msg_size=max_msg_size,
            compress=deflate is not None,
            decode_text=decode_text,
        )
        self._compressor: Compressor | None = None
        if deflate is not None:
            if is_server:
                bits, nct = deflate.server_max_window_bits, deflate.server_no_context_takeover
            else:
                bits, nct = deflate.client_max_window_bits, deflate.client_no_context_takeover
            self._compressor = Compressor(bits, no_context_takeover=nct)
        self._timeout = timeout
        self._receive_timeout = receive_timeout
        self._autoclose = autoclose
        self._autoping = autoping
        self._heartbeat = heartbeat
        self._writer_limit = writer_limit
        self._read_limit = read_limit
        self._queue: collections.deque[WSMessage] = collections.deque()
        self._queued = 0
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._waiting = False
        self._eof = False
        self._exception: BaseException | None = None
        self._closing = False
        self._closed = False
        self._close_sent = False
        self._close_code: int | None = None
        self._closed_reads = 0
        self._peer_close: asyncio.Future[None] = loop.create_future()
        self._close_done: asyncio.Future[None] | None = None
        self._shutdown_task: asyncio.Task[bool] | None = None
        self._hb_handle: asyncio.TimerHandle | None = None
        self._last_rx = 0.0
        self._ping_sent = 0.0
        if heartbeat:
            self._last_rx = loop.time()
            self._hb_handle = loop.call_later(heartbeat, self._on_heartbeat)

    # ------------------------------------------------------------------ state

    @property
    def closed(self) -> bool:
        """True once ``close()`` has begun or the connection is gone."""
        return self._closed

    @property
    def close_code(self) -> int | None:
        """The peer's close code (or 1006 when the connection ended without one)."""
        return self._close_code

    @property
    def compressed(self) -> bool:
        """True when permessage-deflate is in use."""
        return self._compressor is not None

    def exception(self) -> BaseException | None:
        """The error that ended the connection, if one did."""
        return self._exception

    # ------------------------------------------------------------------ incoming bytes

    def feed(self, data: bytes) -> None:
        """Bytes from the transport; ``b""`` means the connection is gone."""
        if not data:
            self._connection_lost()
            return
        if self._heartbeat:
            self._last_rx = self._loop.time()
        try:
            messages = self._decoder.feed(data)
        except WebSocketError as exc:
            self._fail(exc)
            return
        if not messages:
            return
        queue = self._queue
        for msg in messages:
            kind = msg[0]
            if kind is _CLOSE:
                if not self._peer_close.done():
                    self._peer_close.set_result(None)
            elif self._closed:
                continue  # close() has begun: only the peer's Close frame matters now.
            elif kind in _DATA:
                self._queued += len(msg[1])
            queue.append(msg)
        self._wake()
        if self._queued > self._read_limit and not self._paused:
            self._paused = True
            self._flow.pause_reading()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: WebSocketError) -> None:
        """The peer broke the protocol: say why in a Close frame, then drop the connection."""
        log.debug("WebSocket protocol error: %s", exc)
        self._exception = exc
        self._close_code = exc.code
        self._send_close(exc.code, b"")
        self._queue.append(_new(WSMessage, (_ERROR, exc, None)))
        self._eof = True
        self._close_transport()
        self._wake()

    def _connection_lost(self) -> None:
        self._eof = True
        self._cancel_heartbeat()
        if self._close_code is None:
            self._close_code = WSCloseCode.ABNORMAL_CLOSURE
        if not self._peer_close.done():
            self._peer_close.set_result(None)
        self._wake()

    # ------------------------------------------------------------------ receiving

    async def receive(self, timeout: float | None = None) -> WSMessage:
        """The next message; handles pings, pongs and Close frames as configured."""
        timeout = timeout or self._receive_timeout
        # One deadline for the whole call: answered pings do not extend it.
        deadline = self._loop.time() + timeout if timeout else None
        while True:
            if self._waiting:
                raise RuntimeError("Concurrent call to receive() is not allowed")
            if self._closed and not self._queue:
                self._closed_reads += 1
                if self._closed_reads >= _CLOSED_READS:
                    raise RuntimeError("WebSocket connection is closed.")
                return WS_CLOSED_MESSAGE
            if self._closing:
                return WS_CLOSING_MESSAGE
            if deadline is not None:
                timeout = deadline - self._loop.time()
                if timeout <= 0:
                    raise asyncio.TimeoutError()
            msg = await self._read(timeout)
            kind = msg[0]
            if kind in _DATA:
                return msg
            if kind is _CLOSE:
                self._closing = True
                self._close_code = msg[1]
                if self._autoclose and not self._closed:
                    # The peer is about to drop the connection: do not wait to drain.
                    await self.close(drain=False)
                return msg
            if kind is _PING and self._autoping:
                await self.pong(msg[1])
                continue
            if kind is _PONG and self._autoping:
                continue
            if kind is _ERROR:
                self._closed = True
            return msg

    async def _read(self, timeout: float | None) -> WSMessage:
        queue = self._queue
        while not queue:
            if self._eof:
                if self._close_code is None:
                    self._close_code = WSCloseCode.ABNORMAL_CLOSURE
                self._closed = True
                return WS_CLOSED_MESSAGE
            if self._closed:
                return WS_CLOSING_MESSAGE
            waiter = self._waiter = self._loop.create_future()
            handle = self._loop.call_later(timeout, _expire, waiter) if timeout else None
            self._waiting = True
            try:
                await waiter
            finally:
                self._waiting = False
                self._waiter = None
                if handle is not None:
                    handle.cancel()
        msg = queue.popleft()
        if msg[0] in _DATA:
            self._queued -= len(msg[1])
            if self._paused and self._queued <= self._read_limit:
                self._paused = False
                self._flow.resume_reading()
        return msg

    # ------------------------------------------------------------------ sending

    def _transport(self) -> asyncio.Transport:
        transport = self._flow.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("Cannot write to closing transport")
        return transport

    async def send_frame(
        self, data: bytes, opcode: int, compress: int | bool | None = None
    ) -> None:
        """Send one whole message (or control frame) as a single frame."""
        if self._close_sent:
            raise ConnectionResetError("Cannot write to closing transport")
        transport = self._transport()
        rsv1 = False
        compressor = self._compressor
        if compressor is not None and opcode < 8 and (compress is None or compress):
            data = compressor.compress(data)
            rsv1 = True
        transport.write(encode_frame(opcode, data, rsv1=rsv1, mask=not self._is_server))
        # PERF: no await at all while the transport keeps up (the common case).
        if transport.get_write_buffer_size() > self._writer_limit:
            await self._flow.wait_writable()

    async def ping(self, message: bytes = b"") -> None:
        """Send a PING."""
        await self.send_frame(_control_payload(message), OP_PING)

    async def pong(self, message: bytes = b"") -> None:
        """Send a PONG."""
        await self.send_frame(_control_payload(message), OP_PONG)

    # ------------------------------------------------------------------ closing

    def _send_close(self, code: int, message: bytes) -> None:
        if self._close_sent:
            return
        self._close_sent = True
        transport = self._flow.transport
        if transport is None or transport.is_closing():
            return
        payload = code.to_bytes(2, "big") + message if code else b""
        transport.write(encode_frame(OP_CLOSE, payload, mask=not self._is_server))

    async def close(
        self, *, code: int = WSCloseCode.OK, message: bytes | str = b"", drain: bool = True
    ) -> bool:
        """Start (or finish) the closing handshake; False if it had already begun."""
        if self._closed:
            done = self._close_done
            if done is not None and not done.done():
                # Another task is closing: return once it has finished.
                await asyncio.shield(done)
            return False
        self._closed = True
        self._close_done = self._loop.create_future()
        self._cancel_heartbeat()
        self._drop_queue()
        if self._waiting:
            # Break another task's receive() so it sees CLOSING.
            self._queue.append(WS_CLOSING_MESSAGE)
            self._wake()
        try:
            await self._close(code, _reason_bytes(message), drain)
        finally:
            self._close_transport()
            if not self._close_done.done():
                self._close_done.set_result(None)
        return True

    async def _close(self, code: int, message: bytes, drain: bool) -> None:
        try:
            self._send_close(code, message)
            transport = self._flow.transport
            if drain and transport is not None and transport.get_write_buffer_size():
                await asyncio.wait_for(self._flow.wait_writable(), self._timeout)
        except (ConnectionError, asyncio.TimeoutError) as exc:
            self._exception = exc
            self._close_code = WSCloseCode.ABNORMAL_CLOSURE
            return
        if self._peer_close.done():
            self._take_close_code()
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._peer_close), self._timeout)
        except asyncio.TimeoutError as exc:
            self._exception = exc
            self._close_code = WSCloseCode.ABNORMAL_CLOSURE
            return
        self._take_close_code()

    def _take_close_code(self) -> None:
        """After the handshake, the close code is the peer's (as aiohttp reports it)."""
        for msg in self._queue:
            if msg[0] is _CLOSE:
                self._close_code = msg[1]
                break
        else:
            if self._close_code is None:
                self._close_code = WSCloseCode.ABNORMAL_CLOSURE if self._eof else WSCloseCode.OK
        self._drop_queue()

    def _drop_queue(self) -> None:
        if self._closing:
            self._queue.clear()
        else:
            # Keep a received Close frame: it carries the peer's code.
            closes = [m for m in self._queue if m[0] is _CLOSE]
            self._queue.clear()
            self._queue.extend(closes)
        self._queued = 0
        if self._paused:
            self._paused = False
            self._flow.resume_reading()

    def _close_transport(self) -> None:
        self._cancel_heartbeat()
        transport = self._flow.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    def go_away(self) -> None:
        """The server is shutting down: close with 1001 GOING_AWAY (in a task)."""
        if self._closed or self._shutdown_task is not None:
            return
        self._shutdown_task = self._loop.create_task(
            self.close(code=WSCloseCode.GOING_AWAY, message=b"Server shutdown")
        )

    # ------------------------------------------------------------------ heartbeat

    def _cancel_heartbeat(self) -> None:
        handle = self._hb_handle
        if handle is not None:
            self._hb_handle = None
            handle.cancel()

    def _on_heartbeat(self) -> None:
        # PERF: incoming data only stamps ``_last_rx``; this timer re-arms itself
        # lazily instead of being reset on every chunk.
        heartbeat = self._heartbeat
        assert heartbeat is not None
        self._hb_handle = None
        if self._closed or self._eof:
            return
        now = self._loop.time()
        due = self._last_rx + heartbeat
        if now < due:
            self._hb_handle = self._loop.call_at(due, self._on_heartbeat)
            return
        transport = self._flow.transport
        if transport is None or transport.is_closing() or self._close_sent:
            return
        self._ping_sent = now
        transport.write(encode_frame(OP_PING, b"", mask=not self._is_server))
        self._hb_handle = self._loop.call_later(heartbeat / 2.0, self._on_pong_deadline)

    def _on_pong_deadline(self) -> None:
        heartbeat = self._heartbeat
        assert heartbeat is not None
        self._hb_handle = None
        if self._closed or self._eof:
            return
        if self._last_rx >= self._ping_sent:
            # Something (a PONG or any data) arrived: the peer is alive.
            self._hb_handle = self._loop.call_at(self._last_rx + heartbeat, self._on_heartbeat)
            return
        exc = asyncio.TimeoutError(f"No PONG received after {heartbeat / 2.0} seconds")
        self._exception = exc
        self._close_code = WSCloseCode.ABNORMAL_CLOSURE
        self._queue.append(_new(WSMessage, (_ERROR, exc, None)))
        self._eof = True
        self._close_transport()
        self._wake()


def _control_payload(message: bytes | str) -> bytes:
    data = message.encode("utf-8") if isinstance(message, str) else bytes(message)
    if len(data) > 125:
        raise ValueError("Control frame payload cannot be larger than 125 bytes")
    return data
