"""StreamResponse, Response and json_response: aiohttp's response API.

A response collects status, headers and cookies, then ``prepare`` finalises the
head (Content-Length or chunked, Connection, Date, Server, compression) and
writes it through the connection's :class:`ResponseWriter`.  A ``Response``
whose body is known is sent by the server with a single transport write.
"""

from __future__ import annotations

import asyncio
import datetime
import enum
import json
import math
import re
import warnings
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from concurrent.futures import Executor
from email.utils import parsedate_to_datetime
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from multidict import CIMultiDict

from .. import hdrs
from .._io.writer import ResponseWriter
from .._proto.codings import Compressor, available, make_compressor, negotiate
from .._proto.serialize import reason_phrase, serialize_head, status_line
from .._util.dates import http_date
from .._util.fastjson import dumps as _fast_dumps
from .payloads import BodyPayload, make_payload
from .state import StateMapping, warn_str_key

if TYPE_CHECKING:
    from .request import BaseRequest

__all__ = (
    "ContentCoding",
    "ETag",
    "Response",
    "StreamResponse",
    "json_bytes_response",
    "json_response",
)

_SENTINEL: Any = object()


class ContentCoding(enum.Enum):
    """Content codings heron can apply to a response body."""

    deflate = "deflate"
    gzip = "gzip"
    identity = "identity"
    br = "br"  # needs the brotli package (the "compression" extra)
    zstd = "zstd"  # needs a zstd library (the "compression" extra)


class ETag(NamedTuple):
    """An entity tag: its opaque value and whether it is weak."""

    value: str
    is_weak: bool = False


# Statuses whose responses carry neither a body nor Content-Length/Transfer-Encoding
# (RFC 9110 §8.6, RFC 9112 §6.1): every 1xx, 204 and 304.
_NO_BODY_STATUSES = frozenset({*range(100, 200), 204, 304})
# Compress chunks at least this large in an executor, off the event loop (aiohttp: 4 KiB).
_COMPRESS_OFFLOAD_SIZE = 32 * 1024
_REUSED = (
    "This response was already used for another request: "
    "one request, one response (create a new response object for each request)"
)
_BOTH_CONTENT_TYPES = (
    "passing both Content-Type header and content_type or charset params is forbidden"
)


def _parse_content_type(raw: str) -> tuple[str, dict[str, str]]:
    mime, _, rest = raw.partition(";")
    params: dict[str, str] = {}
    for part in rest.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    mime = mime.strip().lower()
    if "/" not in mime:
        # Not a media type (aiohttp reads it as the default too).
        mime = "application/octet-stream"
    return mime, params


class _MisuseError(RuntimeError, AssertionError):
    """A response used out of order; aiohttp asserts here, so both kinds are caught."""


class _WrongTypeError(TypeError, AssertionError):
    """An argument of the wrong type; aiohttp asserts here, so both kinds are caught."""


# RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; etagc = "!" / %x23-7E / obs-text
_ETAG_VALUE = r"[!\x23-\x7e\x80-\xff]+"
_ETAGC = re.compile(_ETAG_VALUE)
_QUOTED_ETAG = re.compile(rf'(W/)?"({_ETAG_VALUE})"')
_SEEN_STR_KEYS: set[str] = set()


#: What the server calls to send a returned response; a subclass may override them.
_SEND_METHODS = ("prepare", "write_eof", "_start")


