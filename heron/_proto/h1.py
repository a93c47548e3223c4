"""Sans-IO HTTP/1.1 request parsing over llhttp (httptools).

``RequestParser`` turns bytes into three coarse events delivered to a sink:
one :class:`RequestHead` per request, body bytes, and the end of the message.
It never touches a socket, a loop or a timer: tests feed it bytes and record
the events.  It is strict where llhttp alone would be lenient (see
``docs/design.md``): HTTP versions other than 1.0/1.1, a missing or repeated
``Host``, repeated singleton headers, transfer codings other than ``chunked``,
an upgrade request that carries a body, a ``Host`` that is not a host and
port (RFC 9112 3.2), ``Transfer-Encoding`` in an HTTP/1.0 request (RFC 9112
6.1), and absolute-form targets whose authority disagrees with ``Host`` are
all protocol errors.  Every buffer it holds is bounded by the limits it is
given.

Only a WebSocket ``Upgrade`` (or ``CONNECT``) stops parsing: a request that
offers any other protocol (``h2c``, ...) is plain HTTP/1.1 to heron, which
never switches to it, so its body is read and the bytes after it are parsed
as the next request, as if the ``Upgrade`` field were not there.
"""

from __future__ import annotations

import re
from typing import Protocol

import httptools

from .errors import ProtocolError

__all__ = ("HttpVersion", "RequestHead", "RequestParser", "RequestSink")


class HttpVersion(tuple[int, int]):
    """``(major, minor)`` with aiohttp's attribute names."""

    __slots__ = ()

    def __new__(cls, major: int, minor: int) -> HttpVersion:
        return tuple.__new__(cls, (major, minor))

    @property
    def major(self) -> int:
        return self[0]

    @property
    def minor(self) -> int:
        return self[1]

    def __repr__(self) -> str:
        return f"HttpVersion(major={self[0]}, minor={self[1]})"


HTTP10 = HttpVersion(1, 0)
HTTP11 = HttpVersion(1, 1)
_VERSIONS = {"1.1": HTTP11, "1.0": HTTP10}
_LINE_ENDS = (b"\n", b"\r")
# RFC 3986 3.2.2-3.2.3: uri-host [ ":" port ]; an IP-literal is checked only for its
# brackets and characters.  Userinfo, spaces and raw non-ASCII are refused, and so is a
# port above 65535 (no URL can be built with it).
HOST_GRAMMAR = re.compile(
    rb"(?:\[[0-9A-Za-z:._~!$&'()*+,;=%-]+\]|(?:[0-9A-Za-z._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})*)"
    rb"(?::([0-9]{0,5}))?"
)
# PERF: "plaintext": the method's str without decoding it (llhttp accepts only known names).
_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")}

# Request headers that may appear at most once (RFC 9110 singletons, plus
# Transfer-Encoding, which heron accepts only as a single "chunked", and every field
# aiohttp refuses twice).  A second copy is how request smuggling and host-routing
# bypasses start.
_SINGLETONS = frozenset(
    {
        b"etag",
        b"server",
        b"user-agent",
        b"host",
        b"content-length",
        b"content-type",
        b"content-range",
        b"content-location",
        b"transfer-encoding",
        b"authorization",
        b"proxy-authorization",
        b"max-forwards",
        b"if-modified-since",
        b"if-unmodified-since",
        b"if-range",
        b"range",
        b"expect",
    }
)


_NO_TRAILERS: list[tuple[bytes, bytes]] = []  # shared and never appended to


def _switches(headers: list[tuple[bytes, bytes]]) -> bool:
    """True if an ``Upgrade`` field could name WebSocket (the one protocol heron switches to).

    Deliberately loose (a substring, any ``Upgrade`` field): whatever the WebSocket
    handshake accepts must stop the parser, or a client's frames would be parsed as HTTP.
    """
    for name, value in headers:
        if name.lower() == b"upgrade" and b"websocket" in value.lower():
            return True
    return False


def _body_prefix(head: RequestHead) -> bytes:
    """A head that frames ``head``'s body the same way (see ``RequestParser.feed``)."""
    framing = (
        b"Transfer-Encoding: chunked"
        if head.chunked
        else b"Content-Length: %d" % (head.content_length or 0)
    )
    close = b"" if head.keep_alive else b"Connection: close\r\n"
    return b"POST / HTTP/1.1\r\n" + close + framing + b"\r\n\r\n"


