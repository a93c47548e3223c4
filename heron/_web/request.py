"""BaseRequest and Request: aiohttp's request API over a parsed RequestHead.

The request keeps the raw head from the parser; headers, URL, query and
cookies are built on first access (``reify``), so a handler pays only for
what it reads.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import json
import logging
import re
import warnings
from collections import ChainMap
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qsl

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy
from yarl import URL

from .. import hdrs
from .._io.decoding import DecodingStreamReader
from .._io.streams import EMPTY_PAYLOAD, StreamReader
from .._io.writer import ResponseWriter
from .._proto.conditional import parse_entity_tags, parse_http_date
from .._proto.decoding import make_content_decoder
from .._proto.h1 import HttpVersion, RequestHead
from .._util.grammar import TOKEN
from .._util.reify import reify
from .bodies import read_multipart_form, too_many_fields
from .exceptions import (
    HTTPBadRequest,
    HTTPException,
    HTTPRequestEntityTooLarge,
    HTTPRequestHeaderFieldsTooLarge,
)
from .multipart import MultipartReader
from .response import ETag
from .state import StateMapping, warn_str_key

if TYPE_CHECKING:
    from .._io.protocol import HttpProtocol
    from .app import Application
    from .response import StreamResponse

__all__ = ("BaseRequest", "FileField", "Request")

_log = logging.getLogger("aiohttp.web")

# Plain-str state keys already warned about (once per key per process, as aiohttp).  The
# keys heron's sessions and templating set (aiohttp_session's and aiohttp_jinja2's own
# names, kept for compatibility) are not the application's choice: no warning for them.
_SEEN_STR_KEYS: set[str] = {"aiohttp_session", "aiohttp_session_storage", "aiohttp_jinja2_context"}

# Forwarded (RFC 7239 §4): name=value pairs, a value is a token or a quoted-string.  The
# quoted-string's two alternatives never overlap (no backslash in qdtext): linear matching.
_FWD_QUOTED = r'"(?:\\[\t !-~]|[\t !#-\[\]-~])*"'
_FORWARDED_PAIR_RE = re.compile(rf"({TOKEN})=({TOKEN}|{_FWD_QUOTED})(:[0-9]{{1,4}})?")
_QUOTED_PAIR_RE = re.compile(r"\\([\t !-~])")

# Cookie names as browsers send them: visible ASCII but the separators of the header
# (aiohttp accepts names such as ``ISAWPLB{...}`` or ``a/b``; RFC 6265's token is stricter).
_COOKIE_NAME = frozenset(chr(c) for c in range(0x21, 0x7F)) - frozenset('",;\\=')
_COOKIE_QUOTED_RE = re.compile(r'"(?:[^"\\]|\\.)*"')
_COOKIE_ESCAPE_RE = re.compile(r"\\(?:([0-3][0-7][0-7])|(.))")


class FileField(NamedTuple):
    """An uploaded file from a multipart form."""

    name: str
    filename: str
    file: Any
    content_type: str
    headers: CIMultiDictProxy[str]


def _decode(value: bytes) -> str:
    return value.decode("utf-8", "surrogateescape")


class BaseRequest(StateMapping[str]):
    """An incoming HTTP request; also a dict for per-request state."""

    POST_METHODS = frozenset(
        {hdrs.METH_PATCH, hdrs.METH_POST, hdrs.METH_PUT, hdrs.METH_TRACE, hdrs.METH_DELETE}
    )

    # PERF: "plaintext": defaults on the class, not assigned per request.
    _read_bytes: bytes | None = None
    _post: MultiDictProxy[Any] | None = None

    def __init__(
        self,
        head: RequestHead,
        payload: StreamReader,
        protocol: HttpProtocol,
        payload_writer: ResponseWriter,
        task: asyncio.Task[None] | None,
        loop: asyncio.AbstractEventLoop,
        *,
        client_max_size: int = 1024**2,
        client_max_fields: int = 1000,
        state: dict[str, Any] | None = None,
        scheme: str | None = None,
        host: str | None = None,
        remote: str | None = None,
    ) -> None:
        self._head = head
        self._method = head.method
        self._payload = payload
        self._protocol = protocol
        self._payload_writer = payload_writer
        self._task = task
        self._loop = loop
        self._client_max_size = client_max_size
        self._client_max_fields = client_max_fields
        self._state: dict[str, Any] = {} if state is None else state
        if scheme is not None:
            self.__dict__["scheme"] = scheme
        if host is not None:
            self.__dict__["host"] = host
        if remote is not None:
            self.__dict__["remote"] = remote

    def __setitem__(self, key: Any, value: Any) -> None:
        if type(key) is str and key not in _SEEN_STR_KEYS:
            warn_str_key(key, _SEEN_STR_KEYS, "RequestKey", "request-s-storage")
        self._state[key] = value

    # ------------------------------------------------------------------ hooks for the server

    @property
    def _has_prepare_hooks(self) -> bool:
        return False

    async def _prepare_hook(self, response: StreamResponse) -> None:
        return None

    # ------------------------------------------------------------------ clone

    def clone(
        self,
        *,
        method: str | None = None,
        rel_url: str | URL | None = None,
        headers: Any = None,
        scheme: str | None = None,
        host: str | None = None,
        remote: str | None = None,
        client_max_size: int | None = None,
        client_max_fields: int | None = None,
    ) -> BaseRequest:
        """A copy of this request with some fields replaced (the body stream is shared).

        Not once the body has been read with ``read()``/``text()``/``json()``/``post()``
        (``RuntimeError``, as in aiohttp): the clone could not read it again.
        """
        if self._read_bytes is not None:
            raise RuntimeError("Cannot clone request after reading its content")
        head = self._head
        new_raw = head.raw_headers
        if headers is not None:
            new_raw = [
                (str(k).encode("utf-8"), str(v).encode("utf-8"))
                for k, v in CIMultiDict(headers).items()
            ]
        target = head.target
        path = head.path
        if rel_url is not None:
            url = URL(rel_url) if not isinstance(rel_url, URL) else rel_url
            if url.is_absolute():
                raise ValueError("rel_url should be a relative URL")
            target = path = str(url)
        new_head = RequestHead(
            method if method is not None else head.method,
            target,
            path,
            head.version,
            new_raw,
            head.keep_alive,
            head.upgrade,
            head.chunked,
            head.content_length,
            head.host,
            head.expect,
        )
        clone = self._clone_into(new_head)
        if "content" in self.__dict__:
            # Share the decoded stream, not a second decoder over the same raw bytes.
            clone.__dict__["content"] = self.__dict__["content"]
        for key, value in (("scheme", scheme), ("host", host), ("remote", remote)):
            if value is not None:
                clone.__dict__[key] = value
            elif key in self.__dict__:
                clone.__dict__[key] = self.__dict__[key]
        if client_max_size is not None:
            clone._client_max_size = client_max_size
        if client_max_fields is not None:
            clone._client_max_fields = client_max_fields
        return clone

    def _clone_into(self, head: RequestHead) -> BaseRequest:
        return BaseRequest(
            head,
            self._payload,
            self._protocol,
            self._payload_writer,
            self._task,
            self._loop,
            client_max_size=self._client_max_size,
            client_max_fields=self._client_max_fields,
            state=self._state.copy(),
        )

    # ------------------------------------------------------------------ connection

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    @property
    def protocol(self) -> HttpProtocol:
        return self._protocol

    @property
    def transport(self) -> asyncio.Transport | None:
        protocol = self._protocol
        return None if protocol is None else protocol.transport

    @property
    def writer(self) -> ResponseWriter:
        return self._payload_writer

    @property
    def client_max_size(self) -> int:
        return self._client_max_size

    @property
    def client_max_fields(self) -> int:
        return self._client_max_fields

    @property
    def message(self) -> RequestHead:
        """Deprecated (as in aiohttp): the parsed request head."""
        warnings.warn("Request.message is deprecated", DeprecationWarning, stacklevel=2)
        return self._head

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """Deprecated (as in aiohttp): use ``asyncio.get_running_loop()``."""
        warnings.warn("request.loop property is deprecated", DeprecationWarning, stacklevel=2)
        return self._loop

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The transport's extra info (``default`` once there is no transport)."""
        transport = self.transport
        if transport is None:
            return default
        return transport.get_extra_info(name, default)

    @reify
    def secure(self) -> bool:
        """True for requests that came over TLS."""
        return self.scheme == "https"

    @reify
    def scheme(self) -> str:
        """``https`` when the connection uses TLS, else ``http`` (never from the request)."""
        transport = self.transport
        if transport is not None and transport.get_extra_info("sslcontext") is not None:
            return "https"
        return "http"

    @reify
    def forwarded(self) -> tuple[Mapping[str, str], ...]:
        """The ``Forwarded`` headers (RFC 7239), one read-only mapping per forwarded-element.

        Names are lower-cased, quoted-strings unquoted and unescaped; nothing is validated
        beyond the syntax.  A malformed element keeps the pairs read before the error, and
        the rest of it up to the next comma is skipped (so a broken value cannot swallow
        the element a trusted proxy appended after it).
        """
        return _parse_forwarded(self.headers.getall(hdrs.FORWARDED, ()))

    @reify
    def host(self) -> str:
        """The ``Host`` header; without one (HTTP/1.0), the local address the request came to.

        That is the socket's own address (``[...]`` for IPv6, the path for a Unix socket),
        or ``""`` when unknown: never a DNS lookup, which would block the event loop.
        """
        host = self._head.host
        if host is not None:
            return _decode(host)
        transport = self.transport
        sockname = None if transport is None else transport.get_extra_info("sockname")
        if sockname is None:
            return ""
        if isinstance(sockname, (tuple, list)):
            if len(sockname) == 4:  # AF_INET6: (host, port, flowinfo, scope_id)
                return f"[{sockname[0]}]"
            return str(sockname[0])
        if isinstance(sockname, bytes):  # an abstract Unix socket
            return _decode(sockname)
        return str(sockname)

    @reify
    def remote(self) -> str | None:
        """The peer's address (IP for TCP)."""
        transport = self.transport
        if transport is None:
            return None
        peer = transport.get_extra_info("peername")
        if isinstance(peer, (list, tuple)):
            return str(peer[0])
        return str(peer) if peer is not None else None

    # ------------------------------------------------------------------ request line

    @property
    def method(self) -> str:
        return self._method

    @property
    def version(self) -> HttpVersion:
        return self._head.version

    @property
    def raw_path(self) -> str:
        """The request target as sent, percent-encoded, with its query string."""
        return self._head.path

    @reify
    def rel_url(self) -> URL:
        """The path, query and fragment as a relative ``yarl.URL``."""
        # A fragment has no place in a request target (RFC 9112 3.2), but aiohttp takes one
        # apart from the path and query rather than refuse it, and so does heron.
        rest, has_fragment, fragment = self._head.path.partition("#")
        path, _, query = rest.partition("?")
        if has_fragment:
            return URL.build(path=path, query_string=query, fragment=fragment, encoded=True)
        return URL.build(path=path, query_string=query, encoded=True)

    @reify
    def url(self) -> URL:
        """The absolute URL: scheme from the transport, host from the Host header."""
        return URL.build(scheme=self.scheme, authority=self.host).join(self.rel_url)

    @reify
    def path(self) -> str:
        """The decoded path (no query string)."""
        raw = self._head.path
        end = raw.find("?")
        if end >= 0:
            raw = raw[:end]
        if "%" not in raw and "#" not in raw:
            # PERF: most paths carry no escapes; skip building a URL ("plaintext").
            return raw
        return self.rel_url.path

    @reify
    def path_qs(self) -> str:
        return str(self.rel_url)

    @reify
    def query_string(self) -> str:
        """The query string, decoded."""
        return self.rel_url.query_string

    @reify
    def query(self) -> MultiDictProxy[str]:
        """The query parameters."""
        _, sep, raw = self._head.path.partition("#")[0].partition("?")
        if not sep or not raw:
            return MultiDictProxy(MultiDict())
        if raw.isascii() and "%" not in raw and "+" not in raw:
            # PERF: "routing": nothing to decode, so no yarl.URL; the same pairs as yarl's
            # (split on "&", empty parts dropped, a part without "=" has the value "").
            pairs = [part.partition("=")[::2] for part in raw.split("&") if part]
            return MultiDictProxy(MultiDict(pairs))
        return self.rel_url.query

    # ------------------------------------------------------------------ headers

    @reify
    def headers(self) -> CIMultiDictProxy[str]:
        """The request headers (case-insensitive, multi-valued)."""
        return CIMultiDictProxy(
            CIMultiDict([(_decode(name), _decode(value)) for name, value in self._head.raw_headers])
        )

    @property
    def raw_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        return tuple(self._head.raw_headers)

    @reify
    def keep_alive(self) -> bool:
        """Whether the client allows the connection to be reused."""
        return self._head.keep_alive

    @reify
    def cookies(self) -> Mapping[str, str]:
        """The request cookies, as aiohttp reads them (RFC 6265 §5.4, leniently).

        Names may hold any visible ASCII but ``" , ; \\ =``; a quoted value is unquoted
        (and may hold ``;``); a name without ``=`` has the value ``""``.  Pairs with an
        illegal name are dropped, with one debug log line per header.
        """
        raw = self.headers.get(hdrs.COOKIE, "")
        return MappingProxyType(_parse_cookies(raw) if raw else {})

    @reify
    def content_type(self) -> str:
        """The media type of the body (``application/octet-stream`` if unset)."""
        raw = self.headers.get(hdrs.CONTENT_TYPE)
        if raw is None:
            return "application/octet-stream"
        return raw.partition(";")[0].strip().lower()

    @reify
    def charset(self) -> str | None:
        """The ``charset`` parameter of ``Content-Type``, as sent (aiohttp keeps its case)."""
        raw = self.headers.get(hdrs.CONTENT_TYPE)
        if raw is None:
            return None
        for part in raw.split(";")[1:]:
            key, sep, value = part.partition("=")
            if sep and key.strip().lower() == "charset":
                return value.strip().strip('"') or None
        return None

    @reify
    def content_length(self) -> int | None:
        return self._head.content_length

    @reify
    def if_modified_since(self) -> datetime.datetime | None:
        """``If-Modified-Since`` as an aware datetime; None if absent or not an HTTP-date."""
        return _parse_date(self.headers.get(hdrs.IF_MODIFIED_SINCE))

    @reify
    def if_unmodified_since(self) -> datetime.datetime | None:
        """``If-Unmodified-Since`` as an aware datetime; None if absent or invalid."""
        return _parse_date(self.headers.get(hdrs.IF_UNMODIFIED_SINCE))

    @reify
    def if_range(self) -> datetime.datetime | None:
        """``If-Range`` when it holds a date (None for an entity-tag, as in aiohttp)."""
        return _parse_date(self.headers.get(hdrs.IF_RANGE))

    @reify
    def if_match(self) -> tuple[ETag, ...] | None:
        """``If-Match`` entity-tags (``(ETag("*"),)`` for ``*``; ``()`` if malformed)."""
        return _parse_etags(self.headers.getall(hdrs.IF_MATCH, ()))

    @reify
    def if_none_match(self) -> tuple[ETag, ...] | None:
        """``If-None-Match`` entity-tags (``(ETag("*"),)`` for ``*``; ``()`` if malformed)."""
        return _parse_etags(self.headers.getall(hdrs.IF_NONE_MATCH, ()))

    @reify
    def http_range(self) -> slice:
        """The ``Range`` header as a slice (single ranges, ASCII digits only).

        A malformed one raises ``ValueError``; let out of the handler, it is a 400.
        """
        raw = self.headers.get(hdrs.RANGE)
        if raw is None:
            return slice(None, None, 1)
        try:
            return _parse_range(raw)
        except ValueError as exc:
            mark_bad_input(exc, f"Invalid Range header: {exc}")
            raise

    # ------------------------------------------------------------------ body

    @reify
    def content(self) -> StreamReader:
        """The body as a stream, decoded per its ``Content-Encoding`` (``auto_decompress``).

        Decoding happens as the stream is read, one bounded piece at a time.
        """
        payload = self._payload
        if payload is EMPTY_PAYLOAD:
            return payload
        coding = None
        for name, value in self._head.raw_headers:
            if len(name) == 16 and name.lower() == b"content-encoding":
                coding = value
        if coding is None:
            return payload
        config = getattr(self._protocol, "config", None)
        if not getattr(config, "auto_decompress", True):
            return payload
        decoder = make_content_decoder(_decode(coding))
        if decoder is None:
            return payload
        return DecodingStreamReader(
            payload,
            decoder,
            chunk_size=getattr(config, "read_bufsize", 2**16),
            # (Not a bound method: the stream, stored on the request, would hold it.)
            on_error=functools.partial(_undecodable, self._head, self._protocol),
        )

    @property
    def body_exists(self) -> bool:
        """True when the request was sent with a body."""
        return self._payload is not EMPTY_PAYLOAD

    @property
    def has_body(self) -> bool:
        """Deprecated alias of ``can_read_body`` (warns, as in aiohttp)."""
        warnings.warn("Deprecated, use .can_read_body #2005", DeprecationWarning, stacklevel=2)
        return not self.content.at_eof()

    @property
    def can_read_body(self) -> bool:
        """True while unread body bytes remain."""
        return not self.content.at_eof()

    async def release(self) -> None:
        """Read and drop the rest of the body (as received: nothing is decompressed)."""
        payload = self._payload
        while not payload.at_eof():
            if not await payload.readany():
                break

    async def read(self) -> bytes:
        """The whole body; 413 once it exceeds ``client_max_size``."""
        if self._read_bytes is None:
            limit = self._client_max_size
            declared = self._head.content_length
            if limit and declared is not None and declared > limit:
                raise _too_large(limit, declared)
            payload = self.content
            try:
                whole = payload.read_ended()
            except AttributeError:  # a payload stream from elsewhere (aiohttp's, in tests)
                whole = None
            if whole is not None:
                if limit and len(whole) > limit:
                    raise _too_large(limit, len(whole))
                self._read_bytes = whole
                return whole
            parts = []
            size = 0
            while True:
                chunk = await payload.readany()
                if not chunk:
                    break
                size += len(chunk)
                if limit and size > limit:
                    raise _too_large(limit, size)
                parts.append(chunk)
            self._read_bytes = b"".join(parts)
        return self._read_bytes

    async def text(self) -> str:
        """The body decoded with its charset (UTF-8 when none is given)."""
        body = await self.read()
        encoding = self.charset or "utf-8"
        try:
            try:
                return body.decode(encoding)
            except LookupError:
                encoding = "utf-8"
                return body.decode(encoding)
        except UnicodeDecodeError as exc:
            mark_bad_input(exc, f"Request body is not {encoding} text")
            raise

    async def json(
        self,
        *,
        loads: Callable[[str], Any] = json.loads,
        content_type: str | None = "application/json",
    ) -> Any:
        """The body parsed as JSON (errors propagate as raised by ``loads``).

        A ``ValueError`` from ``loads`` (``json.JSONDecodeError`` is one) that the handler
        does not catch is answered with a 400, not a 500.
        """
        body = await self.text()
        try:
            return loads(body)
        except ValueError as exc:
            mark_bad_input(exc, f"Invalid JSON body: {exc}")  # as json_body() says it
            raise

    async def post(self) -> MultiDictProxy[Any]:
        """Form fields from an urlencoded or multipart body."""
        if self._post is not None:
            return self._post
        if self._method not in self.POST_METHODS:
            self._post = MultiDictProxy(MultiDict())
            return self._post
        ctype = self.content_type
        if ctype in ("application/x-www-form-urlencoded", ""):
            charset = self.charset or "utf-8"
            try:
                text = (await self.read()).rstrip().decode(charset)
            except (LookupError, UnicodeDecodeError):
                raise bad_body(f"Form body is not {charset} text") from None
            max_fields = self._client_max_fields
            try:
                pairs = parse_qsl(
                    text,
                    keep_blank_values=True,
                    encoding=charset,
                    max_num_fields=max_fields if max_fields > 0 else None,
                )
            except ValueError:
                raise too_many_fields(max_fields) from None
            self._post = MultiDictProxy(MultiDict(pairs))
            return self._post
        if ctype == "multipart/form-data":
            return await self._post_multipart()
        self._post = MultiDictProxy(MultiDict())
        return self._post

    async def multipart(self) -> MultipartReader:
        """A reader over the parts of a ``multipart/*`` body (streamed, not buffered).

        At most ``client_max_fields`` parts (0: no limit); whole-part reads such as
        ``part.read()`` are bounded by ``client_max_size``; ``part.read_chunk()`` streams.
        """
        return self._multipart_reader(max_body_size=0, max_parts=self._client_max_fields)

    def _multipart_reader(self, *, max_body_size: int, max_parts: int) -> MultipartReader:
        config = getattr(self._protocol, "config", None)
        return MultipartReader(
            self.headers,
            self.content,
            client_max_size=self._client_max_size,
            max_field_size=getattr(config, "max_field_size", 8190),
            max_headers=getattr(config, "max_headers", 128),
            max_parts=max_parts,
            max_size_error_cls=_too_large,
            max_body_size=max_body_size,
        )

    async def _post_multipart(self) -> MultiDictProxy[Any]:
        limit = self._client_max_size
        declared = self._head.content_length
        if limit and declared is not None and declared > limit:
            raise _too_large(limit, declared)
        max_fields = self._client_max_fields
        # One part more than allowed reaches read_multipart_form, whose 413 names the
        # field limit (as aiohttp's does), instead of the parser's 400.
        reader = self._multipart_reader(
            max_body_size=limit, max_parts=max_fields + 1 if max_fields > 0 else 0
        )
        self._post = await read_multipart_form(
            reader,
            max_fields=self._client_max_fields,
            loop=self._loop,
            task=self._task,
            file_field=FileField,
        )
        return self._post

    # ------------------------------------------------------------------ mapping

    def __repr__(self) -> str:
        path = self.path.encode("ascii", "backslashreplace").decode("ascii")
        return f"<{type(self).__name__} {self._method} {path} >"


