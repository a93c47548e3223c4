"""MultipartReader and BodyPartReader: aiohttp's multipart reading API, streaming.

Both sit on the sans-IO :class:`~heron._proto.multipart.MultipartParser`: bytes are
pulled from the body only when a reader asks for more, so a part can be streamed
to disk in constant memory (``part.read_chunk()`` in a loop).  Whole-part reads
(``read()``, ``text()``, ``json()``, ``form()``) are bounded by ``client_max_size``.
Malformed input raises :class:`MultipartError`, which is both a ``ValueError`` (what
aiohttp raises) and a 400 ``HTTPBadRequest``: uncaught, it answers 400.
"""

from __future__ import annotations

import json
import sys
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote

from multidict import CIMultiDict, CIMultiDictProxy

from .. import hdrs
from .._proto.decoding import (
    ContentDecodingError,
    Decoder,
    make_content_decoder,
    make_transfer_decoder,
)
from .._proto.multipart import (
    BodyEnd,
    Event,
    MultipartParseError,
    MultipartParser,
    PartData,
    PartEnd,
    PartStart,
)
from .exceptions import HTTPBadRequest

__all__ = (
    "BodyPartReader",
    "MultipartError",
    "MultipartReader",
    "parse_content_disposition",
    "parse_header_params",
)

# Decoded bytes produced per step when decoding a part (bounds inflation).
_DECODE_STEP = 2**16
# Raw bytes pulled from a parent part by a nested multipart reader at a time.
_NESTED_READ = 2**16
# Longest line readline() returns.
_MAX_LINE = 2**17
_B64_IGNORED = b" \t\r\n"


class MultipartError(HTTPBadRequest, ValueError):
    """A malformed multipart body: a ``ValueError`` that answers 400 when not caught."""

    def __init__(self, reason: str) -> None:
        super().__init__(text=reason)
        self.reason_text = reason

    def __str__(self) -> str:
        return self.reason_text


class _ByteSource(Protocol):
    async def readany(self) -> bytes: ...


def parse_header_params(value: str) -> tuple[str, dict[str, str]]:
    """Split ``type; a=b; c="d"`` into the lower-cased value and its parameters.

    Quoted strings may hold ``;`` and backslash escapes.  A parameter given twice
    makes the header ambiguous: then no parameters are returned.
    """
    pieces: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in value:
        if escaped:
            current.append(ch)
            escaped = False
        elif quoted and ch == "\\":
            current.append(ch)
            escaped = True
        elif ch == '"':
            quoted = not quoted
            current.append(ch)
        elif ch == ";" and not quoted:
            pieces.append("".join(current))
            current = []
        else:
            current.append(ch)
    pieces.append("".join(current))
    main = pieces[0].strip().lower()
    params: dict[str, str] = {}
    for piece in pieces[1:]:
        key, sep, val = piece.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            continue
        val = val.strip()
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = _unescape(val[1:-1])
        if key in params:
            return main, {}
        params[key] = val
    return main, params


def _unescape(text: str) -> str:
    out: list[str] = []
    chars = iter(text)
    for ch in chars:
        out.append(next(chars, "") if ch == "\\" else ch)
    return "".join(out)


def parse_content_disposition(value: str | None) -> tuple[str | None, dict[str, str]]:
    """``(disposition type, params)`` of a Content-Disposition header; ``filename*`` decoded."""
    if not value:
        return None, {}
    disptype, params = parse_header_params(value)
    for key in [k for k in params if k.endswith("*")]:
        # RFC 5987/8187: charset'language'percent-encoded
        charset, _, rest = params.pop(key).partition("'")
        _, _, encoded = rest.partition("'")
        try:
            params[key[:-1]] = unquote(encoded, encoding=charset or "utf-8", errors="strict")
        except (LookupError, UnicodeDecodeError):
            continue
    return disptype or None, params


def _decode_header(value: bytes) -> str:
    return value.decode("utf-8", "surrogateescape")