class StreamResponse(StateMapping[str]):
    """A response whose body is written piece by piece after ``prepare``."""

    #: True on HTTP exceptions (aiohttp's marker); read instead of a slow isinstance().
    __http_exception__ = False

    _length_check = True
    _zlib_executor_size: int | None = None
    _zlib_executor: Executor | None = None

    # PERF: "plaintext", "json": a response's defaults live on the class and __init__
    # assigns only what it must (the first assignment on an instance shadows the default).
    _body: bytes | None = None
    _keep_alive: bool | None = None
    _chunked = False
    _compression = False
    _compression_force: ContentCoding | None = None
    _compression_strategy: int | None = None
    _compressor: Any = None
    _cookies: SimpleCookie | None = None
    _partitioned: AbstractSet[str] = frozenset()
    _req: BaseRequest | None = None
    _writer: ResponseWriter | None = None
    _eof_sent = False
    _must_be_empty_body: bool | None = None
    _body_length = 0

    def __init__(
        self,
        *,
        status: int = 200,
        reason: str | None = None,
        headers: Any = None,
        _real_headers: CIMultiDict[str] | None = None,
    ) -> None:
        self._state: dict[str, Any] = {}
        if _real_headers is not None:
            self._headers = _real_headers
        elif headers is not None:
            self._headers = CIMultiDict(headers)
        else:
            self._headers = CIMultiDict()
        if reason is None and type(status) is int:
            # PERF: "plaintext": set_status's common case, without the call.
            self._status = status
            self._custom_reason: str | None = None
            self._reason = reason_phrase(status)
        else:
            self.set_status(status, reason)

    def __setitem__(self, key: Any, value: Any) -> None:
        if type(key) is str and key not in _SEEN_STR_KEYS:
            warn_str_key(key, _SEEN_STR_KEYS, "ResponseKey", "response-s-storage")
        self._state[key] = value

    # ------------------------------------------------------------------ status

    @property
    def prepared(self) -> bool:
        """True once the head has been sent."""
        return self._eof_sent or self._writer is not None

    @property
    def task(self) -> Any:
        return self._req.task if self._req is not None else None

    @property
    def status(self) -> int:
        return self._status

    @property
    def reason(self) -> str:
        return self._reason

    def set_status(self, status: int, reason: str | None = None) -> None:
        """Set the status code and (optionally) a reason phrase without CR or LF."""
        if self.prepared:
            raise _MisuseError(
                "Cannot change the response status code after the headers have been sent"
            )
        self._status = status = int(status)
        # Kept apart so the precomputed status line serves the common case.
        self._custom_reason = reason
        if reason is None:
            reason = reason_phrase(status)
        elif "\r" in reason or "\n" in reason:
            raise ValueError("Reason cannot contain \\r or \\n")
        self._reason = reason

    # ------------------------------------------------------------------ connection

    @property
    def keep_alive(self) -> bool | None:
        return self._keep_alive

    def force_close(self) -> None:
        """Close the connection after this response."""
        self._keep_alive = False

    @property
    def body_length(self) -> int:
        return self._body_length

    @property
    def output_length(self) -> int:
        """Bytes written so far, head included (deprecated, as in aiohttp)."""
        warnings.warn("output_length is deprecated", DeprecationWarning, stacklevel=2)
        return self._bytes_sent()

    def _bytes_sent(self) -> int:
        """Bytes written so far, head included (the access log's ``%b``)."""
        return self._writer.output_size if self._writer is not None else 0

    @property
    def chunked(self) -> bool:
        return self._chunked

    @property
    def compression(self) -> bool:
        return self._compression

    def enable_chunked_encoding(self, chunk_size: int | None = None) -> None:
        """Send the body with chunked transfer coding."""
        if hdrs.CONTENT_LENGTH in self._headers:
            raise RuntimeError("You can't enable chunked encoding when a content length is set")
        if chunk_size is not None:
            warnings.warn("Chunk size is deprecated #1615", DeprecationWarning, stacklevel=2)
        self._chunked = True

    def enable_compression(
        self,
        force: bool | ContentCoding | None = None,
        strategy: int | None = None,
    ) -> None:
        """Compress the body: negotiated from Accept-Encoding, or ``force``d.

        Negotiation weighs the client's q-values among zstd, br, gzip and deflate (zstd and
        br only when their libraries are installed).  A body that already has a
        Content-Encoding is never compressed again.
        """
        if isinstance(force, bool):
            force = ContentCoding.deflate if force else ContentCoding.identity
            warnings.warn(
                "Using boolean for force is deprecated #3318", DeprecationWarning, stacklevel=2
            )
        if force not in (None, ContentCoding.identity) and force.value not in available():
            raise RuntimeError(f"{force.value!r} compression needs heron[compression]")
        self._compression = True
        self._compression_force = force
        self._compression_strategy = strategy

    # ------------------------------------------------------------------ headers

    @property
    def headers(self) -> CIMultiDict[str]:
        return self._headers

    @property
    def cookies(self) -> SimpleCookie:
        if self._cookies is None:
            self._cookies = SimpleCookie()
        return self._cookies

    def set_cookie(
        self,
        name: str,
        value: str,
        *,
        expires: str | None = None,
        domain: str | None = None,
        max_age: int | str | None = None,
        path: str = "/",
        secure: bool | None = None,
        httponly: bool | None = None,
        version: str | None = None,
        samesite: str | None = None,
        partitioned: bool | None = None,
    ) -> None:
        """Add a ``Set-Cookie`` header to the response."""
        cookies = self.cookies
        old = cookies.get(name)
        if old is not None and old.coded_value == "":
            # A deleted cookie being set again: drop the stale attributes.
            cookies.pop(name, None)
        cookies[name] = value
        morsel = cookies[name]
        if expires is not None:
            morsel["expires"] = expires
        elif morsel.get("expires") == "Thu, 01 Jan 1970 00:00:00 GMT":
            del morsel["expires"]
        if domain is not None:
            morsel["domain"] = domain
        if max_age is not None:
            morsel["max-age"] = str(max_age)
        elif "max-age" in morsel:
            del morsel["max-age"]
        morsel["path"] = path
        if secure is not None:
            morsel["secure"] = secure
        if httponly is not None:
            morsel["httponly"] = httponly
        if version is not None:
            morsel["version"] = version
        if samesite is not None:
            morsel["samesite"] = samesite
        if partitioned:
            self._partitioned = {*self._partitioned, name}
        elif name in self._partitioned:
            self._partitioned = self._partitioned - {name}

    def del_cookie(
        self,
        name: str,
        *,
        domain: str | None = None,
        path: str = "/",
        secure: bool | None = None,
        httponly: bool | None = None,
        samesite: str | None = None,
    ) -> None:
        """Tell the client to delete a cookie (an expired, empty ``Set-Cookie``)."""
        self.cookies.pop(name, None)
        self.set_cookie(
            name,
            "",
            max_age=0,
            expires="Thu, 01 Jan 1970 00:00:00 GMT",
            domain=domain,
            path=path,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
        )

    @property
    def content_length(self) -> int | None:
        value = self._headers.get(hdrs.CONTENT_LENGTH)
        return int(value) if value is not None else None

    @content_length.setter
    def content_length(self, value: int | None) -> None:
        if value is not None:
            value = int(value)
            if self._chunked:
                raise RuntimeError("You can't set content length when chunked encoding is enable")
            self._headers[hdrs.CONTENT_LENGTH] = str(value)
        else:
            self._headers.pop(hdrs.CONTENT_LENGTH, None)

    @property
    def content_type(self) -> str:
        raw = self._headers.get(hdrs.CONTENT_TYPE)
        if raw is None:
            return "application/octet-stream"
        return _parse_content_type(raw)[0]

    @content_type.setter
    def content_type(self, value: str) -> None:
        self.content_type  # noqa: B018 - validates the current header
        params = self._ct_params()
        self._set_content_type(str(value), params.get("charset"))

    @property
    def charset(self) -> str | None:
        return self._ct_params().get("charset")

    @charset.setter
    def charset(self, value: str | None) -> None:
        ctype = self.content_type
        if ctype == "application/octet-stream":
            raise RuntimeError(
                "Setting charset for application/octet-stream doesn't make sense, "
                "setup content_type first"
            )
        self._set_content_type(ctype, value.lower() if value else None)

    def _ct_params(self) -> dict[str, str]:
        raw = self._headers.get(hdrs.CONTENT_TYPE)
        return _parse_content_type(raw)[1] if raw is not None else {}

    def _set_content_type(self, ctype: str, charset: str | None) -> None:
        if charset:
            self._headers[hdrs.CONTENT_TYPE] = f"{ctype}; charset={charset}"
        else:
            self._headers[hdrs.CONTENT_TYPE] = ctype

    @property
    def last_modified(self) -> datetime.datetime | None:
        raw = self._headers.get(hdrs.LAST_MODIFIED)
        if raw is None:
            return None
        try:
            return parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None

    @last_modified.setter
    def last_modified(self, value: int | float | datetime.datetime | str | None) -> None:
        if value is None:
            self._headers.pop(hdrs.LAST_MODIFIED, None)
        elif isinstance(value, (int, float)):
            self._headers[hdrs.LAST_MODIFIED] = http_date(math.ceil(value))
        elif isinstance(value, datetime.datetime):
            # Rounded up, as a timestamp is: never earlier than the true modification time.
            self._headers[hdrs.LAST_MODIFIED] = http_date(math.ceil(value.timestamp()))
        elif isinstance(value, str):
            self._headers[hdrs.LAST_MODIFIED] = value
        else:
            raise TypeError(f"Unsupported type for last_modified: {type(value).__name__}")

    @property
    def etag(self) -> ETag | None:
        raw = self._headers.get(hdrs.ETAG)
        if not raw:
            return None
        if raw == "*":
            return ETag("*")
        match = _QUOTED_ETAG.fullmatch(raw)
        if match is None:
            return None
        return ETag(match.group(2), match.group(1) is not None)

    @etag.setter
    def etag(self, value: ETag | str | None) -> None:
        if value is None:
            self._headers.pop(hdrs.ETAG, None)
            return
        tag: Any = value
        weak = False
        if not isinstance(value, str):
            # An ETag, or an object shaped like one (aiohttp's own ETag class).
            tag = getattr(value, "value", None)
            weak = bool(getattr(value, "is_weak", False))
            if not isinstance(tag, str):
                raise ValueError(
                    f"Unsupported etag type: {type(value)}. etag must be str, ETag or None"
                )
        if tag == "*":
            self._headers[hdrs.ETAG] = "*"
            return
        if _ETAGC.fullmatch(tag) is None:
            raise ValueError(f"Value {tag!r} is not a valid etag. Maybe it contains '\"'?")
        self._headers[hdrs.ETAG] = f'W/"{tag}"' if weak else f'"{tag}"'

    # ------------------------------------------------------------------ sending

    async def prepare(self, request: BaseRequest) -> ResponseWriter | None:
        """Send the head; run the app's ``on_response_prepare`` signal first."""
        writer = self._writer
        if writer is not None and writer is not request._payload_writer:
            raise RuntimeError(_REUSED)
        if self._eof_sent:
            return None
        if writer is not None:
            return writer
        self._claim(request)
        await request._prepare_hook(self)
        if self._compression:
            await self._compress_whole(request)
        return self._start(request)

    async def _compress_whole(self, request: BaseRequest) -> None:
        """Compress a body known in full before the head is built (Response does)."""

    def _claim(self, request: BaseRequest) -> None:
        # A clone of the request shares its writer: same request, same response.
        req = self._req
        if req is not None and req._payload_writer is not request._payload_writer:
            raise RuntimeError(_REUSED)
        self._req = request

    def _start(self, request: BaseRequest) -> ResponseWriter:
        writer = self._writer = request._payload_writer
        version = request.version
        head_only = request._method == "HEAD"
        no_body = head_only or self._status in _NO_BODY_STATUSES
        self._must_be_empty_body = no_body
        headers = self._headers
        if self._compression:
            self._setup_compression(request)
        if self._chunked:
            if version != (1, 1):
                raise RuntimeError(
                    f"Using chunked encoding is forbidden for HTTP/{version[0]}.{version[1]}"
                )
            if not no_body:
                headers[hdrs.TRANSFER_ENCODING] = "chunked"
            headers.pop(hdrs.CONTENT_LENGTH, None)
        elif self._length_check and hdrs.CONTENT_LENGTH not in headers:
            if version >= (1, 1) and not no_body:
                self._chunked = True
                headers[hdrs.TRANSFER_ENCODING] = "chunked"
            elif not no_body:
                self._keep_alive = False
        self._finish_headers(request)
        writer.send_head(self._serialize_head(version), chunked=self._chunked and not no_body)
        return writer

    def _finish_headers(self, request: BaseRequest) -> None:
        headers = self._headers
        keep_alive = self._keep_alive
        if keep_alive is None:
            keep_alive = self._keep_alive = request.keep_alive
        status = self._status
        if status in _NO_BODY_STATUSES:
            headers.pop(hdrs.CONTENT_LENGTH, None)
            headers.pop(hdrs.TRANSFER_ENCODING, None)
        elif hdrs.CONTENT_TYPE not in headers and headers.get(hdrs.CONTENT_LENGTH) != "0":
            # A body of unknown type (RFC 9110 §8.3); an empty one has no type at all.
            headers[hdrs.CONTENT_TYPE] = "application/octet-stream"
        if request.version == (1, 1):
            if not keep_alive:
                headers[hdrs.CONNECTION] = "close"
        elif keep_alive:
            headers[hdrs.CONNECTION] = "keep-alive"
        else:
            headers.pop(hdrs.CONNECTION, None)
        if hdrs.DATE not in headers:
            headers[hdrs.DATE] = request._protocol.date()
        if hdrs.SERVER not in headers:
            headers[hdrs.SERVER] = request._protocol.config.server_header

    def _serialize_head(self, version: tuple[int, int]) -> bytes:
        line = status_line(version, self._status, self._custom_reason)
        headers: Any = self._headers.items()
        if self._cookies:
            headers = [*headers, *self._cookie_headers()]
        return serialize_head(line, headers)

    def _cookie_headers(self) -> Iterator[tuple[str, str]]:
        assert self._cookies is not None
        for name, morsel in self._cookies.items():
            text = morsel.OutputString()
            if name in self._partitioned:
                text += "; Partitioned"
            yield hdrs.SET_COOKIE, text

    def _coding(self, request: BaseRequest) -> ContentCoding | None:
        """The coding to compress with, or None (identity, nothing acceptable, or the
        body already has a Content-Encoding: never compressed twice)."""
        if hdrs.CONTENT_ENCODING in self._headers:
            return None
        coding = self._compression_force
        if coding is None:
            name = negotiate(request.headers.get(hdrs.ACCEPT_ENCODING, ""), available())
            coding = ContentCoding(name) if name is not None else None
        if coding is None or coding is ContentCoding.identity:
            return None
        return coding

    def _set_coding(self, coding: ContentCoding) -> None:
        self._headers[hdrs.CONTENT_ENCODING] = coding.value
        if hdrs.ACCEPT_ENCODING not in self._headers.getall(hdrs.VARY, ()):
            self._headers.add(hdrs.VARY, hdrs.ACCEPT_ENCODING)

    def _setup_compression(self, request: BaseRequest) -> None:
        coding = self._coding(request)
        if coding is None:
            return
        self._compressor = make_compressor(coding.value, self._compression_strategy)
        self._set_coding(coding)
        self._headers.pop(hdrs.CONTENT_LENGTH, None)
        if request.version >= (1, 1):
            self._chunked = True

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        """Write body bytes (``prepare`` must have been awaited)."""
        if self._eof_sent:
            raise RuntimeError("Cannot call write() after write_eof()")
        writer = self._writer
        if writer is None:
            raise RuntimeError("Cannot call write() before prepare()")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise _WrongTypeError(f"data argument must be byte-ish ({type(data)!r})")
        self._body_length += len(data)
        if self._compressor is not None:
            data = await self._compress(data, False)
            if not data:
                return
        await writer.write(data)

    async def _compress(self, data: bytes | bytearray | memoryview, final: bool) -> bytes:
        compressor: Compressor = self._compressor
        size = self._zlib_executor_size or _COMPRESS_OFFLOAD_SIZE
        if len(data) >= size:
            # A large chunk would stall every other connection: compress it in a thread.
            loop = asyncio.get_running_loop()
            out = await loop.run_in_executor(self._zlib_executor, compressor.compress, data)
        else:
            out = compressor.compress(data)
        return out + compressor.flush() if final else out

    async def drain(self) -> None:
        """Wait until the peer has taken what was written (deprecated, as in aiohttp:
        ``write()`` already waits)."""
        if self._writer is None:
            raise _MisuseError("Response has not been started")
        warnings.warn(
            "drain method is deprecated, use await resp.write()",
            DeprecationWarning,
            stacklevel=2,
        )
        await self._writer.drain()

    async def write_eof(self, data: bytes = b"") -> None:
        """Finish the response (no more writes)."""
        if self._eof_sent:
            return
        writer = self._writer
        if writer is None:
            raise _MisuseError("Response has not been started")
        self._body_length += len(data)
        if self._compressor is not None:
            data = await self._compress(data, True)
        await writer.write_eof(data)
        self._eof_sent = True

    async def _send(self, request: BaseRequest) -> None:
        """Prepare and finish: used by the server for a response the handler returned."""
        await self.prepare(request)
        await self.write_eof()

    # ------------------------------------------------------------------ mapping and identity

    def __repr__(self) -> str:
        if self._eof_sent:
            info = "eof"
        elif self.prepared and self._req is not None:
            info = f"{self._req.method} {self._req.path} "
        else:
            info = "not prepared"
        return f"<{type(self).__name__} {self.reason} {info}>"


