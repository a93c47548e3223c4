"""WebSocketConnection: one open WebSocket over an upgraded transport.

It feeds received bytes to the sans-IO :class:`MessageDecoder`, queues messages
for ``receive`` (reading pauses while more than ``read_limit`` bytes wait, each
message counting 128 bytes more than its payload),
writes frames with backpressure (``send`` waits while more than
``writer_limit`` bytes are unsent), answers pings, runs the heartbeat, and
performs the closing handshake with a timeout.  The server's
``WebSocketResponse`` and the client's ``ClientWebSocketResponse`` are thin
shells over it.

Coalesced writes: a frame sent while received messages still wait in the queue
(the handler is working through several that came in one read) is held back and
leaves with the next ones in one ``transport.write``.  Held frames go out with
the frame sent once the queue is empty, when ``receive()`` waits, past 64 KiB,
when ``writer_limit`` is reached, before any other write or close on the
connection, and at the latest on the event loop's next turn (so a handler that
awaits something else never delays them).  Frames still held when something
else closes the transport (a handler that fails in the same step it sent them)
are dropped: the peer sees the connection end without a Close frame either way.

States: OPEN → CLOSING (peer's Close frame received) → CLOSED (``close()``
called or the connection is gone).  A protocol error from the peer fails the
connection at once: a Close frame with the error's code, then the transport closes.
As in aiohttp, the client side's ``receive()`` in CLOSING (autoclose=False) answers
the peer's Close frame and returns CLOSED, and a ``close()`` whose Close frame
cannot be written (the transport is gone) reports 1006 with the error.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Final, Protocol

from .._proto.websocket.decoder import MessageDecoder
from .._proto.websocket.deflate import Compressor, DeflateParams
from .._proto.websocket.frames import OP_CLOSE, OP_PING, OP_PONG, SMALL_HEADS, encode_frame
from .._proto.websocket.models import (
    WS_CLOSED_MESSAGE,
    WS_CLOSING_MESSAGE,
    WebSocketError,
    WSCloseCode,
    WSMessage,
    WSMsgType,
)

__all__ = ("WebSocketConnection", "WebSocketFlow")

log = logging.getLogger("aiohttp.websocket")

_new = tuple.__new__
_CLOSE: Final = WSMsgType.CLOSE
_PING: Final = WSMsgType.PING
_PONG: Final = WSMsgType.PONG
_CLOSING: Final = WSMsgType.CLOSING
_ERROR: Final = WSMsgType.ERROR
_TEXT: Final = WSMsgType.TEXT
_BINARY: Final = WSMsgType.BINARY
# aiohttp raises after this many receive() calls on a closed WebSocket (a busy-loop guard).
_CLOSED_READS: Final = 5
_MAX_REASON: Final = 123
#: At most this many bytes of frames are held back to be written together.
_HOLD_LIMIT: Final = 2**16
#: What a queued message counts for besides its payload (as aiohttp's reader does): a
#: flood of empty or control frames fills the queue, so reading pauses for them too.
_MSG_OVERHEAD: Final = 128


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
        "_fail_handle",
        "_flow",
        "_hb_handle",
        "_heartbeat",
        "_is_server",
        "_last_rx",
        "_loop",
        "_paused",
        "_peer_close",
        "_pending",
        "_pending_base",
        "_pending_size",
        "_ping_sent",
        "_queue",
        "_queued",
        "_read_limit",
        "_receive_timeout",
        "_shutdown_task",
        "_timeout",
        "_transport",
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
        # PERF: ws-echo: the flow's transport is fixed once the connection is open.
        self._transport = flow.transport
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
        # Frames held back to go out in one write (see write_frame); None: write at once.
        self._pending: list[bytes] | None = None
        self._pending_size = 0
        self._pending_base = 0
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
        # Fails the connection if receive() does not reach a queued protocol error in time.
        self._fail_handle: asyncio.TimerHandle | None = None
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
        decoder = self._decoder
        if decoder.error is not None:
            return  # the peer broke the protocol: nothing it sends now counts
        if self._heartbeat:
            self._last_rx = self._loop.time()
        messages = decoder.feed(data)
        if not messages and decoder.error is None:
            return
        if decoder.only_data and not self._closed:
            # PERF: ws-echo: only data messages (the decoder summed their sizes):
            # queue them in one step, no per-message checks.
            self._queue.extend(messages)
            # (128 is _MSG_OVERHEAD, written out: PERF: ws-echo: a constant, not a global.)
            queued = self._queued = self._queued + decoder.data_size + len(messages) * 128
        else:
            queue = self._queue
            for msg in messages:
                kind = msg[0]
                if kind is _CLOSE:
                    if not self._peer_close.done():
                        self._peer_close.set_result(None)
                elif self._closed:
                    continue  # close() has begun: only the peer's Close frame matters now.
                elif kind is _TEXT or kind is _BINARY:
                    self._queued += len(msg[1]) + _MSG_OVERHEAD
                else:  # PING, PONG
                    self._queued += _MSG_OVERHEAD
                queue.append(msg)
            queued = self._queued
        # PERF: ws-echo: the wake-up inline (no _wake() call per read).
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if queued > self._read_limit and not self._paused:
            self._paused = True
            self._flow.pause_reading()
        if decoder.error is not None:
            # The messages before the violation are answered first (receive() fails
            # the connection when it reaches the error).
            self._fail(decoder.error)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: WebSocketError) -> None:
        """The peer broke the protocol: queue the error behind what it sent before.

        The connection is failed (a Close frame saying why, then dropped) once
        ``receive()`` reaches the error, so messages received before the violation can
        still be answered, as aiohttp does; at once when nothing is queued before it;
        and after ``timeout`` seconds at the latest (a handler that stopped reading does
        not keep a peer that broke the protocol connected).
        """
        log.debug("WebSocket protocol error: %s", exc)
        self._exception = exc
        self._close_code = exc.code
        self._eof = True
        queue = self._queue
        queue.append(_new(WSMessage, (_ERROR, exc, None)))
        if len(queue) == 1 or self._closed:
            self._fail_connection(exc)
        else:
            self._fail_handle = self._loop.call_later(self._timeout, self._fail_connection, exc)
        self._wake()

    def _fail_connection(self, exc: WebSocketError) -> None:
        """RFC 6455 §7.1.7: send a Close frame with ``exc``'s code, then drop the connection."""
        self._cancel_fail_timer()
        self._close_code = exc.code
        self._send_close(exc.code, b"")
        self._close_transport()

    def _cancel_fail_timer(self) -> None:
        handle = self._fail_handle
        if handle is not None:
            self._fail_handle = None
            handle.cancel()

    def _connection_lost(self) -> None:
        self._eof = True
        self._cancel_heartbeat()
        self._cancel_fail_timer()
        if self._close_code is None:
            self._close_code = WSCloseCode.ABNORMAL_CLOSURE
        if not self._peer_close.done():
            self._peer_close.set_result(None)
        self._wake()

    # ------------------------------------------------------------------ receiving

    def take(self) -> WSMessage | None:
        """A queued TEXT/BINARY message, when ``receive()`` would return it at once.

        None when ``receive()`` has more to do: nothing queued, a control message
        first, closing or closed, or another task receiving.
        """
        # PERF: ws-echo: ``async for``/``receive*`` call this first; a message that is
        # already there costs one plain call instead of two coroutines.
        queue = self._queue
        if not queue or self._waiting or self._closed or self._closing:
            return None
        msg = queue.popleft()
        kind = msg[0]
        if kind is not _TEXT and kind is not _BINARY:
            queue.appendleft(msg)
            return None
        queued = self._queued = self._queued - len(msg[1]) - 128  # PERF: _MSG_OVERHEAD
        if self._paused and queued <= self._read_limit:
            self._paused = False
            self._flow.resume_reading()
        return msg

    async def receive(self, timeout: float | None = None) -> WSMessage:
        """The next message; handles pings, pongs and Close frames as configured."""
        msg = self.take()
        if msg is not None:
            return msg
        timeout = timeout or self._receive_timeout
        loop = self._loop
        # One deadline for the whole call: answered pings do not extend it.
        deadline = loop.time() + timeout if timeout else None
        queue = self._queue
        while True:
            if self._waiting:
                raise RuntimeError("Concurrent call to receive() is not allowed")
            if self._closed and not queue:
                self._closed_reads += 1
                if self._closed_reads >= _CLOSED_READS:
                    raise RuntimeError("WebSocket connection is closed.")
                return WS_CLOSED_MESSAGE
            if self._closing:
                if not self._is_server:
                    # aiohttp's client finishes the handshake itself once the peer's
                    # Close frame has been returned (autoclose=False), and says CLOSED.
                    await self.close()
                    return WS_CLOSED_MESSAGE
                return WS_CLOSING_MESSAGE
            if deadline is not None:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    raise asyncio.TimeoutError()
            # PERF: ws-echo: the wait for a message is inline (no _read coroutine).
            while not queue:
                if self._eof:
                    if self._close_code is None:
                        self._close_code = WSCloseCode.ABNORMAL_CLOSURE
                    self._closed = True
                    return WS_CLOSED_MESSAGE
                if self._closed:
                    return WS_CLOSING_MESSAGE
                if self._pending is not None:
                    self.flush()
                waiter = self._waiter = loop.create_future()
                handle = loop.call_later(timeout, _expire, waiter) if timeout else None
                self._waiting = True
                try:
                    await waiter
                finally:
                    self._waiting = False
                    self._waiter = None
                    if handle is not None:
                        handle.cancel()
            msg = queue.popleft()
            kind = msg[0]
            if kind is _TEXT or kind is _BINARY:
                queued = self._queued = self._queued - len(msg[1]) - _MSG_OVERHEAD
                if self._paused and queued <= self._read_limit:
                    self._paused = False
                    self._flow.resume_reading()
                return msg
            if kind is _PING or kind is _PONG:
                queued = self._queued = self._queued - _MSG_OVERHEAD
                if self._paused and queued <= self._read_limit:
                    self._paused = False
                    self._flow.resume_reading()
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
                if isinstance(msg[1], WebSocketError):
                    self._fail_connection(msg[1])
            return msg

    # ------------------------------------------------------------------ sending

    def write_frame(self, data: bytes, opcode: int, compress: int | bool | None = None) -> bool:
        """Write one whole message (or control frame) as a single frame, without waiting.

        Returns True when more than ``writer_limit`` bytes are now unsent: the caller
        must then ``await drain()`` before it sends more (``send_frame`` does both).
        """
        if self._close_sent:
            raise ConnectionResetError("Cannot write to closing transport")
        transport = self._transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("Cannot write to closing transport")
        compressor = self._compressor
        rsv = 0
        if compressor is not None and opcode < 8 and (compress is None or compress):
            data = compressor.compress(data)
            rsv = 0x40  # RSV1: compressed
        n = len(data)
        if n < 126 and self._is_server:
            try:
                # PERF: ws-echo: a small server frame: a ready-made header plus the payload.
                frame = SMALL_HEADS[opcode | rsv][n] + data
            except KeyError:  # an opcode RFC 6455 reserves: sent as asked all the same
                frame = encode_frame(opcode, data, rsv1=bool(rsv))
        else:
            frame = encode_frame(opcode, data, rsv1=bool(rsv), mask=not self._is_server)
        if self._queue:
            size = self._pending_size + len(frame)
            if size <= _HOLD_LIMIT:
                # PERF: ws-echo: more received messages wait for the handler, which will
                # likely answer them too: hold this frame back and write the answers in
                # one go (one send system call instead of one per message; the peer
                # reads them at once too).  See the module docstring for when held
                # frames go out.
                pending = self._pending
                if pending is None:
                    pending = self._pending = []
                    self._pending_base = transport.get_write_buffer_size()
                    _hold(self._loop, self)
                pending.append(frame)
                self._pending_size = size
                # (The transport's buffer cannot grow meanwhile: only this object writes.)
                return size + self._pending_base > self._writer_limit
        pending = self._pending
        if pending is not None:
            pending.append(frame)
            frame = b"".join(pending)
            self._pending = None
            self._pending_size = 0
        transport.write(frame)
        # PERF: no await at all while the transport keeps up (the common case).
        return transport.get_write_buffer_size() > self._writer_limit

    def flush(self) -> None:
        """Write the frames held back (if any) and stop holding frames back."""
        pending = self._pending
        if pending is None:
            return
        self._pending = None
        self._pending_size = 0
        if pending:
            transport = self._transport
            if transport is not None and not transport.is_closing():
                transport.write(b"".join(pending))

    async def drain(self) -> None:
        """Wait while the transport's write buffer is full."""
        self.flush()
        await self._flow.wait_writable()

    async def send_frame(
        self, data: bytes, opcode: int, compress: int | bool | None = None
    ) -> None:
        """Send one whole message (or control frame) as a single frame."""
        if self.write_frame(data, opcode, compress):
            await self.drain()

    async def ping(self, message: bytes = b"") -> None:
        """Send a PING."""
        await self.send_frame(_control_payload(message), OP_PING)

    async def pong(self, message: bytes = b"") -> None:
        """Send a PONG."""
        await self.send_frame(_control_payload(message), OP_PONG)

    # ------------------------------------------------------------------ closing

    def _send_close(self, code: int, message: bytes) -> None:
        self.flush()
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
        error = self._decoder.error
        if error is not None:
            # Closed before receive() reached the peer's protocol error: fail the
            # connection now (there is no closing handshake with a peer that broke it).
            self._fail_connection(error)
            self._close_done.set_result(None)
            return True
        try:
            await self._close(code, _reason_bytes(message), drain)
        finally:
            self._close_transport()
            if not self._close_done.done():
                self._close_done.set_result(None)
        return True

    async def _close(self, code: int, message: bytes, drain: bool) -> None:
        try:
            transport = self._flow.transport
            if not self._close_sent and (transport is None or transport.is_closing()):
                # Our Close frame cannot go out: the handshake did not complete (1006,
                # as in aiohttp, even when the peer's Close frame was received).
                raise ConnectionResetError("Cannot write to closing transport")
            self._send_close(code, message)
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
        self.flush()
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
        try:
            self.flush()
            transport.write(encode_frame(OP_PING, b"", mask=not self._is_server))
        except (ConnectionError, RuntimeError) as exc:  # a transport that refuses the write
            self._heartbeat_failed(exc)
            return
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
        self._heartbeat_failed(
            asyncio.TimeoutError(f"No PONG received after {heartbeat / 2.0} seconds")
        )

    def _heartbeat_failed(self, exc: BaseException) -> None:
        """The peer is unreachable: end the connection (1006) and say why to receive()."""
        self._exception = exc
        self._close_code = WSCloseCode.ABNORMAL_CLOSURE
        self._queue.append(_new(WSMessage, (_ERROR, exc, None)))
        self._eof = True
        self._close_transport()
        self._wake()


# Per event loop: the connections holding frames back (see write_frame), while a
# _flush_held callback is due on that loop.
_held: dict[asyncio.AbstractEventLoop, list[WebSocketConnection]] = {}


def _hold(loop: asyncio.AbstractEventLoop, conn: WebSocketConnection) -> None:
    """Have ``conn``'s held frames written on the loop's next turn at the latest."""
    # PERF: ws-echo: one callback per loop turn for all the connections holding frames,
    # not one each (a call_soon costs about a sixth of a message's echo).
    conns = _held.get(loop)
    if conns is None:
        if _held:
            # Another loop's callback is due, or was dropped when that loop closed.
            for other in list(_held):
                if other.is_closed():
                    _held.pop(other, None)
        conns = _held[loop] = []
        loop.call_soon(_flush_held, loop)
    conns.append(conn)


def _flush_held(loop: asyncio.AbstractEventLoop) -> None:
    for conn in _held.pop(loop, ()):
        conn.flush()


def _control_payload(message: bytes | str) -> bytes:
    data = message.encode("utf-8") if isinstance(message, str) else bytes(message)
    if len(data) > 125:
        raise ValueError("Control frame payload cannot be larger than 125 bytes")
    return data