class _PartStream:
    """Feeds a MultipartParser from a byte source, one event at a time, on demand."""

    __slots__ = ("_consumed", "_events", "_max_size", "_parser", "_size_error", "_source")

    def __init__(
        self,
        source: _ByteSource,
        parser: MultipartParser,
        max_size: int,
        size_error: Callable[[int, int], Exception],
    ) -> None:
        self._source = source
        self._parser = parser
        self._events: deque[Event] = deque()
        self._consumed = 0
        self._max_size = max_size
        self._size_error = size_error

    async def next_event(self) -> Event:
        events = self._events
        while not events:
            parser = self._parser
            if parser.finished:
                # The epilogue is ignored: do not read it.
                return BodyEnd()
            # A body the client framed or encoded badly fails here with the stream's
            # own RequestPayloadError, as on aiohttp.
            data = await self._source.readany()
            try:
                if data:
                    self._consumed += len(data)
                    if 0 < self._max_size < self._consumed:
                        raise self._size_error(self._max_size, self._consumed)
                    events.extend(parser.feed(data))
                else:
                    events.extend(parser.feed_eof())
            except MultipartParseError as exc:
                raise MultipartError(exc.reason) from None
        return events.popleft()

    def next_is_end(self) -> bool:
        """True if the part's end is already parsed (nothing but it is pending)."""
        events = self._events
        return bool(events) and isinstance(events[0], PartEnd)


