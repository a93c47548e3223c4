"""Sans-IO incremental decoders for bodies: content codings and transfer encodings.

Every decoder has the same shape: ``feed(data)`` hands it input, ``read(max_length)``
returns at most ``max_length`` decoded bytes (``b""`` once it needs more input), and
``finish()`` raises :class:`ContentDecodingError` if the input ended mid-stream.  The
output is produced on demand, in bounded pieces, so a small compressed "bomb" never
inflates further than its reader asks: a caller that counts what it reads (against
``client_max_size``, say) stops it within one piece of its limit.

Content codings: ``gzip``/``x-gzip``, ``deflate`` (zlib-wrapped or raw), ``br`` when
the ``brotli`` package is installed, ``zstd`` when ``compression.zstd`` (Python 3.14)
or ``backports.zstd`` is.  Transfer encodings (multipart parts): ``base64`` and
``quoted-printable``.
"""

from __future__ import annotations

import binascii
import zlib
from typing import Any, Protocol

from .errors import ContentEncodingError

brotli: Any
try:  # optional dependency: the "brotli" extra
    import brotli  # type: ignore[import-untyped,import-not-found,no-redef,unused-ignore]
except ImportError:  # pragma: no cover - depends on the environment
    brotli = None


def _import_zstd() -> Any:
    try:  # optional dependency: the "zstd" extra (stdlib from Python 3.14)
        from compression import zstd  # type: ignore[import-not-found,unused-ignore]

        return zstd
    except ImportError:  # pragma: no cover - depends on the environment
        pass
    try:
        from backports import zstd as backport  # type: ignore[import-not-found,unused-ignore]

        return backport
    except ImportError:  # pragma: no cover - depends on the environment
        return None


_zstd = _import_zstd()

__all__ = (
    "CONTENT_CODINGS",
    "ContentDecodingError",
    "Decoder",
    "make_content_decoder",
    "make_transfer_decoder",
)


class ContentDecodingError(ContentEncodingError):
    """A body could not be decoded (corrupt or truncated data): answer 400."""


class Decoder(Protocol):
    """An incremental decoder (see the module docstring)."""

    def feed(self, data: bytes) -> None: ...

    def read(self, max_length: int) -> bytes: ...

    def finish(self) -> None: ...


class ZlibDecoder:
    """gzip (with concatenated members) or deflate (zlib-wrapped, or raw as sent by some)."""

    __slots__ = ("_gzip", "_obj", "_started", "_tail")

    def __init__(self, coding: str) -> None:
        self._gzip = coding != "deflate"
        self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS if self._gzip else zlib.MAX_WBITS)
        self._tail = b""
        self._started = False

    def feed(self, data: bytes) -> None:
        if not self._started and data:
            self._started = True
            # A zlib stream's first byte has 8 (deflate) in its low nibble; else it is raw.
            if not self._gzip and data[0] & 0x0F != 8:
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
        self._tail = self._tail + data if self._tail else data

    def read(self, max_length: int) -> bytes:
        # A loop, not recursion: a body may hold thousands of empty gzip members.
        while True:
            obj = self._obj
            try:
                if obj.eof:
                    rest = obj.unused_data + self._tail
                    self._tail = b""
                    if not rest:
                        return b""
                    if not self._gzip:
                        raise ContentDecodingError("Data after the end of a deflate stream")
                    # Another gzip member follows (RFC 1952 allows several).
                    obj = self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    self._tail = rest
                out = obj.decompress(self._tail, max_length)
            except zlib.error as exc:
                raise ContentDecodingError(f"Cannot decode {self._coding}: {exc}") from None
            self._tail = obj.unconsumed_tail
            # A member that ended without output, the next one here already: go on with
            # it now (b"" would tell the caller to feed more, and finish() would take the
            # ended member for the whole body).
            if out or not (obj.eof and obj.unused_data):
                return out

    @property
    def _coding(self) -> str:
        return "gzip" if self._gzip else "deflate"

    def finish(self) -> None:
        if self._started and not self._obj.eof:
            raise ContentDecodingError(f"Truncated {self._coding} body")


class BrotliDecoder:
    """``br`` (needs the ``brotli`` package, 1.2 or later for bounded output).

    brotli treats ``output_buffer_limit`` as a hint (pieces several times as large were seen).
    """

    __slots__ = ("_obj", "_pending", "_started")

    def __init__(self) -> None:
        assert brotli is not None
        self._obj = brotli.Decompressor()
        self._pending = b""
        self._started = False

    def feed(self, data: bytes) -> None:
        self._started = self._started or bool(data)
        self._pending = self._pending + data if self._pending else data

    def read(self, max_length: int) -> bytes:
        obj = self._obj
        try:
            if self._pending:
                if obj.is_finished():
                    raise ContentDecodingError("Data after the end of a brotli stream")
                data, self._pending = self._pending, b""
                return bytes(obj.process(data, output_buffer_limit=max_length))
            if self._started and not obj.is_finished():
                # can_accept_more_data() is not a reliable "no output pending" signal:
                # ask; b"" means more input is needed.
                return bytes(obj.process(b"", output_buffer_limit=max_length))
        except brotli.error as exc:
            raise ContentDecodingError(f"Cannot decode br: {exc}") from None
        return b""

    def finish(self) -> None:
        if self._started and not self._obj.is_finished():
            raise ContentDecodingError("Truncated br body")


