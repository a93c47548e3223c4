"""HttpProtocol: one HTTP/1.1 connection on an asyncio transport.

It moves bytes between the transport and the sans-IO :class:`RequestParser`,
queues pipelined requests (answered strictly in order), runs one injected
``handle`` coroutine per request, and owns the connection's timers, flow
control and shutdown.  It knows nothing of Request or Response objects: the
web layer's ``handle`` builds those and writes the response through a
:class:`ResponseWriter`.

Connection states (see docs/design.md for the diagram)::

    IDLE ──first byte──▶ HEAD ──head parsed──▶ BUSY ──response done──▶ IDLE
      │                   │                     │ (keep-alive, queue empty)
      └─keepalive_timeout─┴─head_timeout (408)──┴──▶ CLOSED

While BUSY, further pipelined requests are parsed and queued (reading pauses
once ``max_pipelined`` wait); a protocol error stops parsing, lets queued
requests finish, then answers the error and closes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import logging
import socket
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, cast

from .._proto.errors import (
    ContentLengthError,
    ProtocolError,
    RequestPayloadError,
    TransferEncodingError,
)
from .._proto.h1 import RequestHead, RequestParser
from .._proto.serialize import build_error_response
from .._util.dates import DateCache
from . import observe as _observe
from .config import ServerConfig
from .streams import EMPTY_PAYLOAD, StreamReader

if TYPE_CHECKING:
    from .registry import ConnectionRegistry

__all__ = ("Handle", "HttpProtocol")

log = logging.getLogger("aiohttp.server")

#: The web layer's entry point: answer one request, return whether to keep the connection.
Handle = Callable[["HttpProtocol", RequestHead, StreamReader], Awaitable[bool]]

IDLE, HEAD, BUSY, CLOSED = "IDLE", "HEAD", "BUSY", "CLOSED"

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
#: At most this many bytes of whole responses are held back to coalesce pipelined answers.
_CORK_LIMIT = 64 * 1024

if sys.version_info >= (3, 11):

    def _start_task(
        coro: Coroutine[Any, Any, None],
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context,
    ) -> asyncio.Task[None]:
        """Start ``coro`` in a new Task running in ``context`` (first step: next iteration).

        PERF: "plaintext", "json", "pipeline": without a task factory, the Task is built
        directly.  Its first step is not run eagerly (3.12's ``eager_start``): measured
        under wrk, an eager start costs more CPU per request than it saves (3.12,
        plaintext 21.7 against 17.9 µs, json 27.2 against 19.3): the answers are then
        written between a loop iteration's reads instead of in one burst after them (see
        docs/design.md, "Where the floor is").  A loop whose task factory starts tasks eagerly
        (``asyncio.eager_task_factory``) keeps it: ``_start_next`` handles both.
        """
        if loop.get_task_factory() is None:
            return asyncio.Task(coro, loop=loop, context=context)
        return context.run(loop.create_task, coro)

else:

    def _start_task(
        coro: Coroutine[Any, Any, None],
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context,
    ) -> asyncio.Task[None]:
        """Start ``coro`` in a new Task running in a copy of ``context``."""
        return context.run(loop.create_task, coro)


class HttpProtocol(asyncio.Protocol):
    """One client connection.  Created by the server's protocol factory."""

    __slots__ = (
        "_body_paused",
        "_closing",
        "_config",
        "_context",
        "_cork_check",
        "_corked",
        "_corked_size",
        "_dates",
        "_deadline",
        "_discard_budget",
        "_discard_waiter",
        "_drain_waiter",
        "_eager",
        "_eager_keep_alive",
        "_error",
        "_error_needs_response",
        "_handle",
        "_handler_started",
        "_loop",
        "_parser",
        "_peer_eof",
        "_queue",
        "_reading_paused",
        "_receiving",
        "_registry",
        "_requests",
        "_state",
        "_task",
        "_timer",
        "_upgrade_buffer",
        "_upgrade_flush",
        "_upgrade_shutdown",
        "_upgraded",
        "_write_paused",
        "transport",
    )

    def __init__(
        self,
        config: ServerConfig,
        registry: ConnectionRegistry,
        handle: Handle,
        dates: DateCache,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._config = config
        self._registry = registry
        self._handle = handle
        self._dates = dates
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self._parser = RequestParser(
            self,
            max_line_size=config.max_line_size,
            max_field_size=config.max_field_size,
            max_headers=config.max_headers,
        )
        self._state = IDLE
        self._queue: collections.deque[tuple[RequestHead, StreamReader]] = collections.deque()
        self._receiving: StreamReader | None = None
        self._task: asyncio.Task[None] | None = None
        # Each request's Task runs in its own copy of this, so a context variable set by
        # one request (or pipelined before it) is never seen by the next.
        self._context = contextvars.copy_context()
        #: True while a request's Task is being created: a task factory that starts tasks
        #: eagerly may run (and finish) the handler within the creation.
        self._eager = False
        self._eager_keep_alive = False
        self._deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._error: ProtocolError | None = None
        self._error_needs_response = False
        self._body_paused = False
        self._reading_paused = False
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._upgrade_buffer: bytearray | None = None
        self._upgraded: Callable[[bytes], None] | None = None
        self._upgrade_shutdown: Callable[[], None] | None = None
        self._upgrade_flush: Callable[[], None] | None = None
        self._discard_waiter: asyncio.Future[bool] | None = None
        self._discard_budget = 0
        self._peer_eof = False
        self._closing = False
        #: Requests handled on this connection so far.
        self._requests = 0
        # Whole responses held back while pipelined requests wait (see write_response).
        self._corked: list[bytes] = []
        self._corked_size = 0
        self._cork_check = False
        #: False from a request's Task creation until its handler starts running.
        self._handler_started = True

    # ------------------------------------------------------------------ public API

    def __repr__(self) -> str:
        # aiohttp's words (the class is web.RequestHandler there).
        connected = self.transport is not None and self._state is not CLOSED
        return f"<RequestHandler {'connected' if connected else 'disconnected'}>"

    @property
    def state(self) -> str:
        """IDLE, HEAD, BUSY or CLOSED."""
        return self._state

    @property
    def is_idle(self) -> bool:
        """True between requests (nothing in flight or queued)."""
        return self._state in (IDLE, HEAD) and self._task is None and not self._queue

    @property
    def config(self) -> ServerConfig:
        return self._config

    @property
    def peer_eof(self) -> bool:
        """True once the peer has shut down its sending side (nothing more will arrive)."""
        return self._peer_eof

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The task running the current request's handler, if any."""
        return self._task

    def date(self) -> str:
        """The current ``Date`` header value."""
        return self._dates.get()

    # The names of aiohttp's ``RequestHandler`` that middlewares and plugins reach for
    # through ``request.protocol``.

    @property
    def logger(self) -> logging.Logger:
        """The server's logger."""
        return self._config.logger

    @property
    def keepalive_timeout(self) -> float:
        """Idle time allowed between requests on this connection."""
        return self._config.keepalive_timeout

    @property
    def peername(self) -> Any:
        """The peer's address (``None`` once the connection is gone)."""
        return None if self.transport is None else self.transport.get_extra_info("peername")

    @property
    def sockname(self) -> Any:
        """The local address (``None`` once the connection is gone)."""
        return None if self.transport is None else self.transport.get_extra_info("sockname")

    @property
    def ssl_context(self) -> Any:
        """The TLS context of this connection, ``None`` for plain TCP."""
        return None if self.transport is None else self.transport.get_extra_info("sslcontext")

    def keep_alive(self, val: bool) -> None:
        """``keep_alive(False)``: close the connection after the response in flight."""
        if not val:
            self._closing = True

    def force_close(self) -> None:
        """Close the connection now (aiohttp's name for :meth:`close`)."""
        self.close()

    def log_debug(self, *args: Any, **kwargs: Any) -> None:
        """Log at debug level on the server's logger."""
        self._config.logger.debug(*args, **kwargs)

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        """Log an exception on the server's logger."""
        self._config.logger.exception(*args, **kwargs)

    def write_continue(self) -> None:
        """Send ``100 Continue`` (an ``Expect: 100-continue`` request may send its body)."""
        if self.transport is not None and not self.transport.is_closing():
            self.flush()
            self.transport.write(_CONTINUE)

    def write_response(self, data: bytes) -> None:
        """Write a whole response; while pipelined requests wait, coalesce it with theirs.

        PERF: "pipeline": the responses to one read's worth of pipelined requests leave
        in one ``write`` (one system call) instead of one each.  A held response is
        written when the last queued request is answered, when a handler suspends
        (checked once per loop iteration), when ``_CORK_LIMIT`` bytes are held, and
        before any other write on the connection, so the order never changes and no
        response waits on a slow handler.
        """
        transport = self.transport
        assert transport is not None
        if self._queue and self._corked_size + len(data) <= _CORK_LIMIT:
            self._corked.append(data)
            self._corked_size += len(data)
            if not self._cork_check:
                self._cork_check = True
                self._loop.call_soon(self._check_cork)
            return
        if self._corked:
            self._corked.append(data)
            self.flush()
            return
        transport.write(data)

    def flush(self) -> None:
        """Write the responses held back by :meth:`write_response` (before any other write)."""
        if self._corked:
            data = b"".join(self._corked)
            self._corked.clear()
            self._corked_size = 0
            transport = self.transport
            if transport is not None and not transport.is_closing():
                transport.write(data)

    def _check_cork(self) -> None:
        # The next request's Task has not run yet: look again after it has.  Otherwise its
        # handler is suspended (or nothing is running): waiting longer gains nothing.
        task = self._task
        if (
            self._corked
            and not self._handler_started
            and task is not None
            and not task.done()
            and self._state is not CLOSED
        ):
            self._loop.call_soon(self._check_cork)
            return
        self._cork_check = False
        self.flush()

    def upgrade(
        self,
        on_data: Callable[[bytes], None],
        on_shutdown: Callable[[], None] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> bytes:
        """Hand the connection to another protocol after a 101 response.

        Returns the bytes that arrived after the upgrade request; from now on
        incoming bytes go to ``on_data`` (``b""`` when the connection is gone),
        ``on_shutdown`` is called when the server shuts down, and ``on_close``
        just before the server closes the transport (to write what it still holds).
        """
        self.flush()
        buffered = bytes(self._upgrade_buffer or b"")
        self._upgrade_buffer = None
        self._upgraded = on_data
        self._upgrade_shutdown = on_shutdown
        self._upgrade_flush = on_close
        self._update_reading()
        observer = _observe.observer
        if observer is not None:
            observer.connection_upgraded()
        return buffered

    def close_upgraded(self) -> None:
        """Server shutdown: ask the protocol this connection was upgraded to (if any) to close."""
        callback = self._upgrade_shutdown
        if callback is not None and self._upgraded is not None:
            self._upgrade_shutdown = None
            callback()

    def close(self) -> None:
        """Close the connection now (in-flight work is not waited for)."""
        self._closing = True
        if self.transport is not None:
            self.flush()
            before_close = self._upgrade_flush
            if before_close is not None:
                self._upgrade_flush = None
                before_close()
            self.transport.close()

    def begin_shutdown(self) -> None:
        """Finish the request in flight (if any), then close instead of reading more."""
        self._closing = True
        self._finish_discard(False)
        if self.is_idle:
            self.close()

    @property
    def write_paused(self) -> bool:
        """True while the transport's write buffer is above its high-water mark."""
        return self._write_paused

    @property
    def writing_paused(self) -> bool:
        """:attr:`write_paused` under the name of aiohttp's ``BaseProtocol.writing_paused``."""
        return self._write_paused

    async def wait_writable(self) -> None:
        """Wait while the transport's write buffer is full (at most ``write_timeout``)."""
        if not self._write_paused:
            return
        transport = self.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("Connection lost")
        waiter = self._drain_waiter
        if waiter is None:
            waiter = self._drain_waiter = self._loop.create_future()
        handle = self._loop.call_later(self._config.write_timeout, _expire_drain, waiter)
        try:
            await asyncio.shield(waiter)
        except asyncio.TimeoutError:
            # The peer stopped reading: free the buffer rather than hold it.
            log.info("Write timeout: closing connection to a peer that stopped reading")
            transport.abort()
            raise
        finally:
            handle.cancel()

    # ------------------------------------------------------------------ asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they behave as one.
        self.transport = cast(asyncio.Transport, transport)
        limit = self._config.max_connections
        if limit is not None and len(self._registry.connections) >= limit:
            # Over max_connections: a fast 503 without reading the request (its bytes are
            # discarded: the state is CLOSED), then close once the peer has had
            # reject_linger seconds to read it.  Never joins the registry.
            self._state = CLOSED
            self._answer_and_linger(
                ProtocolError(
                    503,
                    "Too many connections, try again later",
                    (("Retry-After", str(self._config.retry_after)),),
                )
            )
            return
        self._registry.add(self)
        observer = _observe.observer
        if observer is not None:
            observer.connection_opened()
        if self._config.tcp_keepalive:
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if self._registry.closing:
            self.close()
            return
        config = self._config
        # keepalive_timeout=0 means no idling between requests (aiohttp arms no timer
        # then): a new connection still gets head_timeout to send its first request.
        self._set_deadline(config.keepalive_timeout or config.head_timeout)

    def data_received(self, data: bytes) -> None:
        if self._upgraded is not None:
            self._upgraded(data)
            return
        if self._upgrade_buffer is not None:
            self._upgrade_buffer += data
            self._update_reading()
            return
        if self._error is not None or self._state is CLOSED:
            return
        first_bytes = self._state is IDLE
        if first_bytes:
            self._state = HEAD
        try:
            tail = self._parser.feed(data)
        except ProtocolError as exc:
            self._fail(exc)
            return
        if tail is not None:
            self._upgrade_buffer = bytearray(tail)
            self._update_reading()
        if self._task is None and self._queue:
            self._start_next()
        if first_bytes and self._state is HEAD:
            # PERF: "plaintext" (every keep-alive scenario): the head timer starts only when
            # the head did not arrive whole with its first bytes.  (Armed before the parse,
            # its earlier deadline replaced the keep-alive timer on every request.)
            self._set_deadline(self._config.head_timeout)

    def eof_received(self) -> bool:
        self._peer_eof = True
        if self._upgraded is not None:
            # No more bytes will come: the upgraded protocol hears it from connection_lost.
            return False
        if self._config.handler_cancellation and self._task is not None:
            # The client is gone: with cancellation on, stop its handler now.
            self._task.cancel()
            self.close()
            return False
        receiving = self._receiving
        if receiving is not None:
            self._receiving = None
            receiving.set_exception(_cut_short(self._close_after_body()))
        # A body being discarded will never end now: stop waiting for it.
        self._finish_discard(False)
        if self._task is None and not self._queue:
            self.close()
            return False
        # Keep the transport open so in-flight responses can still be written.
        return True

    def connection_lost(self, exc: BaseException | None) -> None:
        self._state = CLOSED
        self._closing = True
        self._corked.clear()  # nowhere to write them now
        self._corked_size = 0
        observer = _observe.observer
        if observer is not None and self in self._registry.connections:
            observer.connection_closed()
            if self._upgraded is not None:
                observer.upgraded_closed()
        self._registry.remove(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        receiving = self._receiving
        if receiving is not None:
            self._receiving = None
            receiving.set_exception(RequestPayloadError("Connection lost"))
        self._queue.clear()
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_exception(ConnectionResetError("Connection lost"))
        discard = self._discard_waiter
        if discard is not None and not discard.done():
            discard.set_result(False)
        if self._config.handler_cancellation and self._task is not None and self._upgraded is None:
            # (An upgraded protocol tells its handler itself, e.g. a WebSocket's receive().)
            self._task.cancel()
        upgraded = self._upgraded
        if upgraded is not None:
            self._upgraded = None
            upgraded(b"")

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # ------------------------------------------------------------------ flow control (StreamReader)

    def pause_reading(self) -> None:
        self._body_paused = True
        self._update_reading()

    def resume_reading(self) -> None:
        self._body_paused = False
        self._update_reading()

    def _update_reading(self) -> None:
        transport = self.transport
        if transport is None or self._state is CLOSED:
            return
        upgrade_buffer = self._upgrade_buffer
        pause = (
            self._body_paused
            or len(self._queue) > self._config.max_pipelined
            or (upgrade_buffer is not None and len(upgrade_buffer) > self._config.read_bufsize)
        )
        if pause != self._reading_paused:
            self._reading_paused = pause
            try:
                if pause:
                    transport.pause_reading()
                else:
                    transport.resume_reading()
            except (RuntimeError, AttributeError):  # closing transports refuse
                pass

    # ------------------------------------------------------------------ parser events (RequestSink)

    def on_request_head(self, head: RequestHead) -> None:
        if head.has_body:
            payload = StreamReader(
                self,
                self._config.read_bufsize,
                timeout=self._config.body_timeout,
                loop=self._loop,
            )
        else:
            payload = EMPTY_PAYLOAD
        self._receiving = payload
        self._queue.append((head, payload))
        if len(self._queue) > self._config.max_pipelined:
            self._update_reading()

    def on_request_body(self, data: bytes) -> None:
        if self._discard_waiter is not None:
            self._discard_budget -= len(data)
            if self._discard_budget < 0:
                self._finish_discard(False)
            return
        receiving = self._receiving
        if receiving is not None:
            receiving.feed_data(data)

    def on_request_end(self, head: RequestHead) -> None:
        receiving = self._receiving
        self._receiving = None
        if self._discard_waiter is not None:
            self._finish_discard(True)
        elif receiving is not None:
            receiving.feed_eof()

    # ------------------------------------------------------------------ request lifecycle

    def _start_next(self) -> None:
        # A handler that finishes during its Task's eager start (a loop with an eager task
        # factory) returns here, and the next queued request starts in this loop rather
        # than deeper in the stack (a pipelined read chunk may hold hundreds of requests).
        queue = self._queue
        while True:
            head, payload = queue.popleft()
            if self._reading_paused:
                self._update_reading()
            self._state = BUSY
            self._deadline = None
            self._handler_started = False
            self._eager = True
            try:
                task = _start_task(self._run(head, payload), self._loop, self._context.copy())
            finally:
                self._eager = False
            if not task.done():
                self._task = task
                return
            # _run finished inside _start_task and left its outcome here.
            if not self._after_response(self._eager_keep_alive):
                return

    async def _run(self, head: RequestHead, payload: StreamReader) -> None:
        self._handler_started = True
        keep_alive = False
        try:
            keep_alive = await self._handle(self, head, payload)
        except asyncio.CancelledError:
            keep_alive = False
        except Exception:  # the web layer answers errors itself; this is a last resort
            log.exception("Unhandled error while handling a request")
            keep_alive = False
        self._requests += 1
        if keep_alive and not payload.is_eof() and payload is self._receiving:
            keep_alive = await self._discard_body(payload)
        self._task = None
        if self._eager:
            # Finished without suspending, inside _start_task: _start_next carries on.
            self._eager_keep_alive = keep_alive
            return
        if self._after_response(keep_alive):
            self._start_next()

    def _after_response(self, keep_alive: bool) -> bool:
        """Settle the connection after a response; True: start the next queued request."""
        transport = self.transport
        if self._state is CLOSED or transport is None or transport.is_closing():
            return False
        if self._upgraded is not None:
            # The upgraded protocol's handler has finished: the connection ends with it.
            self.close()
            return False
        if self._upgrade_buffer is not None and not self._queue:
            # The upgrade request (always the last one parsed, so none are queued behind
            # it) was declined: what followed it is HTTP again.  While requests pipelined
            # ahead of it are answered, the bytes stay put for its own answer to settle.
            pending = bytes(self._upgrade_buffer)
            self._upgrade_buffer = None
            self._parser = self._new_parser()
            if keep_alive and pending:
                self._state = IDLE
                # Starts (and settles) what it parses, or answers a parse error: either way
                # the connection is settled here, unless only part of a head came.
                self.data_received(pending)
                if (
                    self._peer_eof
                    and self._task is None
                    and not self._queue
                    and self._error is None
                    and not transport.is_closing()
                ):
                    self.close()
                return False
        if not keep_alive or (self._peer_eof and not self._queue):
            self.close()
            return False
        if self._queue:
            # Requests parsed before a shutdown began are still answered.
            return True
        if self._error is not None:
            self._answer_error(self._error)
            return False
        if self._closing:
            self.close()
            return False
        self._state = IDLE
        self._set_deadline(self._config.keepalive_timeout)
        if self._reading_paused:
            self._update_reading()
        return False

    async def _discard_body(self, payload: StreamReader) -> bool:
        """Read and drop what is left of an unread body; True if the connection is reusable."""
        payload.set_exception(RequestPayloadError("Body discarded after the response"))
        self._discard_budget = self._config.lingering_limit
        waiter: asyncio.Future[bool] = self._loop.create_future()
        self._discard_waiter = waiter
        self._body_paused = False
        self._update_reading()
        handle = self._loop.call_later(self._config.lingering_time, self._finish_discard, False)
        try:
            ok: bool = await waiter
            return ok
        finally:
            handle.cancel()
            self._discard_waiter = None

    def _finish_discard(self, ok: bool) -> None:
        waiter = self._discard_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(ok)

    def _new_parser(self) -> RequestParser:
        config = self._config
        return RequestParser(
            self,
            max_line_size=config.max_line_size,
            max_field_size=config.max_field_size,
            max_headers=config.max_headers,
        )

    # ------------------------------------------------------------------ errors and timers

    def reject_body(self, reason: str) -> None:
        """The body being read is the client's error (found while decoding it).

        Nothing after it on this connection is processed: reading stops, requests
        pipelined behind it are dropped unanswered, and the connection closes once the
        current response (the handler's own, or the 400 for the error) is out.
        """
        if self._error is None:
            self._error = ProtocolError(400, reason)
            self._error_needs_response = False
        self._queue.clear()
        self._finish_discard(False)
        self._body_paused = True
        self._update_reading()

    def _close_after_body(self) -> RequestHead | None:
        """The request whose body broke mid-way (None past its end): its response closes."""
        head = self._parser.body_head
        if head is not None:
            head.keep_alive = False
        return head

    def _fail(self, exc: ProtocolError) -> None:
        """The peer broke the protocol: stop parsing, answer once in order, close."""
        self._error = exc
        receiving = self._receiving
        if receiving is not None and receiving is not EMPTY_PAYLOAD:
            # The error is in the body of a request already queued or running: its
            # handler's read fails (a 400 unless it answers itself), and its response
            # says the connection closes.
            self._receiving = None
            self._close_after_body()
            receiving.set_exception(TransferEncodingError(exc.reason, exc.status))
            self._error_needs_response = False
            # A body being discarded after its response ends here.
            self._finish_discard(False)
        else:
            self._error_needs_response = True
        self._body_paused = True
        self._update_reading()
        if self._task is None:
            if self._queue:
                self._start_next()
            else:
                self._answer_error(exc)

    def _answer_error(self, exc: ProtocolError) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing() and self._error_needs_response:
            self._error = exc
            self._answer_and_linger(exc)
        else:
            self.close()

    def _answer_and_linger(self, exc: ProtocolError) -> None:
        """Write the error response, half-close, and close after ``reject_linger`` seconds.

        Closing at once would make the kernel reset the connection if the peer is still
        sending, and a reset can destroy the answer before the peer reads it.  Until the
        close, whatever arrives is discarded (the state is CLOSED or ``_error`` is set).
        """
        transport = self.transport
        assert transport is not None
        observer = _observe.observer
        if observer is not None:
            observer.rejected(exc.status)
        self._closing = True
        self.flush()
        transport.write(build_error_response(exc, self._config.server_header, self._dates.get()))
        if transport.can_write_eof():
            transport.write_eof()
        self._body_paused = False
        self._update_reading()
        if self._timer is not None:
            self._timer.cancel()
        self._deadline = None
        self._timer = self._loop.call_later(self._config.reject_linger, transport.close)

    def _set_deadline(self, timeout: float) -> None:
        # PERF: one timer per connection, re-armed lazily when it fires early,
        # instead of a call_later/cancel pair per request ("plaintext" keep-alive).
        when = self._loop.time() + timeout
        self._deadline = when
        timer = self._timer
        if timer is not None and timer.when() > when:
            timer.cancel()
            timer = None
        if timer is None:
            self._timer = self._loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None or self._state is CLOSED:
            return
        if self._loop.time() < deadline:
            self._timer = self._loop.call_at(deadline, self._on_timer)
            return
        self._deadline = None
        if self._state is HEAD and self._task is None:
            self._error_needs_response = True
            self._answer_error(ProtocolError(408, "Request head not received in time"))
        elif self._task is None and not self._queue:
            self.close()


def _cut_short(head: RequestHead | None) -> RequestPayloadError:
    """The error for a body the peer stopped sending before its end (aiohttp's words)."""
    if head is not None and head.chunked:
        return TransferEncodingError("Not enough data to satisfy transfer length header.")
    return ContentLengthError("Not enough data to satisfy content length header.")


def _expire_drain(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(asyncio.TimeoutError())