class BodyPartReader:
    """One part of a multipart body."""

    chunk_size = 8192

    def __init__(
        self,
        boundary: bytes,
        headers: CIMultiDictProxy[str],
        content: Any,
        *,
        subtype: str = "mixed",
        default_charset: str | None = None,
        client_max_size: int = sys.maxsize,
        max_size_error_cls: Callable[[int, int], Exception] = ValueError,
    ) -> None:
        self.headers = headers
        self._boundary = boundary
        self._stream: _PartStream = content
        self._subtype = subtype
        self._is_form_data = subtype == "form-data"
        self._default_charset = default_charset
        self._client_max_size = client_max_size
        self._max_size_error_cls = max_size_error_cls
        self._buf = b""
        self._pos = 0
        self._at_eof = False
        self._b64_carry: bytes | None = (
            b""
            if headers.get(hdrs.CONTENT_TRANSFER_ENCODING, "").strip().lower() == "base64"
            else None
        )
        self._cache: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<BodyPartReader name={self.name!r} filename={self.filename!r}>"

    # ------------------------------------------------------------------ raw reading

    async def _fill(self) -> bool:
        """Make buffered bytes available; False at the end of the part."""
        if self._at_eof:
            return False
        while self._pos >= len(self._buf):
            event = await self._stream.next_event()
            if isinstance(event, PartData):
                self._buf = event.data
                self._pos = 0
            else:
                # PartEnd (PartStart/BodyEnd cannot come before it).
                self._at_eof = True
                self._buf = b""
                self._pos = 0
                return False
        return True

    async def _read_raw(self, size: int) -> bytes:
        if not await self._fill():
            return b""
        buf, pos = self._buf, self._pos
        end = pos + size
        if pos == 0 and end >= len(buf):
            # PERF: hand the parser's piece over without a copy.
            self._pos = len(buf)
            data = buf
        else:
            data = buf[pos:end]
            self._pos = pos + len(data)
        if self._pos >= len(buf) and self._stream.next_is_end():
            await self._fill()
        return data

    async def read_chunk(self, size: int = chunk_size) -> bytes:
        """Up to ``size`` bytes of the part as sent (no decoding); ``b""`` at its end.

        For base64 parts each chunk holds whole quartets, so ``decode(chunk)`` works.
        """
        chunk = await self._read_raw(size)
        carry = self._b64_carry
        if carry is None:
            return chunk
        while True:
            chunk = carry + chunk
            carry = b""
            if not self._at_eof:
                significant = len(chunk.translate(None, _B64_IGNORED)) % 4
                cut = len(chunk)
                while significant:
                    cut -= 1
                    if chunk[cut] not in _B64_IGNORED:
                        significant -= 1
                carry = chunk[cut:].translate(None, _B64_IGNORED)
                chunk = chunk[:cut]
            if chunk.translate(None, _B64_IGNORED) or self._at_eof:
                self._b64_carry = carry
                return chunk
            chunk = await self._read_raw(size)

    async def readline(self) -> bytes:
        """The next line of the part (with its ``\\n``); ``b""`` at the end."""
        parts: list[bytes] = []
        size = 0
        while await self._fill():
            buf, pos = self._buf, self._pos
            idx = buf.find(b"\n", pos)
            if idx >= 0:
                parts.append(buf[pos : idx + 1])
                self._pos = idx + 1
                break
            parts.append(buf[pos:])
            self._pos = len(buf)
            size += len(buf) - pos
            if size > _MAX_LINE:
                raise MultipartError("Line too long in multipart part")
        return b"".join(parts)

    async def read(self, *, decode: bool = False) -> bytes:
        """The rest of the part (decoded if ``decode``); at most ``client_max_size`` bytes."""
        data = bytearray()
        limit = self._client_max_size
        if decode:
            async for piece in self._iter_decoded():
                data += piece
                if len(data) > limit:
                    raise self._max_size_error_cls(limit, len(data))
        else:
            while chunk := await self._read_raw(_DECODE_STEP):
                data += chunk
                if len(data) > limit:
                    raise self._max_size_error_cls(limit, len(data))
        return bytes(data)

    async def release(self) -> None:
        """Read the rest of the part to the void."""
        while await self._fill():
            self._pos = len(self._buf)

    def at_eof(self) -> bool:
        """True once the part's closing delimiter has been reached."""
        return self._at_eof

    def __aiter__(self) -> BodyPartReader:
        return self

    async def __anext__(self) -> bytes:
        part = await self.next()
        if part is None:
            raise StopAsyncIteration
        return part

    async def next(self) -> bytes | None:
        """The whole part (as ``read()``), or None when it is empty or read."""
        item = await self.read()
        return item or None

    # ------------------------------------------------------------------ decoding

    def _decoders(self) -> list[Decoder]:
        chain: list[Decoder] = []
        try:
            cte = self.headers.get(hdrs.CONTENT_TRANSFER_ENCODING)
            if cte is not None:
                transfer = make_transfer_decoder(cte)
                if transfer is not None:
                    chain.append(transfer)
            coding = self.headers.get(hdrs.CONTENT_ENCODING)
            # RFC 7578 section 4.8: form-data parts carry no Content-Encoding.
            if (
                coding is not None
                and not self._is_form_data
                and coding.strip().lower() != "identity"
            ):
                content = make_content_decoder(coding)
                if content is None:
                    raise MultipartError(f"Unknown Content-Encoding: {coding}")
                chain.append(content)
        except ContentDecodingError as exc:
            raise MultipartError(str(exc)) from None
        return chain

    async def _iter_decoded(self) -> AsyncIterator[bytes]:
        """The rest of the part, decoded, in pieces of at most 64 KiB."""
        chain = self._decoders()
        while True:
            chunk = await self._read_raw(_DECODE_STEP)
            for piece in _run_chain(chain, chunk, final=not chunk):
                yield piece
            if not chunk:
                return

    def decode(self, data: bytes) -> bytes:
        """Decode ``data`` (a whole part, or a ``read_chunk`` of it) per the part's headers."""
        return b"".join(_run_chain(self._decoders(), bytes(data), final=True))

    async def decode_iter(self, data: bytes) -> AsyncIterator[bytes]:
        """Like :meth:`decode`, in bounded pieces."""
        for piece in _run_chain(self._decoders(), bytes(data), final=True):
            yield piece

    async def text(self, *, encoding: str | None = None) -> str:
        """The part decoded as text (charset from its Content-Type, else UTF-8)."""
        data = await self.read(decode=True)
        return _decode_text(data, encoding or self.get_charset(default="utf-8"))

    async def json(self, *, encoding: str | None = None) -> Any:
        """The part parsed as JSON (None when empty)."""
        data = await self.read(decode=True)
        if not data:
            return None
        return json.loads(_decode_text(data, encoding or self.get_charset(default="utf-8")))

    async def form(self, *, encoding: str | None = None) -> list[tuple[str, str]]:
        """The part parsed as ``application/x-www-form-urlencoded``."""
        data = await self.read(decode=True)
        if not data:
            return []
        charset = encoding or self.get_charset(default="utf-8")
        return parse_qsl(
            _decode_text(data.rstrip(), charset), keep_blank_values=True, encoding=charset
        )

    def get_charset(self, default: str) -> str:
        """The charset of the part's Content-Type, else the form's ``_charset_``, else default."""
        _, params = parse_header_params(self.headers.get(hdrs.CONTENT_TYPE, ""))
        return params.get("charset") or self._default_charset or default

    @property
    def name(self) -> str | None:
        """The ``name`` of the Content-Disposition header (None if missing or malformed)."""
        return self._disposition().get("name")

    @property
    def filename(self) -> str | None:
        """The ``filename`` (or decoded ``filename*``) of the Content-Disposition header."""
        return self._disposition().get("filename")

    def _disposition(self) -> dict[str, str]:
        params: dict[str, str] | None = self._cache.get("disposition")
        if params is None:
            _, params = parse_content_disposition(self.headers.get(hdrs.CONTENT_DISPOSITION))
            self._cache["disposition"] = params
        return params