class Request(BaseRequest):
    """A request routed inside an :class:`Application`."""

    # PERF: "plaintext": class defaults instead of an __init__ that forwards *args/**kwargs.
    _match_info: Any = None
    _app: Application | None = None

    def _clone_into(self, head: RequestHead) -> Request:
        clone = Request(
            head,
            self._payload,
            self._protocol,
            self._payload_writer,
            self._task,
            self._loop,
            client_max_size=self._client_max_size,
            client_max_fields=self._client_max_fields,
            state=self._state.copy(),
        )
        clone._match_info = self._match_info
        clone._app = self._app
        return clone

    def clone(self, **kwargs: Any) -> Request:
        result = super().clone(**kwargs)
        assert isinstance(result, Request)
        return result

    @property
    def match_info(self) -> Any:
        """The route's match: a dict of path variables with ``route``, ``apps``…"""
        return self._match_info

    @property
    def app(self) -> Application:
        """The application (or sub-application) that handles this request."""
        match_info = self._match_info
        if match_info is not None and getattr(match_info, "current_app", None) is not None:
            app: Application = match_info.current_app
            return app
        assert self._app is not None
        return self._app

    @reify
    def config_dict(self) -> Mapping[Any, Any]:
        """A ChainMap over this app and its parents, innermost first."""
        apps = getattr(self._match_info, "apps", None) or (self.app,)
        return ChainMap(*reversed(apps))

    @property
    def _has_prepare_hooks(self) -> bool:
        app = self._app
        return app is not None and bool(app.on_response_prepare)

    async def _prepare_hook(self, response: StreamResponse) -> None:
        match_info = self._match_info
        apps = getattr(match_info, "apps", None) or ((self._app,) if self._app else ())
        for app in apps:
            signal = app.on_response_prepare
            if signal:
                await signal.send(self, response)


