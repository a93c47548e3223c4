"""Helpers for request-body tests: raw HTTP over a real socket."""

from __future__ import annotations

import asyncio


async def raw_post(port: int, head: str, body: bytes) -> tuple[int, bytes]:
    """Send one request (``head`` without its blank line) and read the response to EOF."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode("latin-1") + b"\r\nConnection: close\r\n\r\n" + body)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]
