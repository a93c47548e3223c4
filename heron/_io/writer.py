"""ResponseWriter: the bytes of one response onto a transport.

It frames the body (Content-Length or chunked), suppresses the body of a
response to HEAD, and applies write-side flow control: ``drain`` waits while the transport's
buffer is above its high-water mark, at most ``write_timeout`` seconds.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from .._proto.serialize import LAST_CHUNK, encode_chunk

__all__ = ("ResponseWriter", "WriteFlow")


class WriteFlow(Protocol):
    """What a writer needs from its connection."""

    transport: asyncio.Transport | None

    @property
    def write_paused(self) -> bool: ...

    def write_response(self, data: bytes) -> None: ...

    def flush(self) -> None: ...

    async def wait_writable(self) -> None: ...


class ResponseWriter:
    """Writes one response; created by the connection for each request."""

    __slots__ = (
        "_flow",
        "buffer_size",
        "chunked",
        "eof",
        "head_only",
        "length",
        "output_size",
    )

    def __init__(self, flow: WriteFlow, *, head_only: bool = False) -> None:
        self._flow = flow
        self.chunked = False
        self.head_only = head_only
        self.length: int | None = None
        self.buffer_size = 0
        #: Bytes handed to the transport for this response, head included.
        self.output_size = 0
        self.eof = False

    def _transport(self) -> asyncio.Transport:
        flow = self._flow
        transport = flow.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("Cannot write to closing transport")
        # Responses held back for coalescing go first: the order on the wire is the
        # order of the requests.
        flow.flush()
        return transport

    def send_head(self, head: bytes, *, chunked: bool) -> None:
        """Write the response head now (a streamed response's client sees it at once)."""
        self.chunked = chunked
        self._transport().write(head)
        self.output_size += len(head)

    def send_all(self, data: bytes) -> None:
        """Write a complete response (head and body already joined) at once."""
        flow = self._flow
        transport = flow.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("Cannot write to closing transport")
        flow.write_response(data)
        self.output_size += len(data)
        self.eof = True

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        """Write body bytes, waiting if the peer is not keeping up."""
        if self.eof:
            raise RuntimeError("Cannot call write() after write_eof()")
        chunk = bytes(data)
        if self.head_only:
            chunk = b""
        elif self.chunked and chunk:
            chunk = encode_chunk(chunk)
        if chunk:
            self._transport().write(chunk)
            self.output_size += len(chunk)
        await self.drain()

    async def write_eof(self, data: bytes = b"") -> None:
        """Finish the body (with the last chunk when chunked)."""
        if self.eof:
            return
        out = b""
        if not self.head_only:
            if self.chunked:
                out += (encode_chunk(data) if data else b"") + LAST_CHUNK
            else:
                out += data
        self.eof = True
        if out:
            self._transport().write(out)
            self.output_size += len(out)
        await self.drain()

    @property
    def paused(self) -> bool:
        """True while the transport's buffer is above its high-water mark (drain waits)."""
        return self._flow.write_paused

    async def drain(self) -> None:
        """Wait until the transport's buffer is below its high-water mark."""
        flow = self._flow
        if flow.write_paused:
            # PERF: "echo", "plaintext": no coroutine for the common case, nothing to wait for.
            await flow.wait_writable()