def _too_large(limit: int, size: int) -> HTTPRequestEntityTooLarge:
    # The rest of the body is not worth reading: answer and close.
    exc = HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
    exc.force_close()
    return exc


def _parse_range(raw: str) -> slice:
    unit, sep, spec = raw.partition("=")
    start_s, dash, end_s = spec.partition("-")
    if (
        unit.strip(" \t").lower() != "bytes"  # range units are case-insensitive
        or not sep
        or not dash
        or not (start_s or end_s)
        or not all(c in "0123456789" for c in start_s + end_s)
    ):
        raise ValueError("range not in acceptable format")
    start = int(start_s) if start_s else None
    end = int(end_s) if end_s else None
    if start is None and end is not None:
        if end == 0:
            # RFC 9110 §14.1.1: a zero suffix-length selects nothing.
            raise ValueError("suffix length cannot be zero")
        return slice(-end, None, 1)
    if start is not None and end is not None:
        if start > end:
            raise ValueError("start cannot be after end")
        return slice(start, end + 1, 1)
    return slice(start, None, 1)


def _undecodable(head: RequestHead, protocol: Any, reason: str) -> None:
    """The body does not decode: the client's fault, however the handler answers.

    The connection closes after the response and nothing pipelined after this request
    is processed.
    """
    head.keep_alive = False
    reject = getattr(protocol, "reject_body", None)
    if reject is not None:
        reject(reason)