class RequestHead:
    """Everything known about a request once its head is parsed.

    ``raw_headers`` keeps the bytes as received; the web layer builds its
    header mapping from them lazily.  ``target`` is the request-target as sent
    (origin-form for nearly every request); ``path`` is the origin-form
    path-and-query to route on (for an absolute-form target, its path part).
    """

    __slots__ = (
        "chunked",
        "content_length",
        "expect",
        "host",
        "keep_alive",
        "method",
        "path",
        "raw_headers",
        "target",
        "trailers",
        "upgrade",
        "version",
    )

    def __init__(
        self,
        method: str,
        target: str,
        path: str,
        version: HttpVersion,
        raw_headers: list[tuple[bytes, bytes]],
        keep_alive: bool,
        upgrade: bool,
        chunked: bool,
        content_length: int | None,
        host: bytes | None,
        expect: bytes | None,
    ) -> None:
        self.method = method
        self.target = target
        self.path = path
        self.version = version
        self.raw_headers = raw_headers
        self.keep_alive = keep_alive
        self.upgrade = upgrade
        self.chunked = chunked
        self.content_length = content_length
        self.host = host
        self.expect = expect
        # PERF: "plaintext": no list per request; the parser replaces it on a first trailer.
        self.trailers: list[tuple[bytes, bytes]] = _NO_TRAILERS

    @property
    def has_body(self) -> bool:
        """True when a body follows the head (chunked, or a non-zero length)."""
        return self.chunked or bool(self.content_length)

    def __repr__(self) -> str:
        return f"<RequestHead {self.method} {self.target} HTTP/{self.version[0]}.{self.version[1]}>"


class RequestSink(Protocol):
    """Where a RequestParser delivers its events."""

    def on_request_head(self, head: RequestHead) -> None: ...

    def on_request_body(self, data: bytes) -> None: ...

    def on_request_end(self, head: RequestHead) -> None: ...


