"""The asyncio protocol of one client connection: response parsing and flow control.

One ``ClientProtocol`` lives as long as its TCP (or TLS) connection and serves one
request at a time.  ``begin()`` arms it for the next response; the httptools
callbacks build a :class:`ResponseHead` and stream the body into a ``StreamReader``.
Every wait a request makes on the connection is bounded: ``sock_read`` bounds each
silence from the server, the request's ``total`` deadline bounds everything, and a
closed connection fails whatever is pending.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import NamedTuple, cast

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

from .._io.streams import StreamReader
from .decoding import ContentDecoder, ContentDecodingError, make_decoder
from .exceptions import (
    ClientConnectionResetError,
    ClientOSError,
    ClientPayloadError,
    ServerDisconnectedError,
    ServerTimeoutError,
    SocketTimeoutError,
)

__all__ = ("BadResponseError", "ClientProtocol", "HttpVersion", "ResponseHead")

# A response head larger than this is refused (aiohttp limits each line to 8190 bytes
# and the head to 128 fields; this is a coarser bound of the same size).
MAX_HEAD_SIZE = 128 * 1024


class HttpVersion(NamedTuple):
    """An HTTP version as ``(major, minor)``."""

    major: int
    minor: int


HttpVersion10 = HttpVersion(1, 0)
HttpVersion11 = HttpVersion(1, 1)


class BadResponseError(Exception):
    """The server's response head could not be parsed (the session reports a 400)."""


class ResponseHead(NamedTuple):
    """A parsed status line and header block."""

    status: int
    reason: str
    version: HttpVersion
    headers: CIMultiDictProxy[str]
    raw_headers: tuple[tuple[bytes, bytes], ...]


class _ResponseFlow:
    """Flow control handed to one response's StreamReader.

    Detached once that response has fully arrived, so a reader that drains its
    buffer later never pauses or resumes the connection under a newer response.
    """

    __slots__ = ("proto",)

    def __init__(self, proto: ClientProtocol) -> None:
        self.proto: ClientProtocol | None = proto

    def pause_reading(self) -> None:
        if self.proto is not None:
            self.proto.pause_transport_reading()

    def resume_reading(self) -> None:
        if self.proto is not None:
            self.proto.resume_transport_reading()


def _find_head_end(buf: bytearray) -> int:
    """Index just past the blank line that ends a head, or -1."""
    crlf = buf.find(b"\r\n\r\n")
    lf = buf.find(b"\n\n")
    if crlf < 0:
        return -1 if lf < 0 else lf + 2
    if lf < 0 or crlf + 2 <= lf:
        return crlf + 4
    return lf + 2