# content_type argument -> the Content-Type field of a text response (UTF-8) or of a
# bytes body with that type: what Response's general path would build; see _learn_type.
_TEXT_FIELDS: dict[str | None, tuple[tuple[str, str], ...]] = {
    None: ((hdrs.CONTENT_TYPE, "text/plain; charset=utf-8"),),
}
_BODY_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {}
_FIELDS_SIZE: Final = 64


def _learn_type(content_type: str, text: bool) -> None:
    """Remember ``content_type``'s field for Response's fast path (a bounded cache; values
    the general path refuses, or that could not be sent, are never learned)."""
    if "charset" in content_type or "\r" in content_type or "\n" in content_type:
        return
    if text:
        if len(_TEXT_FIELDS) < _FIELDS_SIZE:
            _TEXT_FIELDS[content_type] = ((hdrs.CONTENT_TYPE, f"{content_type}; charset=utf-8"),)
    elif len(_BODY_FIELDS) < _FIELDS_SIZE:
        _BODY_FIELDS[content_type] = ((hdrs.CONTENT_TYPE, content_type),)


class Response(StreamResponse):
    """A response with its whole body known up front (``body=`` or ``text=``).

    ``body`` may also be streamed: an async iterable, a file object or another payload
    (see :mod:`heron._web.payloads`), sent with ``Content-Length`` when its size is known.
    """

    _payload: BodyPayload | None = None
    #: The body as sent once compressed whole by ``prepare`` (aiohttp's name).
    _compressed_body: bytes | None = None
    #: True in a subclass that overrides one of ``_SEND_METHODS``: the server then sends it
    #: through its own ``prepare()`` and ``write_eof()``, as aiohttp sends every response
    #: (a header added in ``prepare``, a last piece of body in ``write_eof``), never through
    #: the one-write path of ``_send``.
    _custom_send = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._custom_send = any(
            getattr(cls, name) is not getattr(Response, name) for name in _SEND_METHODS
        )

    def __init__(
        self,
        *,
        body: Any = None,
        status: int = 200,
        reason: str | None = None,
        text: str | None = None,
        headers: Any = None,
        content_type: str | None = None,
        charset: str | None = None,
        zlib_executor_size: int | None = None,
        zlib_executor: Executor | None = None,
    ) -> None:
        if headers is None and charset is None:
            # PERF: "plaintext", "json", "echo": ``Response(text=...)``, json_response and
            # ``Response(body=bytes, content_type=...)``, the commonest responses, without
            # the general checks below or the call up to StreamResponse.__init__; the
            # Content-Type field is built once per content type (see _learn_type).
            fields = None
            if text is not None:
                if body is None and type(text) is str:
                    fields = _TEXT_FIELDS.get(content_type)
                    payload = text.encode() if fields is not None else b""
            elif type(body) is bytes and content_type is not None:
                fields = _BODY_FIELDS.get(content_type)
                payload = body
            if fields is not None:
                self._state = {}
                self._headers = CIMultiDict(fields)
                if reason is None and type(status) is int:
                    self._status = status
                    self._custom_reason = None
                    self._reason = reason_phrase(status)
                else:
                    self.set_status(status, reason)
                if zlib_executor_size is not None:
                    self._zlib_executor_size = zlib_executor_size
                if zlib_executor is not None:
                    self._zlib_executor = zlib_executor
                self._body = payload
                return
            if content_type is not None:
                _learn_type(content_type, text is not None)
        if body is not None and text is not None:
            raise ValueError("body and text are not allowed together")
        real = CIMultiDict(headers) if headers is not None else CIMultiDict()
        if content_type is not None and "charset" in content_type:
            raise ValueError("charset must not be in content_type argument")
        encoded: bytes | None = None
        if text is not None:
            if not isinstance(text, str):
                raise TypeError(f"text argument must be str ({type(text)!r})")
            if hdrs.CONTENT_TYPE in real:
                if content_type or charset:
                    raise ValueError(_BOTH_CONTENT_TYPES)
            else:
                # PERF: "plaintext"/"JSON": set the header and encode once, without
                # parsing the Content-Type back through the text setter.
                charset = charset or "utf-8"
                real[hdrs.CONTENT_TYPE] = f"{content_type or 'text/plain'}; charset={charset}"
                encoded = text.encode(charset)
        elif hdrs.CONTENT_TYPE in real:
            if content_type is not None or charset is not None:
                raise ValueError(_BOTH_CONTENT_TYPES)
        elif content_type is not None:
            real[hdrs.CONTENT_TYPE] = (
                f"{content_type}; charset={charset}" if charset else content_type
            )
        elif charset is not None:
            real[hdrs.CONTENT_TYPE] = f"application/octet-stream; charset={charset}"
        super().__init__(status=status, reason=reason, _real_headers=real)
        self._zlib_executor_size = zlib_executor_size
        self._zlib_executor = zlib_executor
        if encoded is not None:
            self._body = encoded
        elif text is not None:
            self.text = text
        else:
            self.body = body

    @property
    def body(self) -> Any:
        """The body's bytes, or the streamed body object it was given."""
        payload = self._payload
        return payload.value if payload is not None else self._body

    @body.setter
    def body(self, body: Any) -> None:
        if self._payload is not None:
            self._payload = None
        if self._compressed_body is not None:
            self._compressed_body = None
        if body is None:
            self._body = None
        elif isinstance(body, (bytes, bytearray, memoryview)):
            self._body = bytes(body)
        elif isinstance(body, str):
            charset = self.charset or "utf-8"
            if hdrs.CONTENT_TYPE not in self._headers:
                self._headers[hdrs.CONTENT_TYPE] = f"text/plain; charset={charset}"
            self._body = body.encode(charset)
        else:
            payload = make_payload(body)
            self._body = None
            self._payload = payload
            headers = self._headers
            if hdrs.CONTENT_TYPE not in headers:
                headers[hdrs.CONTENT_TYPE] = payload.content_type
            for name, value in payload.headers:
                if name not in headers:
                    headers[name] = value

    @property
    def text(self) -> str | None:
        if self._payload is not None:
            return self._payload.decode(self.charset or "utf-8")
        if self._body is None:
            return None
        return self._body.decode(self.charset or "utf-8")

    @text.setter
    def text(self, text: str) -> None:
        if not isinstance(text, str):
            raise _WrongTypeError(f"text argument must be str ({type(text)!r})")
        if hdrs.CONTENT_TYPE not in self._headers:
            # PERF: "notfound" (every HTTP exception's body): what the general path below
            # ends with when there is no Content-Type, without parsing it back twice.
            self._headers[hdrs.CONTENT_TYPE] = "text/plain; charset=utf-8"
            self._body = text.encode("utf-8")
            if self._payload is not None:
                self._payload = None
            return
        self._payload = None
        if self.content_type == "application/octet-stream":
            self.content_type = "text/plain"
        if self.charset is None:
            self.charset = "utf-8"
        self._body = text.encode(self.charset or "utf-8")

    @property
    def content_length(self) -> int | None:
        if self._chunked:
            return None
        if hdrs.CONTENT_LENGTH in self._headers:
            return super().content_length
        if self._compressed_body is not None:
            return len(self._compressed_body)
        if self._payload is not None:
            return None if self._compression else self._payload.size
        return len(self._body) if self._body is not None else 0

    @content_length.setter
    def content_length(self, value: int | None) -> None:
        raise RuntimeError("Content length is set automatically")

    async def write_eof(self, data: bytes = b"") -> None:
        if self._eof_sent:
            return
        if self._payload is not None:
            await self._write_payload(self._payload)
            return
        body = self._body or b""
        if self._must_be_empty_body:
            body = b""  # 1xx, 204, 304 (and HEAD): no body, whatever was set
        elif self._compressed_body is not None:
            body = self._compressed_body
        elif self._compressor is not None:
            self._body_length = len(body)
            await super().write_eof(body)
            return
        writer = self._writer
        if writer is None:
            raise _MisuseError("Response has not been started")
        self._body_length = len(body)
        await writer.write_eof(body)
        self._eof_sent = True

    async def _write_payload(self, payload: BodyPayload) -> None:
        """Send a streamed body, then finish; at most the declared Content-Length."""
        if self._writer is None:
            raise _MisuseError("Response has not been started")
        try:
            if not self._must_be_empty_body:
                declared = None if self._chunked else self.content_length
                if declared is None:
                    await payload.write(self.write)
                else:
                    await self._write_declared(payload, declared)
        finally:
            await payload.close()
        await StreamResponse.write_eof(self)

    async def _write_declared(self, payload: BodyPayload, declared: int) -> None:
        left = declared

        async def write(data: bytes) -> None:
            nonlocal left
            if len(data) > left:
                data = data[:left]
            left -= len(data)
            if data:
                await self.write(data)

        await payload.write(write)
        if left:
            # Fewer bytes than the head announced: the client can only tell from the
            # connection closing.
            self._keep_alive = False

    async def _compress_whole(self, request: BaseRequest) -> None:
        # A body known in full is compressed whole and sent with its Content-Length
        # (a streamed or chunked one is compressed as it is written).
        if self._chunked or self._payload is not None:
            return
        coding = self._coding(request)
        if coding is None:
            return
        self._compressor = make_compressor(coding.value, self._compression_strategy)
        try:
            compressed = await self._compress(self._body or b"", True)
        finally:
            self._compressor = None
        self._compressed_body = compressed
        self._set_coding(coding)
        self._headers[hdrs.CONTENT_LENGTH] = str(len(compressed))

    def _start(self, request: BaseRequest) -> ResponseWriter:
        if (
            not self._chunked
            and hdrs.CONTENT_LENGTH not in self._headers
            and self._status not in _NO_BODY_STATUSES
        ):
            payload = self._payload
            if payload is None:
                body = self._body
                if body:
                    self._headers[hdrs.CONTENT_LENGTH] = str(len(body))
                elif request._method != "HEAD":
                    # A HEAD answer without a body says nothing of the GET's length.
                    self._headers[hdrs.CONTENT_LENGTH] = "0"
            elif payload.size is not None and not self._compression:
                self._headers[hdrs.CONTENT_LENGTH] = str(payload.size)
        return super()._start(request)

    async def _send(self, request: BaseRequest) -> None:
        self._claim(request)
        if (
            self._custom_send
            or request._has_prepare_hooks
            or self._compression
            or self._chunked
            or self._payload is not None
        ):
            await self.prepare(request)
            await self.write_eof()
            return
        # PERF: head and body in one transport write, no awaits on the way
        # ("plaintext", "JSON").
        headers = self._headers
        body = self._body or b""
        status = self._status
        head_only = request._method == "HEAD"
        if (
            len(headers) == 1
            and self._custom_reason is None
            and not self._cookies
            and status not in _NO_BODY_STATUSES
            and (body or not head_only)
        ):
            head = self._cached_head(request, headers, status, len(body))
            if head is not None:
                writer = self._writer = request._payload_writer
                self._body_length = len(body)
                writer.send_all(head if head_only or not body else head + body)
                self._eof_sent = True
                if writer.paused:
                    await writer.drain()
                return
        if status in _NO_BODY_STATUSES:
            headers.pop(hdrs.CONTENT_LENGTH, None)
            body = b""
        elif hdrs.CONTENT_LENGTH not in headers and (body or not head_only):
            # A HEAD answer without a body says nothing of the GET's length.
            headers[hdrs.CONTENT_LENGTH] = str(len(body))
        self._finish_headers(request)
        writer = self._writer = request._payload_writer
        head = self._serialize_head(request.version)
        self._body_length = len(body)
        writer.send_all(head if head_only or not body else head + body)
        self._eof_sent = True
        await writer.drain()

    def _cached_head(
        self, request: BaseRequest, headers: CIMultiDict[str], status: int, length: int
    ) -> bytes | None:
        """The head of a response whose only header is Content-Type, from cached bytes.

        PERF: "plaintext", "json", "routing", "pipeline": the status line and Content-Type
        are serialised (and validated) once per distinct combination, Connection, Date and
        Server once a second; the head is three byte strings joined.  ``headers`` ends up
        as the general path leaves it.  None when the single header is not Content-Type.
        """
        ctype = headers.get(hdrs.CONTENT_TYPE)
        if ctype is None:
            return None
        head = request._head
        version = head.version
        key = (version, status, ctype)
        prefix = _HEAD_PREFIXES.get(key)
        if prefix is None:
            if len(_HEAD_PREFIXES) >= _HEAD_CACHE_SIZE:
                _HEAD_PREFIXES.clear()
            line = status_line(version, status, None)
            # The head minus its final CRLF, then the name of the next field.
            name = next(iter(headers))
            prefix = serialize_head(line, ((name, ctype),))[:-2] + b"Content-Length: "
            _HEAD_PREFIXES[key] = prefix
        keep_alive = self._keep_alive
        if keep_alive is None:
            keep_alive = self._keep_alive = head.keep_alive
        if version == (1, 1):
            connection = None if keep_alive else "close"
        else:
            connection = "keep-alive" if keep_alive else None
        protocol = request._protocol
        date = protocol._dates.get()
        server = protocol._config.server_header
        tail_key = (connection, date, server)
        tail = _HEAD_TAILS.get(tail_key)
        if tail is None:
            tail = _HEAD_TAILS[tail_key] = _head_tail(connection, date, server)
        content_length = str(length)
        if connection is None:
            headers.extend(
                ((hdrs.CONTENT_LENGTH, content_length), (hdrs.DATE, date), (hdrs.SERVER, server))
            )
        else:
            headers.extend(
                (
                    (hdrs.CONTENT_LENGTH, content_length),
                    (hdrs.CONNECTION, connection),
                    (hdrs.DATE, date),
                    (hdrs.SERVER, server),
                )
            )
        return prefix + content_length.encode() + tail