class RequestParser:
    """Feed bytes in with :meth:`feed`; events go to ``sink``.

    ``feed`` raises :class:`ProtocolError` on any violation; after that the
    parser is unusable and the connection must be answered and closed.  When
    a request asks to switch protocols (``Upgrade`` or ``CONNECT``) parsing
    stops after its head and ``feed`` returns the bytes that follow it; they
    belong to the next protocol, or, if the server declines the upgrade, to a
    new parser.
    """

    __slots__ = (
        "_accounted",
        "_body_parts",
        "_content_length",
        "_expect",
        "_good_host",
        "_head",
        "_head_bytes",
        "_headers",
        "_host",
        "_in_head",
        "_line_tail",
        "_max_field",
        "_max_headers",
        "_max_line",
        "_parser",
        "_pending_limit",
        "_plain_upgrade",
        "_resume_head",
        "_seen",
        "_sink",
        "_te",
        "_url",
    )

    def __init__(
        self,
        sink: RequestSink,
        *,
        max_line_size: int = 8190,
        max_field_size: int = 8190,
        max_headers: int = 128,
    ) -> None:
        self._sink = sink
        self._parser = httptools.HttpRequestParser(self)
        self._max_line = max_line_size
        self._max_field = max_field_size
        self._max_headers = max_headers
        # How many head bytes may sit unaccounted for (a field still arriving).
        self._pending_limit = max(max_line_size, 2 * max_field_size) + 1024
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._in_head = False
        #: The last bytes of a head still arriving (see _check_request_line).
        self._line_tail = b""
        self._head: RequestHead | None = None
        self._head_bytes = 0
        self._accounted = 0
        self._seen: set[bytes] | None = None
        self._host: bytes | None = None
        # The last Host value found valid: a connection sends the same one every time.
        self._good_host: bytes | None = None
        self._expect: bytes | None = None
        self._te: bytes | None = None
        self._content_length: int | None = None
        self._body_parts: list[bytes] = []
        #: The request just parsed offered a protocol heron does not switch to.
        self._plain_upgrade = False
        #: That request, when llhttp skipped its body (it is parsed after the head).
        self._resume_head: RequestHead | None = None

    # ------------------------------------------------------------------ public

    def feed(self, data: bytes) -> bytes | None:
        """Parse ``data``; return the unparsed tail after an upgrade request, else None."""
        was_in_head = self._in_head
        if was_in_head:
            self._head_bytes += len(data)
        while True:
            try:
                self._parser.feed_data(data)
            except httptools.HttpParserUpgrade as exc:
                offset: int = exc.args[0]
                if not self._plain_upgrade:
                    self._flush_body()
                    return data[offset:]
                data = self._continue_plain(data[offset:])
                continue
            except httptools.HttpParserError as exc:
                cause = exc.__context__
                if isinstance(cause, ProtocolError) or not isinstance(
                    exc, httptools.HttpParserCallbackError
                ):
                    cause = None
                raise self._error(exc) from cause
            break
        if self._body_parts:
            self._flush_body()
        if self._in_head:
            # Only a head still arriving gets here ("plaintext" heads arrive whole).
            self._check_request_line(self._line_tail + data if was_in_head else data)
            if self._head_bytes - self._accounted > self._pending_limit:
                raise ProtocolError(431, "Request header field too large")
        return None

    def _error(self, exc: httptools.HttpParserError) -> ProtocolError:
        """The ProtocolError for what llhttp (or a callback) refused."""
        if isinstance(exc, httptools.HttpParserCallbackError):
            cause = exc.__context__
            error = cause if isinstance(cause, ProtocolError) else ProtocolError(400, "Bad request")
        elif isinstance(exc, httptools.HttpParserInvalidMethodError):
            error = ProtocolError(400, "Invalid method")
        elif isinstance(exc, httptools.HttpParserInvalidURLError):
            error = ProtocolError(400, "Invalid request target")
        else:
            error = ProtocolError(400, _reason(exc))
        if self._in_head and self._head is None:
            # A head whose version is already known to be refused is refused for that,
            # whatever broke after it: the answer does not depend on how reads split
            # (_check_request_line refuses it as soon as the version is in).
            version = self._parser.get_http_version()
            if version != "0.0" and version not in _VERSIONS:
                return _version_error(version)
        return error

    @property
    def body_head(self) -> RequestHead | None:
        """The request whose body is being parsed, if any (a parse error is in its body)."""
        return self._head

    def _check_request_line(self, data: bytes) -> None:
        """Refuse a request line that is not HTTP/1.x now, not when a head end never comes.

        llhttp takes ``GET /\r\n`` (HTTP/0.9, whose request is that one line) and
        ``GET / HTTP/2.0\r\n`` as the start of a head and waits for its end: a client
        speaking either would otherwise wait for ``head_timeout``.  ``data`` ends with
        the last bytes received (those of earlier reads kept in ``_line_tail``).
        """
        # Enough to see " <target>\r\n" at the end, however the reads were split.
        self._line_tail = data[-(len(self._url) + 4) :]
        version = self._parser.get_http_version()
        if version not in _VERSIONS:
            if version != "0.0":
                raise _version_error(version)
            # No version parsed on this connection yet: the line is still arriving, or
            # it ended without one (fields, or a line end, follow the target).
            if self._url and (self._headers or data.endswith(_LINE_ENDS)):
                raise ProtocolError(400, "Bad HTTP version")
        elif (
            self._url
            and not self._headers
            and data.endswith(_LINE_ENDS)
            and data.rstrip(b"\r\n").endswith(b" " + self._url)
        ):
            # llhttp still reports an earlier request's version, but this line's last
            # token is its target: it has none.
            raise ProtocolError(400, "Bad HTTP version")

    def _continue_plain(self, tail: bytes) -> bytes:
        """llhttp stopped after a request whose upgrade heron ignores: go on as HTTP/1.1.

        llhttp (resumed by httptools) starts a new message next.  It skipped the
        request's body, so a new llhttp is fed a head framing the body the same way; its
        events are routed to the real request (``on_headers_complete`` knows it by
        ``_head`` being set), so the body, its trailers and its end reach the sink
        exactly as for any request, and whatever follows is the next request.
        """
        self._plain_upgrade = False
        head = self._resume_head
        if head is None:
            return tail
        self._resume_head = None
        self._head = head
        # A fresh llhttp: after a "Connection: close" request the old one refuses more input.
        self._parser = httptools.HttpRequestParser(self)
        return _body_prefix(head) + tail

    # ------------------------------------------------------------------ llhttp callbacks

    def on_message_begin(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        self._accounted = 0
        self._url = b""
        self._headers = []
        self._seen = None
        self._host = None
        self._expect = None
        self._te = None
        self._content_length = None

    def on_url(self, url: bytes) -> None:
        url = self._url + url if self._url else url
        if len(url) > self._max_line:
            raise ProtocolError(414, "Request-URI too long")
        self._url = url
        self._accounted += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) > self._max_field or len(value) > self._max_field:
            raise ProtocolError(431, "Request header field too large")
        # RFC 9110 5.5: trailing whitespace is not part of the value; llhttp keeps it.
        # (rstrip returns the same object when there is none: ~35 ns a field.)
        value = value.rstrip(b" \t")
        if self._head is not None:
            # A field after the head is a trailer of a chunked body.
            trailers = self._head.trailers
            if trailers is _NO_TRAILERS:
                trailers = self._head.trailers = []
            if len(trailers) >= self._max_headers:
                raise ProtocolError(431, "Too many trailer fields")
            trailers.append((name, value))
            return
        headers = self._headers
        if len(headers) >= self._max_headers:
            raise ProtocolError(431, "Too many header fields")
        headers.append((name, value))
        self._accounted += len(name) + len(value) + 4
        lname = name.lower()
        if lname in _SINGLETONS:
            seen = self._seen
            if seen is None:
                # PERF: "plaintext": the set exists only once a singleton field arrives.
                seen = self._seen = set()
            elif lname in seen:
                raise ProtocolError(400, f"Duplicate {name.decode('ascii', 'replace')} header")
            seen.add(lname)
            if lname == b"host":
                self._host = value
            elif lname == b"transfer-encoding":
                self._te = value
            elif lname == b"expect":
                self._expect = value
            elif lname == b"content-length":
                # llhttp has checked it is all ASCII digits.
                self._content_length = int(value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        head = self._head
        if head is not None:
            # The framing head of a body llhttp skipped (_continue_plain): its one field
            # came through on_header as a "trailer"; the real trailers follow the body.
            head.trailers = _NO_TRAILERS
            return
        parser = self._parser
        raw_version = parser.get_http_version()
        version = _VERSIONS.get(raw_version)
        if version is None:
            raise _version_error(raw_version)
        raw_method = parser.get_method()
        method = _METHODS.get(raw_method) or raw_method.decode("ascii")
        chunked = False
        if self._te is not None:
            if version is not HTTP11:
                # RFC 9112 6.1: its framing is faulty, whatever Content-Length says.
                raise ProtocolError(400, "Transfer-Encoding in an HTTP/1.0 request")
            if self._te.strip().lower() != b"chunked":
                raise ProtocolError(501, "Unsupported transfer coding")
            chunked = True
        host = self._host
        if host is None:
            if version is HTTP11:
                raise ProtocolError(400, "Missing Host header")
        elif host != self._good_host:
            # PERF: "plaintext": checked once per connection, not per request.
            match = HOST_GRAMMAR.fullmatch(host)
            if match is None or int(match[1] or 0) > 65535:
                raise ProtocolError(400, "Invalid Host header")
            self._good_host = host
        upgrade = parser.should_upgrade()
        plain_upgrade = False
        if upgrade:
            if method == "CONNECT" or _switches(self._headers):
                if chunked or self._content_length:
                    # Where would the body end and the next protocol begin? (GHSA-mfx4-hv73-q22v)
                    raise ProtocolError(400, "Upgrade request with a body")
            else:
                plain_upgrade = self._plain_upgrade = True
        target = self._url.decode("utf-8", "surrogateescape")
        path = target
        if not target.startswith("/"):
            path = _origin_form(method, target, host)
        head = RequestHead(
            method,
            target,
            path,
            version,
            self._headers,
            parser.should_keep_alive(),
            upgrade,
            chunked,
            self._content_length,
            host,
            self._expect if version is HTTP11 else None,
        )
        if plain_upgrade and head.has_body:
            # llhttp skips an upgrade request's body and ends the message now; the body
            # is parsed once llhttp stops (_continue_plain), and ends the request then.
            self._resume_head = head
        else:
            self._head = head
        self._sink.on_request_head(head)

    def on_body(self, body: bytes) -> None:
        # PERF: coalesce a feed's body pieces into one event ("4 KiB POST echo";
        # and a body of one-byte chunks costs one StreamReader append per read).
        self._body_parts.append(body)

    def on_message_complete(self) -> None:
        if self._body_parts:
            self._flush_body()
        head = self._head
        self._head = None
        if head is not None:
            self._sink.on_request_end(head)

    # ------------------------------------------------------------------ helpers

    def _flush_body(self) -> None:
        parts = self._body_parts
        if parts:
            data = parts[0] if len(parts) == 1 else b"".join(parts)
            parts.clear()
            self._sink.on_request_body(data)


def _origin_form(method: str, target: str, host: bytes | None) -> str:
    """The path to route on for a request-target that is not origin-form."""
    if target == "*" and method == "OPTIONS":
        return target
    if method == "CONNECT":
        return target
    lower = target[:8].lower()
    if lower.startswith("http://"):
        rest = target[7:]
    elif lower.startswith("https://"):
        rest = target[8:]
    else:
        raise ProtocolError(400, "Invalid request target")
    slash = rest.find("/")
    authority, path = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:])
    # The scheme of an absolute-form target is never trusted; its authority must
    # agree with Host so that host-based routing cannot be bypassed.
    if host is None or authority.lower().encode("utf-8", "surrogateescape") != host.lower():
        raise ProtocolError(400, "Request target does not match Host")
    return path


def _version_error(version: str) -> ProtocolError:
    # HTTP/0.9 is not spoken at all; other majors are refused by name.
    if version.startswith("0."):
        return ProtocolError(400, "Bad HTTP version")
    return ProtocolError(505, "HTTP version not supported")


def _reason(exc: Exception) -> str:
    text = str(exc) or "Bad request"
    # llhttp's messages are short ASCII sentences; keep them single-line.
    return text.replace("\r", " ").replace("\n", " ")[:120]
