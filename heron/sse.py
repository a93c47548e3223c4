"""heron.sse: server-sent events, with aiohttp-sse's API.

``from aiohttp_sse import sse_response, EventSourceResponse`` becomes
``from heron.sse import sse_response, EventSourceResponse``.  See docs/sse.md.

A stream ends when the client disconnects (a write fails, or the handler is cancelled),
when a write stalls for ``send_timeout`` seconds (the connection is then aborted), when the
handler calls ``stop_streaming()``, and, for apps that called :func:`setup`, as soon as the
server begins shutting down.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import weakref
from collections.abc import Generator, Mapping
from types import TracebackType
from typing import Any, Generic, TypeVar

from . import web

__all__ = ("STREAMS_KEY", "EventSourceResponse", "setup", "sse_response")

_Streams = weakref.WeakSet["EventSourceResponse"]
STREAMS_KEY = web.AppKey("heron.sse.streams", weakref.WeakSet)

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Linux: abort a connection whose sent data stays unacknowledged this long.
_TCP_USER_TIMEOUT: int | None = getattr(socket, "TCP_USER_TIMEOUT", None)


class EventSourceResponse(web.StreamResponse):
    """A ``text/event-stream`` response: ``send()`` events, pinged every ``ping_interval``.

    Use it through :func:`sse_response` (``async with sse_response(request) as resp:``),
    or build it, ``await resp.prepare(request)`` and ``async with resp:``.

    * ``allow_all_methods``: accept any method, not only ``GET`` (405 otherwise).
    * ``send_timeout``: seconds a write (an event or a ping) may wait for a client that
      does not read before the connection is aborted (``None``: wait forever).  On Linux
      it is also the socket's ``TCP_USER_TIMEOUT`` while the stream lasts, so a peer that
      vanished is noticed even when nothing queues up.
    * ``ping_interval``: seconds between keep-alive comments.
    """

    DEFAULT_PING_INTERVAL: float = 15
    DEFAULT_SEND_TIMEOUT: float | None = 120
    DEFAULT_SEPARATOR = "\r\n"
    DEFAULT_LAST_EVENT_HEADER = "Last-Event-ID"
    LINE_SEP_EXPR = _LINE_BREAK

    def __init__(
        self,
        *,
        status: int = 200,
        reason: str | None = None,
        headers: Mapping[str, str] | None = None,
        sep: str | None = None,
        allow_all_methods: bool = False,
        send_timeout: float | None = DEFAULT_SEND_TIMEOUT,
        ping_interval: float = DEFAULT_PING_INTERVAL,
    ) -> None:
        super().__init__(status=status, reason=reason, headers=headers)
        self.headers["Content-Type"] = "text/event-stream"
        self.headers["Cache-Control"] = "no-cache"
        self.headers["Connection"] = "keep-alive"
        self.headers["X-Accel-Buffering"] = "no"
        if sep is not None and sep not in ("\r\n", "\n", "\r"):
            raise ValueError("sep must be one of '\\r\\n', '\\n' or '\\r'")
        if send_timeout is not None and not send_timeout > 0:
            raise ValueError("send timeout must be positive (or None)")
        self._sep = sep if sep is not None else self.DEFAULT_SEPARATOR
        self._allow_all_methods = allow_all_methods
        self._send_timeout = send_timeout
        self.ping_interval = ping_interval  # checked by the setter
        self._ping_task: asyncio.Task[None] | None = None
        self._sse_request: web.Request | None = None
        self._write_lock = asyncio.Lock()
        self._tcp_sock: Any = None
        self._saved_tcp_user_timeout: int | None = None

    # ------------------------------------------------------------------ starting

    async def prepare(self, request: web.BaseRequest) -> Any:
        """Send the head and start pinging.  Only ``GET`` requests can be event streams,
        unless the response was made with ``allow_all_methods=True``."""
        if not self._allow_all_methods and request.method != "GET":
            raise web.HTTPMethodNotAllowed(request.method, ["GET"])
        if self.prepared:
            return await super().prepare(request)
        if request.version >= (1, 1):
            self.enable_chunked_encoding()
        self._set_tcp_user_timeout(request)  # before the head: its write is covered too
        try:
            writer = await super().prepare(request)
        except BaseException:
            self._restore_tcp_user_timeout()
            raise
        if isinstance(request, web.Request):
            self._sse_request = request
            streams = request.config_dict.get(STREAMS_KEY)
            if isinstance(streams, weakref.WeakSet):
                streams.add(self)
        self._ping_task = asyncio.get_running_loop().create_task(self._ping())
        return writer

    def _set_tcp_user_timeout(self, request: web.BaseRequest) -> None:
        """Mirror ``send_timeout`` into the socket's ``TCP_USER_TIMEOUT`` (Linux, TCP)."""
        transport = request.transport
        if self._send_timeout is None or _TCP_USER_TIMEOUT is None or transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
            return
        try:
            saved = sock.getsockopt(socket.IPPROTO_TCP, _TCP_USER_TIMEOUT)
            sock.setsockopt(socket.IPPROTO_TCP, _TCP_USER_TIMEOUT, int(self._send_timeout * 1000))
        except OSError:
            return
        self._tcp_sock, self._saved_tcp_user_timeout = sock, saved

    def _restore_tcp_user_timeout(self) -> None:
        """Give a kept-alive connection its own ``TCP_USER_TIMEOUT`` back."""
        sock, saved = self._tcp_sock, self._saved_tcp_user_timeout
        self._tcp_sock = self._saved_tcp_user_timeout = None
        if sock is None or saved is None or sock.fileno() < 0:
            return
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, _TCP_USER_TIMEOUT, saved)

    async def write_eof(self, data: bytes = b"") -> None:
        """Finish the stream (the socket's own ``TCP_USER_TIMEOUT`` comes back)."""
        try:
            await super().write_eof(data)
        finally:
            self._restore_tcp_user_timeout()

    def enable_compression(self, *args: Any, **kwargs: Any) -> None:
        """Not available: a compressor would hold events back."""
        raise NotImplementedError("Event streams are not compressed (events would be delayed)")

    # ------------------------------------------------------------------ properties

    @property
    def ping_interval(self) -> float:
        """Seconds between keep-alive comments (default 15)."""
        return self._ping_interval

    @ping_interval.setter
    def ping_interval(self, value: float) -> None:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise TypeError("ping interval must be a number of seconds")
        if value <= 0:
            raise ValueError("ping interval must be positive")
        self._ping_interval = value

    @property
    def send_timeout(self) -> float | None:
        """Seconds a write may wait for the client before the connection is aborted."""
        return self._send_timeout

    @property
    def last_event_id(self) -> str | None:
        """The ``Last-Event-ID`` header a reconnecting client sent (``None`` if absent)."""
        request = self._sse_request
        if request is None:
            raise RuntimeError("The event stream must be prepared first")
        return request.headers.get(self.DEFAULT_LAST_EVENT_HEADER)

    def is_connected(self) -> bool:
        """True while the stream is open: prepared, not stopped, client still there."""
        task = self._ping_task
        if task is None or task.done():
            return False
        request = self._sse_request
        transport = request.transport if request is not None else None
        return transport is not None and not transport.is_closing()

    # ------------------------------------------------------------------ sending

    async def send(
        self,
        data: str,
        id: str | None = None,
        event: str | None = None,
        retry: int | None = None,
    ) -> None:
        """Send one event.  ``data`` may span lines; ``id`` and ``event`` may not (nor
        may ``id`` hold NUL); ``retry`` is a non-negative number of milliseconds.

        Raises ``ConnectionResetError`` once the client is gone, ``TimeoutError`` (and
        aborts the connection) when the client stopped reading for ``send_timeout``.
        """
        sep = self._sep
        parts: list[str] = []
        if id is not None:
            id = str(id)
            if _LINE_BREAK.search(id) or "\x00" in id:
                raise ValueError("id must not contain line separators or null characters")
            parts.append(f"id: {id}{sep}")
        if event is not None:
            event = str(event)
            if _LINE_BREAK.search(event):
                raise ValueError("event must not contain line separators")
            parts.append(f"event: {event}{sep}")
        parts.extend(f"data: {line}{sep}" for line in _LINE_BREAK.split(data))
        if retry is not None:
            if not isinstance(retry, int) or isinstance(retry, bool):
                raise TypeError("retry must be an int (milliseconds)")
            if retry < 0:
                raise ValueError("retry must not be negative")
            parts.append(f"retry: {retry}{sep}")
        parts.append(sep)
        try:
            await self._write_bounded("".join(parts).encode("utf-8"))
        except (ConnectionError, RuntimeError, TimeoutError):
            self._stop()
            raise

    async def _write_bounded(self, payload: bytes) -> None:
        """Write under the lock, within ``send_timeout``: a stalled client is cut off."""
        async with self._write_lock:
            try:
                await asyncio.wait_for(self.write(payload), self._send_timeout)
            except asyncio.TimeoutError:
                self._abort_transport()
                raise TimeoutError(
                    f"The client took no data for {self._send_timeout:g}s: connection aborted"
                ) from None

    def _abort_transport(self) -> None:
        """Drop the connection at once: a stalled peer would never let a close finish."""
        request = self._sse_request
        transport = request.transport if request is not None else None
        if transport is not None:
            transport.abort()

    async def _ping(self) -> None:
        comment = f": ping{self._sep}{self._sep}".encode()
        while True:
            await asyncio.sleep(self._ping_interval)
            try:
                await self._write_bounded(comment)
            except (ConnectionError, RuntimeError, TimeoutError):
                return  # the client is gone or stalled (or the response was finished)

    # ------------------------------------------------------------------ stopping

    def _stop(self) -> None:
        task = self._ping_task
        if task is not None and not task.done():
            task.cancel()

    def stop_streaming(self) -> None:
        """End the stream: :meth:`wait` returns and :meth:`is_connected` becomes false."""
        if self._ping_task is None:
            raise RuntimeError("Response is not started")
        self._stop()

    async def wait(self) -> None:
        """Wait until the client disconnects or :meth:`stop_streaming` is called."""
        task = self._ping_task
        if task is None:
            raise RuntimeError("Response is not started")
        # asyncio.wait: cancelling the caller does not cancel the ping task, and the
        # caller's own cancellation is not swallowed.
        await asyncio.wait((task,))

    async def __aenter__(self) -> EventSourceResponse:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._ping_task is not None:
            self._stop()
            await self.wait()