class ZstdDecoder:
    """``zstd`` (several frames allowed); needs ``compression.zstd`` or ``backports.zstd``."""

    __slots__ = ("_obj", "_pending", "_started")

    def __init__(self) -> None:
        self._obj = _zstd.ZstdDecompressor()
        self._pending = b""
        self._started = False

    def feed(self, data: bytes) -> None:
        self._started = self._started or bool(data)
        self._pending = self._pending + data if self._pending else data

    def read(self, max_length: int) -> bytes:
        while True:
            obj = self._obj
            try:
                if obj.eof:
                    rest = obj.unused_data + self._pending
                    if not rest:
                        return b""
                    obj = self._obj = _zstd.ZstdDecompressor()
                    self._pending = rest
                if self._pending:
                    data, self._pending = self._pending, b""
                    out = bytes(obj.decompress(data, max_length))
                elif not obj.needs_input:
                    out = bytes(obj.decompress(b"", max_length))
                else:
                    return b""
            except _zstd.ZstdError as exc:
                raise ContentDecodingError(f"Cannot decode zstd: {exc}") from None
            # A frame that ended without output, the next one here already: go on with it
            # now, as ZlibDecoder does with gzip members.
            if out or not (obj.eof and obj.unused_data):
                return out

    def finish(self) -> None:
        if self._started and not self._obj.eof:
            raise ContentDecodingError("Truncated zstd body")


def _content_codings() -> frozenset[str]:
    codings = {"gzip", "x-gzip", "deflate"}
    if brotli is not None and hasattr(brotli.Decompressor, "can_accept_more_data"):
        codings.add("br")
    if _zstd is not None:
        codings.add("zstd")
    return frozenset(codings)


#: The content codings this installation can decode.
CONTENT_CODINGS = _content_codings()


def make_content_decoder(coding: str) -> Decoder | None:
    """A decoder for the ``Content-Encoding`` value ``coding``; None for identity or unknown."""
    coding = coding.strip().lower()
    if coding not in CONTENT_CODINGS:
        return None
    if coding == "br":
        return BrotliDecoder()
    if coding == "zstd":
        return ZstdDecoder()
    return ZlibDecoder(coding)


# ---------------------------------------------------------------------- transfer encodings

_B64_IGNORED = b" \t\r\n"
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


class Base64Decoder:
    """``Content-Transfer-Encoding: base64``, decoded in whole quartets as input arrives."""

    __slots__ = ("_carry", "_out")

    def __init__(self) -> None:
        self._carry = b""
        self._out = b""

    def feed(self, data: bytes) -> None:
        data = self._carry + data.translate(None, _B64_IGNORED)
        whole = len(data) - len(data) % 4
        self._carry = data[whole:]
        if data.translate(None, _B64_ALPHABET):
            raise ContentDecodingError("Invalid character in base64 data")
        try:
            decoded = binascii.a2b_base64(data[:whole]) if whole else b""
        except (binascii.Error, ValueError) as exc:
            raise ContentDecodingError(f"Invalid base64 data: {exc}") from None
        self._out = self._out + decoded if self._out else decoded

    def read(self, max_length: int) -> bytes:
        out = self._out
        if len(out) > max_length:
            self._out = out[max_length:]
            return out[:max_length]
        self._out = b""
        return out

    def finish(self) -> None:
        if self._carry:
            raise ContentDecodingError("Truncated base64 data")


class QuotedPrintableDecoder:
    """``Content-Transfer-Encoding: quoted-printable``, decoded line by line."""

    __slots__ = ("_carry", "_out")

    def __init__(self) -> None:
        self._carry = b""
        self._out = b""

    def feed(self, data: bytes) -> None:
        data = self._carry + data
        # Decode up to the last line end; a long line without one is decoded too,
        # keeping back only what might be a split "=XX" escape or "=\r\n" soft break.
        cut = data.rfind(b"\n") + 1
        if not cut:
            eq = data.rfind(b"=", max(0, len(data) - 2))
            cut = eq if eq >= 0 else len(data)
        self._carry = data[cut:]
        decoded = binascii.a2b_qp(data[:cut])
        self._out = self._out + decoded if self._out else decoded

    def read(self, max_length: int) -> bytes:
        out = self._out
        if len(out) > max_length:
            self._out = out[max_length:]
            return out[:max_length]
        self._out = b""
        return out

    def finish(self) -> None:
        if self._carry:
            self._out += binascii.a2b_qp(self._carry)
            self._carry = b""


def make_transfer_decoder(encoding: str) -> Decoder | None:
    """A decoder for a part's ``Content-Transfer-Encoding``; None for 7bit/8bit/binary.

    Raises :class:`ContentDecodingError` for an unknown encoding.
    """
    encoding = encoding.strip().lower()
    if encoding == "base64":
        return Base64Decoder()
    if encoding == "quoted-printable":
        return QuotedPrintableDecoder()
    if encoding in ("", "7bit", "8bit", "binary"):
        return None
    raise ContentDecodingError(f"Unknown Content-Transfer-Encoding: {encoding}")
