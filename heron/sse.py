"""heron.sse: server-sent events, with aiohttp-sse's API.

``from aiohttp_sse import sse_response, EventSourceResponse`` becomes
``from heron.sse import sse_response, EventSourceResponse``.  See docs/sse.md.

A stream ends when the client disconnects (a write fails, or the handler is cancelled),
when the handler calls ``stop_streaming()``, and, for apps that called :func:`setup`, as
soon as the server begins shutting down.
"""

from __future__ import annotations

import asyncio
import re
import weakref
from collections.abc import Generator, Mapping
from types import TracebackType
from typing import Any, Generic, TypeVar

from . import web

__all__ = ("STREAMS_KEY", "EventSourceResponse", "setup", "sse_response")

_Streams = weakref.WeakSet["EventSourceResponse"]
STREAMS_KEY = web.AppKey("heron.sse.streams", weakref.WeakSet)

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_FIELD_FORBIDDEN = re.compile(r"[\r\n\x00]")


class EventSourceResponse(web.StreamResponse):
    """A ``text/event-stream`` response: ``send()`` events, pinged every ``ping_interval``.

    Use it through :func:`sse_response` (``async with sse_response(request) as resp:``),
    or build it, ``await resp.prepare(request)`` and ``async with resp:``.
    """

    DEFAULT_PING_INTERVAL: float = 15
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
    ) -> None:
        super().__init__(status=status, reason=reason, headers=headers)
        self.headers["Content-Type"] = "text/event-stream"
        self.headers["Cache-Control"] = "no-cache"
        self.headers["Connection"] = "keep-alive"
        self.headers["X-Accel-Buffering"] = "no"
        if sep is not None and sep not in ("\r\n", "\n", "\r"):
            raise ValueError("sep must be one of '\\r\\n', '\\n' or '\\r'")
        self._sep = sep if sep is not None else self.DEFAULT_SEPARATOR
        self._ping_interval: float = self.DEFAULT_PING_INTERVAL
        self._ping_task: asyncio.Task[None] | None = None
        self._sse_request: web.Request | None = None
        self._write_lock = asyncio.Lock()

    # ------------------------------------------------------------------ starting

    async def prepare(self, request: web.BaseRequest) -> Any:
        """Send the head and start pinging.  Only ``GET`` requests can be event streams."""
        if request.method != "GET":
            raise web.HTTPMethodNotAllowed(request.method, ["GET"])
        if self.prepared:
            return await super().prepare(request)
        if request.version >= (1, 1):
            self.enable_chunked_encoding()
        writer = await super().prepare(request)
        if isinstance(request, web.Request):
            self._sse_request = request
            streams = request.config_dict.get(STREAMS_KEY)
            if isinstance(streams, weakref.WeakSet):
                streams.add(self)
        self._ping_task = asyncio.get_running_loop().create_task(self._ping())
        return writer

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
            raise ValueError("ping interval must be greater than 0")
        self._ping_interval = value

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
        """Send one event.  ``data`` may span lines; ``id`` and ``event`` may not.

        Raises ``ConnectionResetError`` once the client is gone.
        """
        sep = self._sep
        parts: list[str] = []
        if id is not None:
            parts.append(f"id: {_field('id', id)}{sep}")
        if event is not None:
            parts.append(f"event: {_field('event', event)}{sep}")
        parts.extend(f"data: {line}{sep}" for line in _LINE_BREAK.split(data))
        if retry is not None:
            if not isinstance(retry, int) or isinstance(retry, bool):
                raise TypeError("retry must be an int (milliseconds)")
            parts.append(f"retry: {retry}{sep}")
        parts.append(sep)
        await self._write_event("".join(parts).encode("utf-8"))

    async def _write_event(self, payload: bytes) -> None:
        async with self._write_lock:
            try:
                await self.write(payload)
            except (ConnectionError, RuntimeError):
                self._stop()
                raise

    async def _ping(self) -> None:
        comment = f": ping{self._sep}{self._sep}".encode()
        while True:
            await asyncio.sleep(self._ping_interval)
            try:
                async with self._write_lock:
                    await self.write(comment)
            except (ConnectionError, RuntimeError):
                return  # the client is gone (or the response was finished)

    # ------------------------------------------------------------------ stopping

    def _stop(self) -> None:
        task = self._ping_task
        if task is not None and not task.done():
            task.cancel()

    def stop_streaming(self) -> None:
        """End the stream: :meth:`wait` returns and :meth:`is_connected` becomes false."""
        if self._ping_task is None:
            raise RuntimeError("The event stream is not started")
        self._stop()

    async def wait(self) -> None:
        """Wait until the client disconnects or :meth:`stop_streaming` is called."""
        task = self._ping_task
        if task is None:
            raise RuntimeError("The event stream is not started")
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


def _field(name: str, value: str) -> str:
    value = str(value)
    if _FIELD_FORBIDDEN.search(value):
        raise ValueError(f"An event {name} cannot contain CR, LF or NUL: {value!r}")
    return value


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
    response_cls: type[EventSourceResponse] = EventSourceResponse,
) -> _Opening[EventSourceResponse]:
    """Open an event stream for ``request``: ``async with sse_response(request) as resp``."""
    if not (isinstance(response_cls, type) and issubclass(response_cls, EventSourceResponse)):
        raise TypeError(f"response_cls must be a subclass of EventSourceResponse: {response_cls!r}")
    response = response_cls(status=status, reason=reason, headers=headers, sep=sep)
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