R = TypeVar("R", bound=EventSourceResponse)


class _Opening(Generic[R]):
    """What :func:`sse_response` returns: await it, or use it with ``async with``."""

    __slots__ = ("_request", "_response")

    def __init__(self, response: R, request: web.Request) -> None:
        self._response = response
        self._request = request

    async def _open(self) -> R:
        await self._response.prepare(self._request)
        return self._response

    def __await__(self) -> Generator[Any, None, R]:
        return self._open().__await__()

    async def __aenter__(self) -> R:
        return await self._open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._response.__aexit__(exc_type, exc, tb)


def sse_response(
    request: web.Request,
    *,
    status: int = 200,
    reason: str | None = None,
    headers: Mapping[str, str] | None = None,
    sep: str | None = None,
    send_timeout: float | None = EventSourceResponse.DEFAULT_SEND_TIMEOUT,
    ping_interval: float = EventSourceResponse.DEFAULT_PING_INTERVAL,
    response_cls: type[EventSourceResponse] = EventSourceResponse,
    allow_all_methods: bool = False,
) -> _Opening[EventSourceResponse]:
    """Open an event stream for ``request``: ``async with sse_response(request) as resp``
    (the keywords are :class:`EventSourceResponse`'s)."""
    if not (isinstance(response_cls, type) and issubclass(response_cls, EventSourceResponse)):
        raise TypeError(f"response_cls must be a subclass of EventSourceResponse: {response_cls!r}")
    response = response_cls(
        status=status,
        reason=reason,
        headers=headers,
        sep=sep,
        allow_all_methods=allow_all_methods,
        send_timeout=send_timeout,
        ping_interval=ping_interval,
    )
    return _Opening(response, request)


def setup(app: web.Application) -> None:
    """Optional: end every open event stream of ``app`` as soon as shutdown begins.

    Without it, a stream whose handler waits on it ends when the server's
    ``shutdown_timeout`` runs out and the handler is cancelled.
    """
    streams: _Streams = weakref.WeakSet()
    app[STREAMS_KEY] = streams

    async def stop_streams(app: web.Application) -> None:
        for stream in list(streams):
            stream._stop()

    app.on_shutdown.append(stop_streams)
