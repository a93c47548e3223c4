"""Response body decoders for ``Content-Encoding`` (gzip, deflate)."""

from __future__ import annotations

import zlib

__all__ = ("ACCEPT_ENCODING", "ContentDecoder", "make_decoder")

ACCEPT_ENCODING = "gzip, deflate"


class ContentDecoder:
    """Incrementally decodes a gzip or deflate (zlib or raw) body.

    Raises ``zlib.error`` on corrupt input; the caller turns it into a payload error.
    """

    __slots__ = ("_obj", "_raw_fallback", "_started")

    def __init__(self, encoding: str) -> None:
        if encoding == "gzip":
            self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
            self._raw_fallback = False
        else:
            # "deflate" is meant to be zlib-wrapped, but many servers send raw deflate.
            self._obj = zlib.decompressobj(zlib.MAX_WBITS)
            self._raw_fallback = True
        self._started = False

    def decompress(self, data: bytes) -> bytes:
        """Decode one piece of the body."""
        if not self._started and self._raw_fallback:
            self._started = True
            # A zlib stream starts with a CMF byte whose low nibble is 8 (deflate).
            if data and (data[0] & 0x0F) != 8:
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
        self._started = True
        return self._obj.decompress(data)

    def flush(self) -> bytes:
        """Return what is left once the body has ended."""
        tail = self._obj.flush()
        if self._started and not self._obj.eof:
            raise zlib.error("compressed body ended before its end marker")
        return tail


def make_decoder(content_encoding: str | None) -> ContentDecoder | None:
    """Return a decoder for ``content_encoding``, or ``None`` for identity/unknown."""
    if not content_encoding:
        return None
    coding = content_encoding.strip().lower()
    if coding in ("gzip", "x-gzip"):
        return ContentDecoder("gzip")
    if coding == "deflate":
        return ContentDecoder("deflate")
    return None
