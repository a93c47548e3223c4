"""The "floor": the least work per request a Python framework shaped like aiohttp.web can do.

Between the ceiling (canned bytes, no framework) and heron sits this: everything an
aiohttp-style server cannot skip, and nothing else. Per request it keeps the URL and the
header fields httptools reports, builds a request object, finds the handler in a dict, runs
``async def handler(request)`` in its own Task (one at a time per connection, so pipelined
answers stay in order), lets the handler build a response object, and writes the head
(status line, Content-Type, Content-Length, a cached Date, Server) and body in one
``write``. It has no header mapping, timers, limits, flow control, context copy,
middlewares, signals or error handling: it is a measuring stick, not a server.

It answers ``GET /plaintext`` with ``Hello, World!`` and anything else with a 404, so only
the plaintext-like scenarios are meaningful against it. The gap between it and the ceiling
is the cost of Python framework code at its leanest; between heron and it, the cost of
heron's features and structure.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable, Coroutine
from email.utils import formatdate
from typing import cast

import httptools
from ceiling import serve_protocol


class FloorRequest:
    """What a handler gets: method, path, version and the raw header fields."""

    __slots__ = ("headers", "keep_alive", "method", "path", "version")

    def __init__(
        self, method: str, path: str, version: str, headers: list[tuple[bytes, bytes]]
    ) -> None:
        self.method = method
        self.path = path
        self.version = version
        self.headers = headers
        self.keep_alive = True


class FloorResponse:
    """What a handler returns: status, body and content type."""

    __slots__ = ("body", "charset", "content_type", "status")

    def __init__(
        self,
        *,
        text: str = "",
        status: int = 200,
        content_type: str = "text/plain",
        charset: str = "utf-8",
    ) -> None:
        self.status = status
        self.content_type = content_type
        self.charset = charset
        self.body = text.encode(charset)


Handler = Callable[[FloorRequest], Awaitable[FloorResponse]]


async def plaintext(request: FloorRequest) -> FloorResponse:
    """The bench app's plaintext handler."""
    return FloorResponse(text="Hello, World!")


async def not_found(request: FloorRequest) -> FloorResponse:
    """Any other path."""
    return FloorResponse(text="404: Not Found", status=404)


ROUTES: dict[tuple[str, str], Handler] = {("GET", "/plaintext"): plaintext}
REASONS = {200: b"OK", 404: b"Not Found"}


class _Date:
    """The Date header line, formatted once per second."""

    second = -1
    line = b""

    @classmethod
    def get(cls) -> bytes:
        now = int(time.time())
        if now != cls.second:
            cls.second = now
            cls.line = b"Date: " + formatdate(now, usegmt=True).encode() + b"\r\n"
        return cls.line


class FloorProtocol(asyncio.Protocol):
    """One connection: parse, queue requests, run their handlers one at a time."""

    __slots__ = ("_busy", "_headers", "_loop", "_parser", "_queue", "_transport", "_url")

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._queue: collections.deque[FloorRequest] = collections.deque()
        self._busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the transport."""
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        """Parse ``data``; start the first queued request's handler if none runs."""
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            assert self._transport is not None
            self._transport.close()
            return
        if not self._busy and self._queue:
            self._start()

    def on_message_begin(self) -> None:
        """httptools callback: a new request."""
        self._url = b""
        self._headers = []

    def on_url(self, url: bytes) -> None:
        """httptools callback: (part of) the request-target."""
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        """httptools callback: one header field."""
        self._headers.append((name, value))

    def on_message_complete(self) -> None:
        """httptools callback: the request is complete; queue it."""
        parser = self._parser
        path = self._url.decode("utf-8", "surrogateescape").partition("?")[0]
        request = FloorRequest(
            parser.get_method().decode(), path, parser.get_http_version(), self._headers
        )
        request.keep_alive = parser.should_keep_alive()
        self._queue.append(request)

    def _start(self) -> None:
        self._busy = True
        request = self._queue.popleft()
        handler = ROUTES.get((request.method, request.path), not_found)
        self._launch(self._run(handler, request))

    def _launch(self, run: Coroutine[None, None, None]) -> None:
        self._loop.create_task(run)

    async def _run(self, handler: Handler, request: FloorRequest) -> None:
        response = await handler(request)
        body = response.body
        head = b"HTTP/1.1 %d %s\r\nContent-Type: %s; charset=%s\r\nContent-Length: %d\r\n" % (
            response.status,
            REASONS[response.status],
            response.content_type.encode(),
            response.charset.encode(),
            len(body),
        )
        transport = self._transport
        assert transport is not None
        transport.write(b"".join((head, _Date.get(), b"Server: floor\r\n\r\n", body)))
        if not request.keep_alive:
            transport.close()
            return
        self._busy = False
        if self._queue:
            self._start()


class TasklessFloorProtocol(FloorProtocol):
    """The floor without its Task: each handler's coroutine is driven by ``send(None)``.

    A measuring stick for what one Task per request costs, not a design: it serves only
    handlers that finish without suspending (the floor's do), and inside them
    ``asyncio.current_task()`` is None, so ``asyncio.timeout()`` cannot work there.
    """

    __slots__ = ()

    def _launch(self, run: Coroutine[None, None, None]) -> None:
        try:
            run.send(None)
        except StopIteration:
            return
        run.close()
        raise RuntimeError("a taskless floor handler suspended")


def serve(host: str, port: int, ready: Callable[[str], None]) -> None:
    """Serve forever on ``host:port`` with uvloop, calling ``ready`` once listening."""
    serve_protocol(FloorProtocol, "floor", host, port, ready)


def serve_taskless(host: str, port: int, ready: Callable[[str], None]) -> None:
    """``serve`` with ``TasklessFloorProtocol``: the floor minus one Task per request."""
    serve_protocol(TasklessFloorProtocol, "floor-taskless", host, port, ready)
