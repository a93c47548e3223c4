"""Sans-IO incremental ``multipart/*`` body parser (RFC 2046, RFC 7578).

:class:`MultipartParser` takes bytes as they arrive and returns coarse events:
:class:`PartStart` (a part's header block), :class:`PartData` (a piece of the
part's body, undecoded), :data:`PART_END` and :data:`BODY_END`.  It never
touches a socket or a loop; however the body is split into chunks it returns
the same parts.  Every buffer is bounded: a part's header block by
``max_header_size`` bytes and ``max_headers`` fields, the preamble by
``max_preamble``, the number of parts by ``max_parts``; anything else that is
malformed (no opening boundary, a broken delimiter line, a truncated body)
raises :class:`MultipartParseError`, a 400 :class:`ProtocolError`.

Delimiters are matched as ``CRLF "--" boundary``; the body is parsed as if a
CRLF preceded it, so an opening boundary on the first line needs no special case.
"""

from __future__ import annotations

from .._util.grammar import TCHARS
from .errors import ProtocolError

__all__ = (
    "BODY_END",
    "PART_END",
    "BodyEnd",
    "Event",
    "MultipartParseError",
    "MultipartParser",
    "PartData",
    "PartEnd",
    "PartStart",
    "validate_boundary",
)

# RFC 2046 section 5.1.1 bchars (a space is allowed, except as the last character).
_BCHARS = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? ")
_TOKEN = frozenset(TCHARS.encode("ascii"))
_PADDING = b" \t"
# Longest run of transport padding accepted after a delimiter (RFC 2046 LWSP).
_MAX_PADDING = 64

_PREAMBLE, _AFTER_DELIMITER, _HEADERS, _BODY, _EPILOGUE = range(5)


class MultipartParseError(ProtocolError):
    """The multipart body is malformed or breaks a limit: answer 400."""

    def __init__(self, reason: str) -> None:
        super().__init__(400, reason)


class PartStart:
    """A part begins: its header fields as raw ``(name, value)`` bytes, names lower-cased."""

    __slots__ = ("headers",)

    def __init__(self, headers: list[tuple[bytes, bytes]]) -> None:
        self.headers = headers

    def __repr__(self) -> str:
        return f"PartStart({self.headers!r})"


class PartData:
    """A piece of the current part's body (as sent: no transfer decoding)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"PartData({self.data!r})"


class PartEnd:
    """The current part's body ended."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "PART_END"


