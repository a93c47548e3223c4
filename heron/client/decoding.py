"""Response body decoders for ``Content-Encoding``: gzip and deflate, ``br`` when the
``brotli`` package is installed, ``zstd`` when ``compression.zstd`` (or its backport) is.

The client asks for what it can decode (``ACCEPT_ENCODING``, as aiohttp's client does)
and decodes with the same sans-IO decoders as the server's request bodies.
"""

from __future__ import annotations

from .._proto.decoding import CONTENT_CODINGS, ContentDecodingError, Decoder, make_content_decoder

__all__ = ("ACCEPT_ENCODING", "ContentDecoder", "ContentDecodingError", "make_decoder")

ACCEPT_ENCODING = ", ".join(c for c in ("gzip", "deflate", "br", "zstd") if c in CONTENT_CODINGS)

_PIECE = 2**16


class ContentDecoder:
    """Incrementally decodes a body; raises :class:`ContentDecodingError` on corrupt or
    truncated input (the caller turns it into a payload error)."""

    __slots__ = ("_decoder",)

    def __init__(self, decoder: Decoder) -> None:
        self._decoder = decoder

    def _drain(self) -> bytes:
        read = self._decoder.read
        first = read(_PIECE)
        if not first:
            return b""
        pieces = [first]
        while piece := read(_PIECE):
            pieces.append(piece)
        return b"".join(pieces) if len(pieces) > 1 else first

    def decompress(self, data: bytes) -> bytes:
        """Decode one piece of the body."""
        self._decoder.feed(data)
        return self._drain()

    def flush(self) -> bytes:
        """Return what is left once the body has ended."""
        tail = self._drain()
        self._decoder.finish()
        return tail


def make_decoder(content_encoding: str | None) -> ContentDecoder | None:
    """Return a decoder for ``content_encoding``, or ``None`` for identity/unknown."""
    if not content_encoding:
        return None
    decoder = make_content_decoder(content_encoding)
    return None if decoder is None else ContentDecoder(decoder)
