"""Responses to pipelined requests are coalesced into fewer writes, never held back.

While more pipelined requests wait, a finished response is held and leaves with the
next ones in one ``transport.write``.  Held bytes must never wait on a handler that
suspends, must come out in request order before any other kind of write (a streamed
response, ``100 Continue``, an error answer), and must go out before a close.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from heron import web

from .conftest import RawClient, Serve
from .test_hot_path import GET, read_bodies


async def test_one_read_of_pipelined_requests_is_answered_in_one_write(
    serve: Serve, raw: Any
) -> None:
    if not isinstance(asyncio.get_running_loop(), asyncio.SelectorEventLoop):
        pytest.skip("counts writes on asyncio's own (Python) transport")
    writes: list[int] = []

    async def handler(request: web.BaseRequest) -> web.Response:
        if request.path == "/0":
            transport: Any = request.transport
            write = transport.write

            def counting_write(data: bytes) -> None:
                writes.append(len(data))
                write(data)

            transport.write = counting_write  # instance attribute: this connection only
        return web.Response(text=request.path)

    client: RawClient = await raw(await serve(handler))
    await client.send(b"".join(GET % b"/%d" % i for i in range(16)))
    assert await read_bodies(client, 16) == [b"/%d" % i for i in range(16)]
    assert len(writes) == 1


async def test_a_held_response_does_not_wait_for_a_suspended_handler(
    serve: Serve, raw: Any
) -> None:
    release = asyncio.Event()

    async def handler(request: web.BaseRequest) -> web.Response:
        if request.path == "/slow":
            await release.wait()
        return web.Response(text=request.path)

    client: RawClient = await raw(await serve(handler))
    await client.send(GET % b"/fast" + GET % b"/slow" + GET % b"/after")
    # /slow only finishes once /fast's answer has arrived: held back, this would hang.
    assert await asyncio.wait_for(read_bodies(client, 1), 10) == [b"/fast"]
    release.set()
    assert await asyncio.wait_for(read_bodies(client, 2), 10) == [b"/slow", b"/after"]


async def test_held_responses_precede_a_streamed_one(serve: Serve, raw: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if request.path != "/stream":
            return web.Response(text=request.path)
        response = web.StreamResponse()
        response.content_type = "text/plain"
        response.content_length = 7
        await response.prepare(request)
        await response.write(b"/st")
        await response.write(b"ream")
        return response

    client: RawClient = await raw(await serve(handler))
    paths = [b"/a", b"/b", b"/stream", b"/c", b"/d"]
    await client.send(b"".join(GET % p for p in paths))
    bodies = await asyncio.wait_for(read_bodies(client, 5), 10)
    assert bodies == [b"/a", b"/b", b"/stream", b"/c", b"/d"]


async def test_held_responses_go_out_before_the_close(serve: Serve, raw: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text=request.path)

    client: RawClient = await raw(await serve(handler))
    last = b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    await client.send(b"".join(GET % b"/%d" % i for i in range(8)) + last)
    bodies = await asyncio.wait_for(read_bodies(client, 9), 10)
    assert bodies == [b"/%d" % i for i in range(8)] + [b"/last"]
    assert await client.closed_by_peer()


async def test_held_responses_precede_the_error_answer(serve: Serve, raw: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text=request.path)

    client: RawClient = await raw(await serve(handler))
    await client.send(GET % b"/1" + GET % b"/2" + b"GET /3 HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n")
    data = b""
    while chunk := await asyncio.wait_for(client.read_raw(), 10):
        data += chunk
    first, second, third = data.split(b"HTTP/1.1 ")[1:]
    assert first.startswith(b"200 ") and first.endswith(b"\r\n\r\n/1")
    assert second.startswith(b"200 ") and second.endswith(b"\r\n\r\n/2")
    assert third.startswith(b"400 ")
