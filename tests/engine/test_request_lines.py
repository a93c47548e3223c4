"""A request line heron cannot parse as HTTP/1.x is answered at once, never left to time out.

llhttp reads ``GET /\r\n`` (HTTP/0.9: the whole request is that line) and
``GET / HTTP/2.0\r\n`` as the start of a head and would wait for its end; heron refuses
them as soon as the line is in.  Each exchange must finish (answer, then EOF) far below
the head and keep-alive timeouts the server runs with.
"""

from __future__ import annotations

import asyncio

import pytest

from heron import web

from .conftest import Serve

TIMEOUTS = {"head_timeout": 60.0, "keepalive_timeout": 60.0}
#: Far below both timeouts: only an immediate answer (or close) meets it.
DEADLINE = 5.0


async def hello(request: web.BaseRequest) -> web.Response:
    return web.Response(text="hello")


async def _exchange(port: int, pieces: list[bytes]) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
        return await reader.read()
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("pieces", "status"),
    [
        ([b"GET /\r\n"], 400),
        ([b"GET /index.html\r\n"], 400),
        ([b"GET /", b"\r\n"], 400),
        ([b"GET /\r\nHost: x\r\n"], 400),
        ([b"GET / HTTP/0.9\r\n"], 400),
        ([b"GET / HTTP/2.0\r\n"], 505),
        ([b"GET / HTTP/2.0\r\nHost: x\r\n"], 505),
        ([b"GET / HTTP/3.0\r\n"], 505),
        ([b"GET / HTTP/1.x\r\n"], 400),
        ([b"GET / HTTP/11\r\n"], 400),
        ([b"GET / FTP/1.1\r\n"], 400),
        ([b"garbage\r\n"], 400),
        ([b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"], 400),
        ([b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"], 505),
    ],
)
async def test_unparseable_request_line_answered_at_once(
    serve: Serve, pieces: list[bytes], status: int
) -> None:
    port = await serve(hello, **TIMEOUTS)
    data = await asyncio.wait_for(_exchange(port, pieces), DEADLINE)
    head, _, _ = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status), data
    assert b"\r\nConnection: close" in head
    assert data.count(b"HTTP/1.1 ") == 1
