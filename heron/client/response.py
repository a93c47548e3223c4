"""``ClientResponse``: a received status and head, and the body as a stream."""

from __future__ import annotations

import asyncio
import json as jsonlib
from collections.abc import Callable, Generator, Sequence
from http.cookies import CookieError, SimpleCookie
from types import TracebackType
from typing import Any

from multidict import CIMultiDictProxy
from yarl import URL

from .._io.streams import StreamReader
from .connector import Connection
from .exceptions import ClientConnectionError, ClientResponseError, ContentTypeError, RequestInfo
from .protocol import HttpVersion, ResponseHead

__all__ = ("ClientResponse", "parse_content_type")

JSONDecoder = Callable[[str], Any]


def parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    """Split a Content-Type value into a lower-cased media type and its parameters."""
    mimetype, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for item in rest.split(";"):
        key, sep, val = item.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            continue
        val = val.strip()
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1]
        params[key] = val
    return mimetype.strip().lower(), params


def _json_type_matches(actual: str, expected: str) -> bool:
    if expected == "application/json":
        return actual == "application/json" or (
            actual.startswith("application/") and actual.endswith("+json")
        )
    return expected in actual


class _Done:
    """What ``release()`` returns, so that the old ``await resp.release()`` still works."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        return
        yield  # pragma: no cover - makes this a generator


_DONE = _Done()


class ClientResponse:
    """The answer to a request.

    The head is available at once; the body is read with ``read()``, ``text()``,
    ``json()`` or from ``content`` (a StreamReader).  Use the response as an async
    context manager, or call ``release()``, to hand its connection back.
    """

    __slots__ = (
        "__weakref__",
        "_body",
        "_closed",
        "_connection",
        "_content_type",
        "_cookies",
        "_loop",
        "_writer",
        "content",
        "headers",
        "history",
        "method",
        "raw_headers",
        "reason",
        "request_info",
        "status",
        "url",
        "version",
    )

    def __init__(
        self,
        method: str,
        url: URL,
        head: ResponseHead,
        content: StreamReader,
        *,
        connection: Connection | None,
        request_info: RequestInfo,
        history: Sequence[ClientResponse] = (),
        writer: asyncio.Task[None] | None = None,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.method = method
        self.url = url
        self.status: int = head.status
        self.reason: str = head.reason
        self.version: HttpVersion = head.version
        self.headers: CIMultiDictProxy[str] = head.headers
        self.raw_headers = head.raw_headers
        self.content = content
        self.request_info = request_info
        self.history: tuple[ClientResponse, ...] = tuple(history)
        self._connection = connection
        self._writer = writer
        self._loop = loop
        self._body: bytes | None = None
        self._closed = False
        self._cookies: SimpleCookie | None = None
        self._content_type: tuple[str, dict[str, str]] | None = None
        if connection is not None:
            connection.protocol.set_on_complete(self._on_message_complete)

    def __repr__(self) -> str:
        return f"<ClientResponse({self.url}) [{self.status} {self.reason}]>"

    # ------------------------------------------------------------------ head accessors

    @property
    def real_url(self) -> URL:
        """The URL requested, fragment included."""
        return self.request_info.real_url

    @property
    def host(self) -> str:
        """The host part of the URL."""
        return self.url.host or ""

    @property
    def ok(self) -> bool:
        """True if ``status`` is below 400."""
        return self.status < 400

    @property
    def cookies(self) -> SimpleCookie:
        """The cookies this response set."""
        if self._cookies is None:
            jar: SimpleCookie = SimpleCookie()
            for value in self.headers.getall("Set-Cookie", ()):
                try:
                    jar.load(value)
                except CookieError:
                    continue
            self._cookies = jar
        return self._cookies

    def _parsed_content_type(self) -> tuple[str, dict[str, str]]:
        if self._content_type is None:
            raw = self.headers.get("Content-Type")
            if raw is None:
                self._content_type = ("application/octet-stream", {})
            else:
                self._content_type = parse_content_type(raw)
        return self._content_type

    @property
    def content_type(self) -> str:
        """The media type, ``application/octet-stream`` when the header is absent."""
        return self._parsed_content_type()[0]

    @property
    def charset(self) -> str | None:
        """The ``charset`` parameter of the Content-Type, if any."""
        return self._parsed_content_type()[1].get("charset")

    @property
    def content_length(self) -> int | None:
        """The Content-Length header as an int, if present and valid."""
        raw = self.headers.get("Content-Length")
        if raw is None or not raw.strip().isdigit():
            return None
        return int(raw)

    @property
    def connection(self) -> Connection | None:
        """The connection still held by this response, if any."""
        return self._connection

    @property
    def closed(self) -> bool:
        """True once the response was released or closed."""
        return self._closed

    def get_encoding(self) -> str:
        """The charset to decode ``text()`` with (utf-8 when unspecified)."""
        return self.charset or "utf-8"

    # ------------------------------------------------------------------ body

    async def read(self) -> bytes:
        """Read the whole body (once; later calls return the same bytes)."""
        if self._body is None:
            if self._closed and not self.content.is_eof():
                raise ClientConnectionError("Connection closed")
            try:
                self._body = await self.content.read()
            except BaseException:
                self.close()
                raise
        return self._body

    async def text(self, encoding: str | None = None, errors: str = "strict") -> str:
        """Read the body and decode it (``charset`` or utf-8 unless ``encoding``)."""
        body = await self.read()
        return body.decode(encoding or self.get_encoding(), errors)

    async def json(
        self,
        *,
        encoding: str | None = None,
        loads: JSONDecoder = jsonlib.loads,
        content_type: str | None = "application/json",
    ) -> Any:
        """Read the body and decode it as JSON (``None`` for an empty body).

        Raises :class:`ContentTypeError` unless the Content-Type matches
        ``content_type``; pass ``content_type=None`` to skip the check.
        """
        body = await self.read()
        if content_type and not _json_type_matches(self.content_type, content_type):
            raise ContentTypeError(
                self.request_info,
                self.history,
                status=self.status,
                message=f"Attempt to decode JSON with unexpected mimetype: {self.content_type}",
                headers=self.headers,
            )
        stripped = body.strip()
        if not stripped:
            return None
        return loads(stripped.decode(encoding or self.get_encoding()))

    # ------------------------------------------------------------------ lifecycle

    def raise_for_status(self) -> None:
        """Raise :class:`ClientResponseError` if ``status`` is 400 or more."""
        if self.status >= 400:
            self.release()
            raise ClientResponseError(
                self.request_info,
                self.history,
                status=self.status,
                message=self.reason,
                headers=self.headers,
            )

    def release(self) -> Any:
        """Hand the connection back (closing it if the body has not fully arrived)."""
        self._closed = True
        self._drop_connection(close=False)
        return _DONE

    def close(self) -> None:
        """Close the connection now."""
        self._closed = True
        self._drop_connection(close=True)

    async def wait_for_close(self) -> None:
        """Wait for the request body writer to finish, then release."""
        writer = self._writer
        if writer is not None:
            if not writer.done():
                # asyncio.wait: our cancellation must not cancel the writer, nor vice versa.
                await asyncio.wait((writer,))
            if not writer.cancelled():
                writer.exception()  # retrieved: the response side already reported it
        self.release()

    async def __aenter__(self) -> ClientResponse:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
        await self.wait_for_close()

    # ------------------------------------------------------------------ internals

    def _on_message_complete(self) -> None:
        # The whole response has arrived (or failed): the connection can go back.
        self._drop_connection(close=False)

    def _drop_connection(self, *, close: bool) -> None:
        writer = self._writer
        if writer is not None and not writer.done():
            writer.cancel()
        conn = self._connection
        if conn is None:
            return
        self._connection = None
        proto = conn.protocol
        if close or not proto.message_done:
            if not proto.message_done:
                self.content.set_exception(ClientConnectionError("Connection closed"))
            conn.close()
        else:
            conn.release()