_HEAD_CACHE_SIZE = 256
# (version, status, Content-Type value) -> b"HTTP/1.1 200 OK\r\nContent-Type: ...\r\n
# Content-Length: "; see Response._cached_head.
_HEAD_PREFIXES: dict[tuple[tuple[int, int], int, str], bytes] = {}
# (Connection, Date, Server) -> b"\r\n[Connection: ...\r\n]Date: ...\r\nServer: ...\r\n\r\n"
_HEAD_TAILS: dict[tuple[str | None, str, str], bytes] = {}


def _head_tail(connection: str | None, date: str, server: str) -> bytes:
    if len(_HEAD_TAILS) >= 8:
        _HEAD_TAILS.clear()  # the Date changed: the old tails are of no use any more
    fields = [(hdrs.DATE, date), (hdrs.SERVER, server)]
    if connection is not None:
        fields.insert(0, (hdrs.CONNECTION, connection))
    return b"\r\n" + serialize_head("", fields)


def json_response(
    data: Any = _SENTINEL,
    *,
    text: str | None = None,
    body: bytes | None = None,
    status: int = 200,
    reason: str | None = None,
    headers: Any = None,
    content_type: str = "application/json",
    dumps: Callable[[Any], str] = json.dumps,
) -> Response:
    """A ``Response`` holding ``data`` encoded as JSON."""
    if data is not _SENTINEL:
        if text or body:
            raise ValueError("only one of data, text, or body should be specified")
        # PERF: "json", "routing": the default encoder without json.dumps' set-up.
        text = _fast_dumps(data) if dumps is json.dumps else dumps(data)
    return Response(
        text=text,
        body=body,
        status=status,
        reason=reason,
        headers=headers,
        content_type=content_type,
    )


def json_bytes_response(
    data: Any = _SENTINEL,
    *,
    dumps: Callable[[Any], bytes],
    body: bytes | None = None,
    status: int = 200,
    reason: str | None = None,
    headers: Any = None,
    content_type: str = "application/json",
) -> Response:
    """A ``Response`` for encoders that produce bytes (orjson and the like)."""
    if data is not _SENTINEL:
        if body:
            raise ValueError("only one of data or body should be specified")
        body = dumps(data)
    return Response(
        body=body, status=status, reason=reason, headers=headers, content_type=content_type
    )
