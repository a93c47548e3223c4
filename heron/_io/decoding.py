"""DecodingStreamReader: a request body decoded (``Content-Encoding``) as it is read.

It pulls compressed bytes from the raw body stream only when its reader wants more
data, and inflates them in pieces of at most ``chunk_size`` bytes: however well the
body compresses, no more than one piece is decoded ahead of the reader.  The raw
stream keeps its own flow control and timeout; discarding an unread body (after the
response) reads the raw stream and never inflates anything.
"""

from __future__ import annotations

from collections.abc import Callable

from .._proto.decoding import ContentDecodingError, Decoder
from .streams import StreamReader

__all__ = ("DecodingStreamReader",)


class DecodingStreamReader(StreamReader):
    """A StreamReader whose bytes are ``source``'s bytes run through ``decoder``."""

    __slots__ = ("_chunk_size", "_decoder", "_on_error", "_source")

    def __init__(
        self,
        source: StreamReader,
        decoder: Decoder,
        *,
        chunk_size: int = 2**16,
        on_error: Callable[[str], object] | None = None,
    ) -> None:
        """``on_error(reason)`` is told once when the body turns out undecodable."""
        # No flow control of its own: it never holds more than the reader asked for.
        super().__init__(None, chunk_size)
        self._source = source
        self._decoder = decoder
        self._chunk_size = chunk_size
        self._on_error = on_error

    def read_ended(self) -> None:
        """Never at once: the decoded bytes are produced while reading."""
        return None

    def __repr__(self) -> str:
        return f"<DecodingStreamReader total={self._total} source={self._source!r}>"

    @property
    def raw(self) -> StreamReader:
        """The undecoded body stream."""
        return self._source

    async def _wait(self, func_name: str) -> None:
        # Called by every read when the buffer cannot satisfy it: decode one more piece.
        self._raise_if_failed()
        try:
            await self._decode_more()
        except ContentDecodingError as exc:
            self.set_exception(exc)
            on_error = self._on_error
            if on_error is not None:
                self._on_error = None
                on_error(exc.reason)
            raise

    async def _decode_more(self) -> None:
        decoder = self._decoder
        while True:
            out = decoder.read(self._chunk_size)
            if out:
                self.feed_data(out)
                return
            data = await self._source.readany()
            if not data:
                decoder.finish()
                out = decoder.read(self._chunk_size)
                if out:
                    self.feed_data(out)
                    return
                self.feed_eof()
                return
            decoder.feed(data)

    async def wait_eof(self) -> None:
        """Wait until the raw body has been received to its end."""
        await self._source.wait_eof()
