"""StreamReader: an incoming body as an async byte stream, with flow control.

The I/O layer feeds bytes in (``feed_data``/``feed_eof``/``set_exception``); the
application reads them out with aiohttp's API (``read``, ``readany``, ``readexactly``,
``readline``, ``readuntil``, ``readchunk``, ``iter_chunked``, ``iter_any``,
``iter_chunks``).  When more than ``2 * limit`` bytes are buffered the reader asks its
flow-control peer to pause reading from the socket, and asks it to resume once the
buffer drops under ``limit``: a handler that does not keep up never makes the server
buffer the whole body.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Callable
from typing import Protocol

__all__ = ("EMPTY_PAYLOAD", "EofStream", "FlowControl", "StreamReader")


class FlowControl(Protocol):
    """What a StreamReader needs from the transport side."""

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


class EofStream(Exception):
    """Raised internally when a stream ends while a message was awaited."""


class _NoFlowControl:
    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class StreamReader:
    """A buffered, flow-controlled byte stream fed by the protocol layer.

    ``timeout`` bounds every single wait for more data (seconds, ``None`` for no
    bound); when it expires the read raises :class:`asyncio.TimeoutError`.
    """

    __slots__ = (
        "_buffer",
        "_chunk_ends",
        "_eof",
        "_eof_callbacks",
        "_eof_waiter",
        "_exception",
        "_flow",
        "_high",
        "_limit",
        "_loop",
        "_paused",
        "_size",
        "_timeout",
        "_total",
        "_waiter",
    )

    def __init__(
        self,
        protocol: FlowControl | None = None,
        limit: int = 2**16,
        *,
        timeout: float | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._buffer: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._eof = False
        self._exception: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._eof_waiter: asyncio.Future[None] | None = None
        self._eof_callbacks: list[Callable[[], object]] = []
        self._limit = limit
        self._high = limit * 2
        self._flow: FlowControl = protocol if protocol is not None else _NoFlowControl()
        self._paused = False
        self._loop = loop
        self._total = 0
        self._timeout = timeout
        # Offsets (in total bytes) at which a transfer chunk ended, for readchunk().
        self._chunk_ends: collections.deque[int] | None = None

    def __repr__(self) -> str:
        state = "eof" if self._eof else "open"
        return f"<StreamReader {state} buffered={self._size} total={self._total}>"

    # ------------------------------------------------------------------ feeding side

    def get_read_buffer_limits(self) -> tuple[int, int]:
        """``(low, high)``: reading resumes below ``low`` buffered bytes, pauses above ``high``."""
        return (self._limit, self._high)

    @property
    def total_bytes(self) -> int:
        """How many bytes have been fed into the stream so far."""
        return self._total

    def exception(self) -> BaseException | None:
        return self._exception

    def set_exception(self, exc: BaseException) -> None:
        """Fail every pending and future read with ``exc``."""
        self._exception = exc
        self._eof_callbacks.clear()
        self._wake_waiter(exc)
        waiter = self._eof_waiter
        if waiter is not None:
            self._eof_waiter = None
            if not waiter.done():
                waiter.set_exception(exc)

    def on_eof(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` once the stream reaches its end (now, if it has)."""
        if self._eof:
            callback()
        else:
            self._eof_callbacks.append(callback)

    def feed_data(self, data: bytes) -> None:
        if not data:
            return
        self._buffer.append(data)
        self._size += len(data)
        self._total += len(data)
        self._wake_waiter(None)
        if self._size > self._high and not self._paused:
            self._paused = True
            self._flow.pause_reading()

    def begin_http_chunk_receiving(self) -> None:
        if self._chunk_ends is None:
            self._chunk_ends = collections.deque()

    def end_http_chunk_receiving(self) -> None:
        ends = self._chunk_ends
        if ends is not None and (not ends or ends[-1] != self._total):
            ends.append(self._total)
            self._wake_waiter(None)

    def feed_eof(self) -> None:
        if self._eof:
            return
        self._eof = True
        self._wake_waiter(None)
        waiter = self._eof_waiter
        if waiter is not None:
            self._eof_waiter = None
            if not waiter.done():
                waiter.set_result(None)
        callbacks, self._eof_callbacks = self._eof_callbacks, []
        for cb in callbacks:
            cb()

    def is_eof(self) -> bool:
        """True once the writer side has signalled the end of the stream."""
        return self._eof

    def at_eof(self) -> bool:
        """True once the stream has ended and every buffered byte was read."""
        return self._eof and not self._buffer

    async def wait_eof(self) -> None:
        if self._eof:
            return
        if self._exception is not None:
            raise self._exception
        self._eof_waiter = self._get_loop().create_future()
        await self._eof_waiter

    # ------------------------------------------------------------------ reading side

    async def readline(self) -> bytes:
        return await self.readuntil(b"\n")

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        """Read up to and including ``separator`` (or to the end of the stream).

        A line longer than the buffer limit raises ``ValueError`` rather than
        growing the buffer without bound.
        """
        if not separator:
            raise ValueError("Separator should be at least one-byte string")
        self._raise_if_failed()
        seplen = len(separator)
        while True:
            if self._buffer:
                joined = b"".join(self._buffer) if len(self._buffer) > 1 else self._buffer[0]
                idx = joined.find(separator)
                if idx >= 0:
                    end = idx + seplen
                    self._buffer.clear()
                    if end < len(joined):
                        self._buffer.append(joined[end:])
                    self._consumed(end)
                    return joined[:end]
                if len(joined) > self._high:
                    raise ValueError("Chunk too big")
                if len(self._buffer) > 1:
                    self._buffer.clear()
                    self._buffer.append(joined)
            if self._eof:
                return self._take(self._size)
            await self._wait("readuntil")

    async def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes, or everything up to the end when ``n`` is -1."""
        self._raise_if_failed()
        if n == 0:
            return b""
        if n < 0:
            parts = []
            while True:
                chunk = await self.readany()
                if not chunk:
                    break
                parts.append(chunk)
            return b"".join(parts)
        while not self._buffer and not self._eof:
            await self._wait("read")
        return self._take(min(n, self._size))

    def read_ended(self) -> bytes | None:
        """Everything left, at once, if the stream has ended; None if it has not.

        PERF: "4 KiB POST echo": a body that arrived with its head is read without a
        coroutine per chunk.  Subclasses that produce their bytes while being read
        return None and are read with the coroutines.
        """
        self._raise_if_failed()
        if not self._eof:
            return None
        buf = self._buffer
        if not buf:
            return b""
        data = buf[0] if len(buf) == 1 else b"".join(buf)
        buf.clear()
        self._consumed(len(data))
        return data

    async def readany(self) -> bytes:
        """Read whatever is buffered (at least one byte unless the stream ended)."""
        self._raise_if_failed()
        while not self._buffer and not self._eof:
            await self._wait("readany")
        if not self._buffer:
            return b""
        data = self._buffer.popleft()
        self._consumed(len(data))
        return data

    async def readchunk(self) -> tuple[bytes, bool]:
        """Read one transfer chunk as ``(data, end_of_http_chunk)``.

        For bodies without chunked framing this behaves like ``readany`` with the
        flag False; ``(b"", True)`` is never returned at the end of the stream,
        ``(b"", False)`` is.
        """
        self._raise_if_failed()
        while True:
            ends = self._chunk_ends
            if ends:
                consumed = self._total - self._size
                while ends and ends[0] <= consumed:
                    ends.popleft()
                if ends:
                    want = ends[0] - consumed
                    if want <= self._size:
                        ends.popleft()
                        return self._take(want), True
            if self._buffer and not ends:
                data = self._buffer.popleft()
                self._consumed(len(data))
                return data, False
            if self._eof:
                return self._take(self._size), False
            await self._wait("readchunk")

    async def readexactly(self, n: int) -> bytes:
        self._raise_if_failed()
        while self._size < n:
            if self._eof:
                partial = self._take(self._size)
                raise asyncio.IncompleteReadError(partial, n)
            await self._wait("readexactly")
        return self._take(n)

    def read_nowait(self, n: int = -1) -> bytes:
        """Return buffered bytes without waiting (up to ``n``; all when -1)."""
        self._raise_if_failed()
        if self._waiter is not None:
            raise RuntimeError("Called while some coroutine is waiting for incoming data.")
        return self._take(self._size if n < 0 else min(n, self._size))

    def unread_data(self, data: bytes) -> None:
        """Push bytes back to the front of the stream (used by body decoders)."""
        if not data:
            return
        self._buffer.appendleft(data)
        self._size += len(data)

    # ------------------------------------------------------------------ iteration

    def iter_chunked(self, n: int) -> AsyncIterator[bytes]:
        """Iterate over the body in pieces of at most ``n`` bytes."""
        return _ChunkIterator(self, n)

    def iter_any(self) -> AsyncIterator[bytes]:
        """Iterate over the body as it arrives."""
        return _AnyIterator(self)

    def iter_chunks(self) -> AsyncIterator[tuple[bytes, bool]]:
        """Iterate over ``(data, end_of_http_chunk)`` pairs."""
        return _ChunksIterator(self)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return _LineIterator(self)

    # ------------------------------------------------------------------ internals

    def _get_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def _raise_if_failed(self) -> None:
        if self._exception is not None:
            raise self._exception

    def _wake_waiter(self, exc: BaseException | None) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                if exc is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(exc)

    async def _wait(self, func_name: str) -> None:
        # A stream that failed while nobody waited never wakes a new waiter: raise now.
        self._raise_if_failed()
        if self._waiter is not None:
            raise RuntimeError(
                f"{func_name}() called while another coroutine is already waiting for incoming data"
            )
        if self._paused:
            # The reader wants more than is buffered: let bytes flow again.
            self._paused = False
            self._flow.resume_reading()
        loop = self._get_loop()
        waiter = self._waiter = loop.create_future()
        handle = None
        if self._timeout is not None:
            handle = loop.call_later(self._timeout, _expire, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if handle is not None:
                handle.cancel()
        self._raise_if_failed()

    def _take(self, n: int) -> bytes:
        if n <= 0:
            return b""
        buf = self._buffer
        first = buf[0]
        if len(first) == n:
            buf.popleft()
            data = first
        elif len(first) > n:
            buf[0] = first[n:]
            data = first[:n]
        else:
            parts = []
            need = n
            while need:
                chunk = buf.popleft()
                if len(chunk) > need:
                    buf.appendleft(chunk[need:])
                    chunk = chunk[:need]
                parts.append(chunk)
                need -= len(chunk)
            data = b"".join(parts)
        self._consumed(n)
        return data

    def _consumed(self, n: int) -> None:
        self._size -= n
        if self._paused and self._size <= self._limit:
            self._paused = False
            self._flow.resume_reading()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(asyncio.TimeoutError("Timed out waiting for body data"))


class _EmptyStreamReader(StreamReader):
    """A stream that is already at its end: the body of a request without one."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__()
        self._eof = True

    def __repr__(self) -> str:
        return "<EmptyStreamReader>"