class ClientProtocol(asyncio.Protocol):
    """Parses responses on one connection and feeds their bodies to StreamReaders."""

    __slots__ = (
        "_auto_decompress",
        "_body_from_eof",
        "_closed",
        "_connection_lost",
        "_continue",
        "_decoder",
        "_drain_waiter",
        "_failed",
        "_flow",
        "_head_buf",
        "_head_bytes",
        "_head_future",
        "_head_keep_alive",
        "_interim",
        "_keep_alive",
        "_last_read",
        "_loop",
        "_message_done",
        "_on_complete",
        "_parser",
        "_payload",
        "_raw_headers",
        "_read_bufsize",
        "_read_handle",
        "_read_timeout",
        "_reading_paused",
        "_request_sent",
        "_should_close",
        "_status_buf",
        "_total_handle",
        "_writing_paused",
        "transport",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self._closed: asyncio.Future[None] = loop.create_future()
        self._connection_lost = False
        self._writing_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._reading_paused = False
        self._parser: httptools.HttpResponseParser | None = None
        self._head_future: asyncio.Future[ResponseHead] | None = None
        self._continue: asyncio.Future[bool] | None = None
        self._payload: StreamReader | None = None
        self._flow: _ResponseFlow | None = None
        self._decoder: ContentDecoder | None = None
        self._auto_decompress = True
        self._read_bufsize = 2**16
        self._head_buf: bytearray | None = None
        self._head_bytes = 0
        self._status_buf = bytearray()
        self._raw_headers: list[tuple[bytes, bytes]] = []
        self._interim = False
        self._message_done = True
        self._failed = False
        self._keep_alive = False
        self._head_keep_alive = False
        self._body_from_eof = False
        self._should_close = False
        self._request_sent = True
        self._read_timeout: float | None = None
        self._read_handle: asyncio.TimerHandle | None = None
        self._last_read = 0.0
        self._total_handle: asyncio.TimerHandle | None = None
        self._on_complete: Callable[[], None] | None = None

    # ------------------------------------------------------------------ state

    @property
    def closed(self) -> asyncio.Future[None]:
        """Resolves once the connection is lost."""
        return self._closed

    def is_connected(self) -> bool:
        """True while the transport is open."""
        return (
            not self._connection_lost
            and self.transport is not None
            and not self.transport.is_closing()
        )

    @property
    def reusable(self) -> bool:
        """True if the last exchange ended cleanly and the connection may serve another."""
        return (
            self._message_done
            and not self._failed
            and self._keep_alive
            and self._request_sent
            and not self._should_close
            and self.is_connected()
        )

    @property
    def message_done(self) -> bool:
        """True once the whole current response has arrived (or failed)."""
        return self._message_done

    @property
    def payload(self) -> StreamReader:
        """The current response's body stream (valid once the head has arrived)."""
        assert self._payload is not None
        return self._payload

    @property
    def continue_future(self) -> asyncio.Future[bool] | None:
        """With ``Expect: 100-continue``: True on 100 Continue, False on a final answer."""
        return self._continue

    def force_close(self) -> None:
        """Do not reuse this connection after the current exchange."""
        self._should_close = True

    def set_on_complete(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` once the current response has ended, cleanly or not."""
        self._on_complete = callback
        if callback is not None and self._message_done:
            self._run_on_complete()

    def mark_request_sent(self, sent: bool = True) -> None:
        """Record whether the request (head and body) has been written completely."""
        self._request_sent = sent

    def abort(self, exc: BaseException) -> None:
        """Fail the current exchange with ``exc`` (e.g. the request body could not be produced)."""
        self._fail(exc)
        self._run_on_complete()

    def close(self) -> None:
        """Close the connection now."""
        self._should_close = True
        self._cancel_timers()
        if self.transport is not None:
            self.transport.close()

    # ------------------------------------------------------------------ a new exchange

    def begin(
        self,
        *,
        skip_body: bool,
        read_bufsize: int,
        auto_decompress: bool,
        sock_read: float | None,
        deadline: float | None,
        expect_continue: bool,
    ) -> asyncio.Future[ResponseHead]:
        """Arm the protocol for the response to a request about to be written."""
        loop = self._loop
        self._parser = httptools.HttpResponseParser(self)
        self._head_future = fut = loop.create_future()
        self._continue = loop.create_future() if expect_continue else None
        self._payload = None
        self._flow = None
        self._decoder = None
        self._auto_decompress = auto_decompress
        self._read_bufsize = read_bufsize
        self._head_buf = bytearray() if skip_body else None
        self._head_bytes = 0
        self._interim = False
        self._message_done = False
        self._failed = False
        self._keep_alive = False
        self._head_keep_alive = False
        self._body_from_eof = False
        self._request_sent = False
        self._read_timeout = sock_read
        self._on_complete = None
        if deadline is not None:
            self._total_handle = loop.call_at(deadline, self._on_total_timeout)
        if self._connection_lost:
            self._fail(ServerDisconnectedError())
        return fut

    def start_read_timer(self) -> None:
        """Start bounding the server's silences by ``sock_read`` (after the request went out)."""
        if self._read_timeout is None or self._message_done:
            return
        self._last_read = self._loop.time()
        if self._read_handle is not None:
            return
        self._read_handle = self._loop.call_later(self._read_timeout, self._on_read_timer)

    # ------------------------------------------------------------------ writing

    def write(self, data: bytes) -> None:
        """Write bytes, failing if the connection is gone."""
        transport = self.transport
        if transport is None or transport.is_closing():
            raise ClientConnectionResetError("Cannot write to closing transport")
        transport.write(data)

    async def drain(self) -> None:
        """Wait until the transport's write buffer has room again."""
        if not self._writing_paused:
            if self._connection_lost:
                raise ClientConnectionResetError("Connection lost")
            return
        waiter = self._drain_waiter = self._loop.create_future()
        await waiter

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # ------------------------------------------------------------------ read flow control

    def pause_transport_reading(self) -> None:
        """Stop reading from the socket (the body reader is behind)."""
        if not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()

    def resume_transport_reading(self) -> None:
        """Read from the socket again."""
        if self._reading_paused and self.transport is not None:
            self._reading_paused = False
            self._last_read = self._loop.time()
            self.transport.resume_reading()

    # ------------------------------------------------------------------ asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, hence the cast.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._connection_lost = True
        if not self._message_done and not self._failed:
            if (
                exc is None
                and self._payload is not None
                and self._body_from_eof
                and self._head_buf is None
            ):
                self._keep_alive = False
                self._finish_message()
            else:
                err: BaseException = ServerDisconnectedError()
                if isinstance(exc, OSError):
                    err = ClientOSError(*exc.args)
                elif exc is not None:
                    err = exc
                if self._payload is not None:
                    err = ClientPayloadError(f"Response payload is not completed: {err!r}")
                self._fail(err, close=False)
        self._cancel_timers()
        self._wake_drain(ClientConnectionResetError("Connection lost"))
        if not self._closed.done():
            self._closed.set_result(None)
        self._run_on_complete()

    def eof_received(self) -> bool | None:
        return None

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is None or self._message_done:
            # Bytes nobody asked for: the connection can no longer be trusted.
            self._should_close = True
            if self.transport is not None:
                self.transport.close()
            return
        self._last_read = self._loop.time()
        if self._head_buf is not None:
            self._feed_head_only(data)
        else:
            self._feed(parser, data)
            if self._payload is None and not self._failed:
                self._head_bytes += len(data)
                if self._head_bytes > MAX_HEAD_SIZE:
                    self._fail(BadResponseError("Response head is too large"))
        if self._message_done:
            self._run_on_complete()

    # ------------------------------------------------------------------ httptools callbacks

    def on_message_begin(self) -> None:
        if self._message_done:
            self._should_close = True
        self._status_buf.clear()
        self._raw_headers = []

    def on_status(self, status: bytes) -> None:
        self._status_buf += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self._raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        if parser is None or self._message_done:
            return
        status = parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            # An interim response: 100 Continue lets a waiting request body go.
            self._interim = True
            cont = self._continue
            if status == 100 and cont is not None and not cont.done():
                cont.set_result(True)
            return
        headers: CIMultiDict[str] = CIMultiDict()
        chunked = False
        has_length = False
        connection = ""
        for raw_name, raw_value in self._raw_headers:
            name = raw_name.decode("utf-8", "surrogateescape")
            value = raw_value.decode("utf-8", "surrogateescape")
            headers.add(name, value)
            lname = name.lower()
            if lname == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif lname == "content-length":
                has_length = True
            elif lname == "connection":
                connection += "," + value.lower()
        major, _, minor = parser.get_http_version().partition(".")
        version = HttpVersion(int(major or 1), int(minor or 1))
        tokens = {token.strip() for token in connection.split(",")}
        if version >= HttpVersion11:
            self._head_keep_alive = "close" not in tokens
        else:
            self._head_keep_alive = "keep-alive" in tokens
        reason = self._status_buf.decode("utf-8", "surrogateescape")
        self._body_from_eof = (
            self._head_buf is None
            and not chunked
            and not has_length
            and status not in (101, 204, 304)
        )
        if status == 101:
            # The client does not speak upgraded protocols yet: never reuse.
            self._should_close = True
        if self._auto_decompress:
            self._decoder = make_decoder(headers.get("Content-Encoding"))
        self._flow = _ResponseFlow(self)
        self._payload = StreamReader(self._flow, self._read_bufsize, loop=self._loop)
        cont = self._continue
        if cont is not None and not cont.done():
            # A final answer before 100 Continue: the body must not be sent.
            cont.set_result(False)
            self._should_close = True
        head = ResponseHead(
            status, reason, version, CIMultiDictProxy(headers), tuple(self._raw_headers)
        )
        fut = self._head_future
        if fut is not None and not fut.done():
            fut.set_result(head)

    def on_body(self, body: bytes) -> None:
        payload = self._payload
        if payload is None or self._message_done:
            return
        decoder = self._decoder
        if decoder is not None:
            try:
                body = decoder.decompress(body)
            except ContentDecodingError as exc:
                self._fail(ClientPayloadError(f"Cannot decode content-encoding: {exc}"))
                return
        payload.feed_data(body)

    def on_chunk_header(self) -> None:
        if self._payload is not None and not self._message_done:
            self._payload.begin_http_chunk_receiving()

    def on_chunk_complete(self) -> None:
        if self._payload is not None and not self._message_done:
            self._payload.end_http_chunk_receiving()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        self._finish_message()

    # ------------------------------------------------------------------ internals

    def _feed(self, parser: httptools.HttpResponseParser, data: bytes) -> None:
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # 101 Switching Protocols: the rest is not HTTP; nothing more to parse.
            self._should_close = True
            self._finish_message()
        except httptools.HttpParserError as exc:
            if self._message_done and not self._failed:
                # llhttp stops after a complete 101 that named no Upgrade ("Pause on
                # CONNECT/Upgrade"): the response is whole, what follows is not HTTP.
                self._should_close = True
                return
            if self._payload is None:
                self._fail(BadResponseError(f"Invalid response: {exc}"))
            else:
                self._fail(ClientPayloadError(f"Response payload is not completed: {exc}"))

    def _feed_head_only(self, data: bytes) -> None:
        """Parse the head of a response that has no body (the answer to HEAD)."""
        buf = self._head_buf
        assert buf is not None
        buf += data
        while not self._failed:
            end = _find_head_end(buf)
            if end < 0:
                if len(buf) > MAX_HEAD_SIZE:
                    self._fail(BadResponseError("Response head is too large"))
                return
            head = bytes(buf[:end])
            del buf[:end]
            parser = self._parser
            if parser is None:
                return
            self._feed(parser, head)
            if self._payload is not None:
                self._finish_message()
                if buf:
                    self._should_close = True
                return
            if not self._interim and not self._failed:
                # An interim response already completed: parse the next head afresh.
                self._parser = httptools.HttpResponseParser(self)

    def _finish_message(self) -> None:
        if self._message_done:
            return
        self._keep_alive = (
            self._head_keep_alive and not self._body_from_eof and not self._connection_lost
        )
        payload = self._payload
        if payload is None:
            self._fail(BadResponseError("Response ended without a head"))
            return
        decoder = self._decoder
        if decoder is not None:
            try:
                payload.feed_data(decoder.flush())
            except ContentDecodingError as exc:
                self._fail(ClientPayloadError(f"Cannot decode content-encoding: {exc}"))
                return
        self._message_done = True
        self._parser = None
        self._head_buf = None
        self._cancel_timers()
        self._detach_flow()
        payload.feed_eof()

    def _fail(self, exc: BaseException, *, close: bool = True) -> None:
        """Fail whatever is pending on this exchange with ``exc`` and drop the connection."""
        if self._failed:
            return
        self._failed = True
        self._should_close = True
        self._message_done = True
        self._parser = None
        self._cancel_timers()
        self._detach_flow()
        fut = self._head_future
        if fut is not None and not fut.done():
            fut.set_exception(exc)
        elif self._payload is not None:
            self._payload.set_exception(exc)
        cont = self._continue
        if cont is not None and not cont.done():
            cont.set_result(False)
        self._wake_drain(exc)
        if close and self.transport is not None:
            self.transport.close()

    def _wake_drain(self, exc: BaseException) -> None:
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_exception(exc)

    def _detach_flow(self) -> None:
        if self._flow is not None:
            self._flow.proto = None
            self._flow = None
        self.resume_transport_reading()

    def _run_on_complete(self) -> None:
        callback = self._on_complete
        if callback is not None and self._message_done:
            self._on_complete = None
            callback()

    def _cancel_timers(self) -> None:
        if self._read_handle is not None:
            self._read_handle.cancel()
            self._read_handle = None
        if self._total_handle is not None:
            self._total_handle.cancel()
            self._total_handle = None

    def _on_read_timer(self) -> None:
        self._read_handle = None
        timeout = self._read_timeout
        if timeout is None or self._message_done:
            return
        now = self._loop.time()
        if self._reading_paused:
            # PERF: one timer per exchange, re-armed lazily instead of on every packet.
            self._read_handle = self._loop.call_later(timeout, self._on_read_timer)
            return
        left = self._last_read + timeout - now
        if left > 0:
            self._read_handle = self._loop.call_later(left, self._on_read_timer)
            return
        self._fail(SocketTimeoutError("Timeout on reading data from socket"))
        self._run_on_complete()

    def _on_total_timeout(self) -> None:
        self._total_handle = None
        if not self._message_done:
            self._fail(ServerTimeoutError("Total timeout of the request expired"))
            self._run_on_complete()