def mark_bad_input(exc: BaseException, reason: str) -> None:
    """Mark ``exc`` as raised on the client's bad input, with what a 400 says of it.

    An undecodable body (``text()``, ``json()``) or a malformed ``Range`` (``http_range``):
    if the handler lets that very exception out, the server answers 400 with ``reason``
    (``bad_input_reason``), where aiohttp answers 500 and logs a server error.  The mark is
    on the exception, not the request: it makes no reference cycle, and an exception the
    handler raises itself is never taken for one.
    """
    exc._heron_bad_input = reason  # type: ignore[attr-defined]


def bad_input_reason(exc: BaseException) -> str | None:
    """What ``mark_bad_input`` said of ``exc``, or None."""
    reason: str | None = getattr(exc, "_heron_bad_input", None)
    return reason


def bad_body(reason: str, status: int = 400) -> HTTPException:
    """The answer to a body the client sent badly: ``status`` (400, or 431 for oversized
    trailers) saying ``reason``, then close."""
    cls = HTTPRequestHeaderFieldsTooLarge if status == 431 else HTTPBadRequest
    exc = cls(text=reason)
    exc.force_close()
    return exc


def _parse_date(raw: str | None) -> datetime.datetime | None:
    # RFC 9110 §5.6.7's three forms only, ASCII digits only (email.utils is laxer).
    if not raw:
        return None
    seconds = parse_http_date(raw)
    if seconds is None:
        return None
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)