class BodyEnd:
    """The closing delimiter was seen: no more parts (the epilogue is ignored)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "BODY_END"


PART_END = PartEnd()
BODY_END = BodyEnd()

Event = PartStart | PartData | PartEnd | BodyEnd


def validate_boundary(boundary: bytes) -> None:
    """Raise :class:`MultipartParseError` unless ``boundary`` is a valid RFC 2046 boundary."""
    if not 1 <= len(boundary) <= 70:
        raise MultipartParseError("Multipart boundary must be 1 to 70 characters long")
    if not _BCHARS.issuperset(boundary) or boundary.endswith(b" "):
        raise MultipartParseError("Multipart boundary contains invalid characters")


class MultipartParser:
    """Bytes in, part events out.  One parser per multipart body."""

    __slots__ = (
        "_buf",
        "_delimiter",
        "_header_bytes",
        "_headers",
        "_max_header_size",
        "_max_headers",
        "_max_parts",
        "_max_preamble",
        "_parts",
        "_preamble",
        "_skip",
        "_state",
    )

    def __init__(
        self,
        boundary: bytes,
        *,
        max_header_size: int = 8190,
        max_headers: int = 128,
        max_parts: int = 0,
        max_preamble: int = 1024,
    ) -> None:
        """``max_parts`` of 0 means no limit on the number of parts."""
        validate_boundary(boundary)
        self._delimiter = b"\r\n--" + boundary
        self._max_header_size = max_header_size
        self._max_headers = max_headers
        self._max_parts = max_parts
        self._max_preamble = max_preamble
        # The body is parsed as if preceded by CRLF (see the module docstring).
        self._buf = b"\r\n"
        self._preamble = -2
        self._state = _PREAMBLE
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_bytes = 0
        self._parts = 0
        self._skip = 0

    @property
    def finished(self) -> bool:
        """True once the closing delimiter has been parsed."""
        return self._state == _EPILOGUE

    @property
    def parts(self) -> int:
        """How many parts have started so far."""
        return self._parts

    def feed(self, data: bytes) -> list[Event]:
        """Parse ``data`` (the next bytes of the body); return the events it completes."""
        if self._state == _EPILOGUE:
            return []
        buf = self._buf + data if self._buf else bytes(data)
        self._buf = b""
        events: list[Event] = []
        pos = 0
        while True:
            state = self._state
            if state == _BODY:
                pos = self._body(buf, pos, events)
            elif state == _HEADERS:
                pos = self._header_lines(buf, pos, events)
            elif state == _AFTER_DELIMITER:
                pos = self._after_delimiter(buf, pos, events)
            elif state == _PREAMBLE:
                pos = self._skip_preamble(buf, pos)
            else:  # _EPILOGUE: the rest is ignored
                return events
            if pos < 0:
                return events

    def feed_eof(self) -> list[Event]:
        """The body ended: raise unless the closing delimiter was seen."""
        if self._state != _EPILOGUE:
            if self._state == _PREAMBLE:
                raise MultipartParseError("Multipart body has no opening boundary")
            raise MultipartParseError("Multipart body ended before its closing boundary")
        return []

    # ------------------------------------------------------------------ states
    # Each returns the position reached in ``buf``, or -1 when it needs more bytes
    # (having stored what it must keep in ``self._buf``).

    def _keep_tail(self, buf: bytes, start: int) -> int:
        """Where a possible partial delimiter begins at the end of ``buf`` (else ``len(buf)``)."""
        # A delimiter holds exactly one CR, its first byte: only the last CR in the
        # final len(delimiter)-1 bytes can begin a partial match.
        end = len(buf)
        cr = buf.rfind(b"\r", max(start, end - len(self._delimiter) + 1))
        if cr >= 0 and self._delimiter.startswith(buf[cr:]):
            return cr
        return end

    def _body(self, buf: bytes, pos: int, events: list[Event]) -> int:
        # Right after the header block, ``buf[pos:pos+2]`` is the blank line's CRLF:
        # not data, but it may begin the delimiter of an empty part.
        start = pos + self._skip
        idx = buf.find(self._delimiter, pos)
        if idx < 0:
            cut = self._keep_tail(buf, pos)
            if cut > start:
                # PERF: a whole chunk without a delimiter is passed on without a copy.
                events.append(PartData(buf if start == 0 and cut == len(buf) else buf[start:cut]))
            if cut >= start:
                self._skip = 0
            self._buf = buf[cut:]
            return -1
        self._skip = 0
        if idx > start:
            events.append(PartData(buf[start:idx]))
        events.append(PART_END)
        self._state = _AFTER_DELIMITER
        return idx + len(self._delimiter)

    def _skip_preamble(self, buf: bytes, pos: int) -> int:
        idx = buf.find(self._delimiter, pos)
        cut = idx if idx >= 0 else self._keep_tail(buf, pos)
        self._preamble += cut - pos
        if self._preamble > self._max_preamble:
            raise MultipartParseError("Multipart body has no opening boundary")
        if idx < 0:
            self._buf = buf[cut:]
            return -1
        self._state = _AFTER_DELIMITER
        return idx + len(self._delimiter)

    def _after_delimiter(self, buf: bytes, pos: int, events: list[Event]) -> int:
        if len(buf) - pos < 2:
            self._buf = buf[pos:]
            return -1
        if buf.startswith(b"--", pos):
            events.append(BODY_END)
            self._state = _EPILOGUE
            return len(buf)
        end = pos
        limit = min(len(buf), pos + _MAX_PADDING)
        while end < limit and buf[end] in _PADDING:
            end += 1
        if end == len(buf) or (end + 1 == len(buf) and buf[end] == 13):
            if end - pos >= _MAX_PADDING:
                raise MultipartParseError("Malformed multipart boundary line")
            self._buf = buf[pos:]
            return -1
        if not buf.startswith(b"\r\n", end):
            raise MultipartParseError("Malformed multipart boundary line")
        self._parts += 1
        if 0 < self._max_parts < self._parts:
            raise MultipartParseError(f"Too many multipart parts (more than {self._max_parts})")
        self._state = _HEADERS
        self._headers = []
        self._header_bytes = 0
        return end + 2

    def _header_lines(self, buf: bytes, pos: int, events: list[Event]) -> int:
        while True:
            idx = buf.find(b"\r\n", pos)
            if idx < 0:
                if self._header_bytes + len(buf) - pos > self._max_header_size:
                    raise MultipartParseError("Multipart part headers too large")
                self._buf = buf[pos:]
                return -1
            self._header_bytes += idx - pos + 2
            if self._header_bytes > self._max_header_size:
                raise MultipartParseError("Multipart part headers too large")
            if idx == pos:
                events.append(PartStart(self._headers))
                self._state = _BODY
                self._skip = 2
                return idx
            self._headers.append(_parse_header(buf[pos:idx]))
            if len(self._headers) > self._max_headers:
                raise MultipartParseError("Too many multipart part headers")
            pos = idx + 2


def _parse_header(line: bytes) -> tuple[bytes, bytes]:
    name, sep, value = line.partition(b":")
    if not sep or not name or not _TOKEN.issuperset(name):
        raise MultipartParseError("Malformed multipart part header")
    value = value.strip(_PADDING)
    if b"\r" in value or b"\n" in value or b"\x00" in value:
        raise MultipartParseError("Invalid character in multipart part header")
    return name.lower(), value