def _run_chain(chain: list[Decoder], data: bytes, *, final: bool) -> Iterator[bytes]:
    """Push ``data`` through the decoders, yielding bounded pieces of the output."""
    try:
        if not chain:
            if data:
                yield data
            return
        yield from _stage(chain, 0, data, final)
    except ContentDecodingError as exc:
        raise MultipartError(str(exc)) from None


def _stage(chain: list[Decoder], index: int, data: bytes, final: bool) -> Iterator[bytes]:
    decoder = chain[index]
    last = index == len(chain) - 1
    if data:
        decoder.feed(data)
    while piece := decoder.read(_DECODE_STEP):
        if last:
            yield piece
        else:
            yield from _stage(chain, index + 1, piece, False)
    if final:
        decoder.finish()
        while piece := decoder.read(_DECODE_STEP):
            if last:
                yield piece
            else:
                yield from _stage(chain, index + 1, piece, False)
        if not last:
            yield from _stage(chain, index + 1, b"", True)


def _decode_text(data: bytes, charset: str) -> str:
    try:
        return data.decode(charset)
    except (LookupError, UnicodeDecodeError) as exc:
        raise MultipartError(f"Cannot decode multipart text as {charset}: {exc}") from None


class _NestedSource:
    """A parent part's raw bytes as a byte source for a nested multipart reader."""

    __slots__ = ("_part",)

    def __init__(self, part: BodyPartReader) -> None:
        self._part = part

    async def readany(self) -> bytes:
        return await self._part._read_raw(_NESTED_READ)