def _parse_etags(values: list[str] | tuple[()]) -> tuple[ETag, ...] | None:
    # A list field may span several header lines (RFC 9110 §5.3); commas may sit inside
    # an entity-tag, so the value is scanned, not split.
    if not values:
        return None
    # As aiohttp: the tags before a malformed element are kept.
    tags = parse_entity_tags(",".join(values), leading=True)
    if tags is None:
        return ()
    return tuple(ETag(tag.value, tag.weak) for tag in tags)


def _parse_forwarded(values: list[str] | tuple[()]) -> tuple[Mapping[str, str], ...]:
    elems: list[Mapping[str, str]] = []
    for field in values:
        elem: dict[str, str] = {}
        elems.append(MappingProxyType(elem))
        pos, end = 0, len(field)
        after_pair = False  # a pair must be followed by ";" or ","
        while pos < end:
            char = field[pos]
            if char == ",":
                elem = {}
                elems.append(MappingProxyType(elem))
                after_pair = False
                pos += 1
            elif char == ";":
                after_pair = False
                pos += 1
            elif char in " \t":  # tolerated anywhere, as aiohttp does
                pos += 1
            else:
                match = None if after_pair else _FORWARDED_PAIR_RE.match(field, pos)
                if match is None:
                    pos = field.find(",", pos)  # skip the rest of this element
                    if pos < 0:
                        break
                    continue
                name, value, port = match.groups()
                if value[0] == '"':
                    value = _QUOTED_PAIR_RE.sub(r"\1", value[1:-1])
                if port:
                    value += port
                elem[name.lower()] = value
                pos = match.end()
                after_pair = True
    return tuple(elems)


