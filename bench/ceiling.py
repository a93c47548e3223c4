"""The "ceiling": a bare uvloop + httptools server answering every request with canned bytes.

No routing, no Request object, no headers parsed beyond what httptools does: this is the
fastest a Python HTTP/1.1 server on this loop and parser can go on this machine, the roof that
heron and aiohttp are measured against. It answers ``Hello, World!`` to any method and path,
so only the plaintext-like scenarios are meaningful against it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

import httptools
import uvloop

RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 13\r\n"
    b"\r\n"
    b"Hello, World!"
)


class CeilingProtocol(asyncio.Protocol):
    """One connection: feed httptools, queue a canned response per message, write once."""

    __slots__ = ("_keep_alive", "_out", "_parser", "_transport")

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._out: list[bytes] = []
        self._keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the transport (uvloop's is not an ``asyncio.Transport`` subclass)."""
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        """Parse ``data``; answer all complete (possibly pipelined) requests in one write."""
        transport = self._transport
        assert transport is not None
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            transport.close()
            return
        if self._out:
            # PERF: one write per read, so a pipelined batch costs one syscall.
            transport.write(b"".join(self._out))
            self._out.clear()
        if not self._keep_alive:
            transport.close()

    def on_message_complete(self) -> None:
        """httptools callback: one request is complete."""
        self._out.append(RESPONSE)
        self._keep_alive = self._parser.should_keep_alive()


def serve(host: str, port: int, ready: Callable[[str], None]) -> None:
    """Serve forever on ``host:port`` with uvloop, calling ``ready`` once listening."""
    serve_protocol(CeilingProtocol, "ceiling", host, port, ready)


def serve_protocol(
    factory: Callable[[], asyncio.Protocol],
    name: str,
    host: str,
    port: int,
    ready: Callable[[str], None],
) -> None:
    """Serve ``factory``'s protocol forever on ``host:port`` with uvloop (also ``floor.py``'s)."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(factory, host, port, backlog=1024)
        ready(f"{name} listening on http://{host}:{port}")
        async with server:
            await server.serve_forever()

    uvloop.run(main())