EMPTY_PAYLOAD: StreamReader = _EmptyStreamReader()


class _ChunkIterator:
    __slots__ = ("_n", "_stream")

    def __init__(self, stream: StreamReader, n: int) -> None:
        self._stream = stream
        self._n = n

    def __aiter__(self) -> _ChunkIterator:
        return self

    async def __anext__(self) -> bytes:
        stream = self._stream
        # Gather up to n bytes (or what remains before the end).
        while stream._size < self._n and not stream._eof:
            await stream._wait("iter_chunked")
        data = stream._take(min(self._n, stream._size))
        if not data:
            stream._raise_if_failed()
            raise StopAsyncIteration
        return data


class _AnyIterator:
    __slots__ = ("_stream",)

    def __init__(self, stream: StreamReader) -> None:
        self._stream = stream

    def __aiter__(self) -> _AnyIterator:
        return self

    async def __anext__(self) -> bytes:
        data = await self._stream.readany()
        if not data:
            raise StopAsyncIteration
        return data


class _ChunksIterator:
    __slots__ = ("_stream",)

    def __init__(self, stream: StreamReader) -> None:
        self._stream = stream

    def __aiter__(self) -> _ChunksIterator:
        return self

    async def __anext__(self) -> tuple[bytes, bool]:
        data, end = await self._stream.readchunk()
        if not data and not end:
            raise StopAsyncIteration
        return data, end


class _LineIterator:
    __slots__ = ("_stream",)

    def __init__(self, stream: StreamReader) -> None:
        self._stream = stream

    def __aiter__(self) -> _LineIterator:
        return self

    async def __anext__(self) -> bytes:
        line = await self._stream.readline()
        if not line:
            raise StopAsyncIteration
        return line