class MultipartReader:
    """Reads a ``multipart/*`` body part by part: ``async for part in reader``."""

    #: Multipart reader class for nested ``multipart/*`` parts (None: ``type(self)``).
    multipart_reader_cls: type[MultipartReader] | None = None
    #: Body part reader class for the other parts.
    part_reader_cls: type[BodyPartReader] = BodyPartReader

    def __init__(
        self,
        headers: Mapping[str, str],
        content: Any,
        *,
        client_max_size: int = sys.maxsize,
        max_field_size: int = 8190,
        max_headers: int = 128,
        max_parts: int = 0,
        max_size_error_cls: Callable[[int, int], Exception] = ValueError,
        max_body_size: int = 0,
    ) -> None:
        """``content`` is the body stream (``request.content``) or a parent BodyPartReader.

        ``max_parts`` (0: unlimited) bounds the number of parts; ``max_body_size``
        (0: unlimited) bounds the raw bytes read from ``content``.
        """
        self.headers = headers
        mimetype, params = parse_header_params(headers.get(hdrs.CONTENT_TYPE, ""))
        maintype, _, subtype = mimetype.partition("/")
        if maintype != "multipart":
            raise MultipartError("multipart/* content type expected")
        boundary = params.get("boundary")
        if not boundary:
            raise MultipartError("Multipart boundary missing from Content-Type")
        self._subtype = subtype
        self._boundary = ("--" + boundary).encode("utf-8", "surrogateescape")
        try:
            parser = MultipartParser(
                boundary.encode("utf-8", "surrogateescape"),
                max_header_size=max_field_size,
                max_headers=max_headers,
                max_parts=max_parts,
            )
        except MultipartParseError as exc:
            raise MultipartError(exc.reason) from None
        source = _NestedSource(content) if isinstance(content, BodyPartReader) else content
        self._stream = _PartStream(source, parser, max_body_size, max_size_error_cls)
        self._client_max_size = client_max_size
        self._limits = (max_field_size, max_headers, max_parts)
        self._max_size_error_cls = max_size_error_cls
        self._default_charset: str | None = None
        self._last_part: MultipartReader | BodyPartReader | None = None
        self._last_raw: BodyPartReader | None = None
        self._at_eof = False

    def __repr__(self) -> str:
        return f"<MultipartReader multipart/{self._subtype}>"

    def __aiter__(self) -> MultipartReader:
        return self

    async def __anext__(self) -> MultipartReader | BodyPartReader:
        part = await self.next()
        if part is None:
            raise StopAsyncIteration
        return part

    def at_eof(self) -> bool:
        """True once the closing boundary was reached."""
        return self._at_eof

    async def next(self) -> MultipartReader | BodyPartReader | None:
        """The next part (the previous one is released first), or None at the end."""
        if self._at_eof:
            return None
        await self._release_last()
        part = await self._next_part()
        if (
            part is not None
            and self._subtype == "form-data"
            and self._last_part is None
            and isinstance(part, BodyPartReader)
            and part.name == "_charset_"
        ):
            # RFC 7578 section 4.6: the form's default charset.
            value = await part.read_chunk(32)
            await part.release()
            if len(value) > 31:
                raise MultipartError("Invalid _charset_ field")
            self._default_charset = value.strip().decode("ascii", "replace")
            part = await self._next_part()
        self._last_part = part
        return part

    async def fetch_next_part(self) -> MultipartReader | BodyPartReader:
        """The next part's reader (raises MultipartError when there is none)."""
        await self._release_last()
        part = await self._next_part()
        if part is None:
            raise MultipartError("No more parts in the multipart body")
        self._last_part = part
        return part

    async def release(self) -> None:
        """Read every remaining part to the void."""
        while not self._at_eof:
            if await self.next() is None:
                break

    async def _release_last(self) -> None:
        raw = self._last_raw
        if raw is not None and not raw.at_eof():
            await raw.release()
        self._last_part = self._last_raw = None

    async def _next_part(self) -> MultipartReader | BodyPartReader | None:
        event = await self._stream.next_event()
        if isinstance(event, BodyEnd):
            self._at_eof = True
            return None
        if not isinstance(event, PartStart):  # pragma: no cover - parser invariant
            raise MultipartError("Malformed multipart body")
        headers = CIMultiDictProxy(
            CIMultiDict((_decode_header(n), _decode_header(v)) for n, v in event.headers)
        )
        return self._get_part_reader(headers)

    def _get_part_reader(self, headers: CIMultiDictProxy[str]) -> MultipartReader | BodyPartReader:
        """The reader for a part: nested MultipartReader for ``multipart/*``, else a part."""
        raw = self.part_reader_cls(
            self._boundary,
            headers,
            self._stream,
            subtype=self._subtype,
            default_charset=self._default_charset,
            client_max_size=self._client_max_size,
            max_size_error_cls=self._max_size_error_cls,
        )
        self._last_raw = raw
        mimetype, _ = parse_header_params(headers.get(hdrs.CONTENT_TYPE, ""))
        if not mimetype.startswith("multipart/"):
            return raw
        max_field_size, max_headers, max_parts = self._limits
        cls = self.multipart_reader_cls or type(self)
        return cls(
            headers,
            raw,
            client_max_size=self._client_max_size,
            max_field_size=max_field_size,
            max_headers=max_headers,
            max_parts=max_parts,
            max_size_error_cls=self._max_size_error_cls,
        )