def _parse_cookies(raw: str) -> dict[str, str]:
    cookies: dict[str, str] = {}
    bad: list[str] = []
    pos, end = 0, len(raw)
    while pos < end:
        semi = raw.find(";", pos)
        if semi < 0:
            semi = end
        eq = raw.find("=", pos, semi)
        if eq < 0:
            name, value = raw[pos:semi].strip(" \t"), ""
            pos = semi + 1
        else:
            name = raw[pos:eq].strip(" \t")
            start = eq + 1
            while start < semi and raw[start] in " \t":
                start += 1
            quoted = _COOKIE_QUOTED_RE.match(raw, start) if raw.startswith('"', start) else None
            if quoted is not None:
                # A quoted value may hold ";": it ends at its closing quote when only
                # blanks follow before the next ";".
                after = raw.find(";", quoted.end())
                if after < 0:
                    after = end
                if raw[quoted.end() : after].strip(" \t"):
                    quoted = None
                else:
                    semi = after
            if quoted is not None:
                value = _unquote_cookie(quoted.group())
            else:
                value = _unquote_cookie(raw[start:semi].strip(" \t"))
            pos = semi + 1
        if not name:
            continue
        if all(c in _COOKIE_NAME for c in name):
            cookies[name] = value
        else:
            bad.append(name)
    if bad:
        # One line per header, however many names (GHSA-fh55-r93g-j68g: no log storm).
        _log.debug("Cannot load cookie. Illegal cookie names: %r", bad)
    return cookies


def _unescape(match: re.Match[str]) -> str:
    octal = match.group(1)
    return chr(int(octal, 8)) if octal else match.group(2)


def _unquote_cookie(value: str) -> str:
    # A quoted value loses its quotes and its backslash escapes (\\" and octal \\ooo).
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return _COOKIE_ESCAPE_RE.sub(_unescape, value[1:-1])
    return value
