"""The client against scripted raw servers: framing, broken responses, pooling, timeouts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from heron.client import (
    ClientConnectorError,
    ClientPayloadError,
    ClientResponseError,
    ClientSession,
    ClientTimeout,
    ConnectionTimeoutError,
    CookieJar,
    ServerDisconnectedError,
    ServerTimeoutError,
    SocketTimeoutError,
    TCPConnector,
)
from heron.test_utils import unused_port

from .conftest import ConnHandler, RawServer, read_request

MakeServer = Callable[[ConnHandler], Awaitable[RawServer]]

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def respond_always(response: bytes) -> ConnHandler:
    """A keep-alive server answering every request with ``response``."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(response)
            await writer.drain()

    return handler


def respond_once(response: bytes, *, close: bool = True) -> ConnHandler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(response)
        await writer.drain()
        if close:
            writer.close()

    return handler


async def test_chunked_response_and_chunk_boundaries(raw_server: MakeServer) -> None:
    response = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    server = await raw_server(respond_always(response))
    async with ClientSession() as session:
        async with session.get(server.url()) as resp:
            chunks = [chunk async for chunk in resp.content.iter_chunks()]
        assert b"".join(c for c, _ in chunks) == b"hello world"
        assert all(end for _, end in chunks)
        async with session.get(server.url()) as resp:
            assert await resp.text() == "hello world"
    assert server.connections == 1


async def test_connection_close_is_respected(raw_server: MakeServer) -> None:
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    server = await raw_server(respond_once(response))
    async with ClientSession() as session:
        for _ in range(3):
            async with session.get(server.url()) as resp:
                assert await resp.read() == b"ok"
        assert session.connector is not None
        assert session.connector.idle_count() == 0
    assert server.connections == 3


async def test_http10_body_until_eof(raw_server: MakeServer) -> None:
    server = await raw_server(respond_once(b"HTTP/1.0 200 OK\r\n\r\nuntil the end"))
    async with ClientSession() as session, session.get(server.url()) as resp:
        assert resp.version == (1, 0)
        assert await resp.read() == b"until the end"


async def test_http11_body_until_eof(raw_server: MakeServer) -> None:
    server = await raw_server(respond_once(b"HTTP/1.1 200 OK\r\nX: y\r\n\r\nno length"))
    async with ClientSession() as session, session.get(server.url()) as resp:
        assert await resp.read() == b"no length"


async def test_disconnect_before_response(raw_server: MakeServer) -> None:
    server = await raw_server(respond_once(b""))
    async with ClientSession() as session:
        with pytest.raises(ServerDisconnectedError):
            await session.get(server.url())


async def test_truncated_body_is_payload_error(raw_server: MakeServer) -> None:
    server = await raw_server(respond_once(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"))
    async with ClientSession() as session, session.get(server.url()) as resp:
        with pytest.raises(ClientPayloadError):
            await resp.read()


async def test_bad_chunk_is_payload_error(raw_server: MakeServer) -> None:
    response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nbad\r\n"
    server = await raw_server(respond_once(response, close=False))
    async with ClientSession() as session, session.get(server.url()) as resp:
        with pytest.raises(ClientPayloadError):
            await resp.read()


async def test_garbage_status_line(raw_server: MakeServer) -> None:
    server = await raw_server(respond_once(b"NOT HTTP AT ALL\r\n\r\n", close=False))
    async with ClientSession() as session:
        with pytest.raises(ClientResponseError) as info:
            await session.get(server.url())
        assert info.value.status == 400


async def test_bad_gzip_is_payload_error(raw_server: MakeServer) -> None:
    response = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope"
    server = await raw_server(respond_once(response, close=False))
    async with ClientSession() as session, session.get(server.url()) as resp:
        with pytest.raises(ClientPayloadError):
            await resp.read()


async def test_head_response_with_length_keeps_connection(raw_server: MakeServer) -> None:
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line, _, _ = await read_request(reader)
        assert line.startswith("HEAD ")
        writer.write(response)
        await read_request(reader)
        writer.write(OK)

    server = await raw_server(handler)
    async with ClientSession() as session:
        async with session.head(server.url()) as resp:
            assert resp.content_length == 1000
            assert await resp.read() == b""
        async with session.get(server.url()) as resp:
            assert await resp.read() == b"ok"
    assert server.connections == 1


async def test_interim_100_continue_is_skipped(raw_server: MakeServer) -> None:
    bodies: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        assert b"Expect: 100-continue" in head
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        bodies.append(await reader.readexactly(1))
        writer.write(OK)
        await reader.read()

    server = await raw_server(handler)
    async with (
        ClientSession() as session,
        session.post(server.url(), data=b"x", expect100=True) as resp,
    ):
        assert resp.status == 200
        assert await resp.read() == b"ok"
    assert bodies == [b"x"]


async def test_expect100_refused_sends_no_body(raw_server: MakeServer) -> None:
    got: list[bytes] = []
    done = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n")
        got.append(await reader.read())  # until the client closes
        done.set()

    server = await raw_server(handler)
    async with (
        ClientSession() as session,
        session.post(server.url(), data=b"secret", expect100=True) as resp,
    ):
        assert resp.status == 417
    await asyncio.wait_for(done.wait(), 5)
    assert got == [b""]


async def test_stale_keepalive_connection_is_retried(raw_server: MakeServer) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        await read_request(reader)
        # Pretend the idle timeout hit just as the client reused the connection.

    server = await raw_server(handler)
    async with ClientSession() as session:
        for _ in range(2):
            async with session.get(server.url()) as resp:
                assert await resp.read() == b"ok"
    assert server.connections == 2


async def test_connection_limit(raw_server: MakeServer) -> None:
    active = 0
    peak = 0
    release = asyncio.Event()
    arrived = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal active, peak
        while True:
            await read_request(reader)
            active += 1
            peak = max(peak, active)
            arrived.set()
            await release.wait()
            active -= 1
            writer.write(OK)
            await writer.drain()

    server = await raw_server(handler)
    async with ClientSession(connector=TCPConnector(limit=1)) as session:

        async def fetch() -> bytes:
            async with session.get(server.url()) as resp:
                return await resp.read()

        tasks = [asyncio.ensure_future(fetch()) for _ in range(3)]
        await asyncio.wait_for(arrived.wait(), 5)
        release.set()
        assert await asyncio.gather(*tasks) == [b"ok"] * 3
    assert peak == 1
    assert server.connections == 1


def never_respond(started: asyncio.Event) -> ConnHandler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        started.set()
        await reader.read()  # until the client gives up

    return handler


async def test_sock_read_timeout(raw_server: MakeServer) -> None:
    started = asyncio.Event()
    server = await raw_server(never_respond(started))
    async with ClientSession(timeout=ClientTimeout(sock_read=0.2)) as session:
        with pytest.raises(SocketTimeoutError):
            await session.get(server.url())
    assert started.is_set()


async def test_total_timeout(raw_server: MakeServer) -> None:
    server = await raw_server(never_respond(asyncio.Event()))
    async with ClientSession() as session:
        with pytest.raises(ServerTimeoutError):
            await session.get(server.url(), timeout=ClientTimeout(total=0.2))


async def test_body_stall_times_out(raw_server: MakeServer) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await reader.read()

    server = await raw_server(handler)
    async with (
        ClientSession(timeout=ClientTimeout(sock_read=0.2)) as session,
        session.get(server.url()) as resp,
    ):
        assert resp.status == 200
        with pytest.raises(asyncio.TimeoutError):
            await resp.read()


async def test_pool_wait_is_bounded_by_connect_timeout(raw_server: MakeServer) -> None:
    started = asyncio.Event()
    server = await raw_server(never_respond(started))
    connector = TCPConnector(limit=1)
    async with ClientSession(connector=connector) as session:
        hung = asyncio.ensure_future(session.get(server.url()))
        await asyncio.wait_for(started.wait(), 5)
        with pytest.raises(ConnectionTimeoutError):
            await session.get(server.url(), timeout=ClientTimeout(connect=0.2))
        hung.cancel()
        with pytest.raises(asyncio.CancelledError):
            await hung


async def test_connection_refused() -> None:
    async with ClientSession() as session:
        with pytest.raises(ClientConnectorError) as info:
            await session.get(f"http://127.0.0.1:{unused_port()}/")
        assert info.value.host == "127.0.0.1"


async def test_cookie_attributes(raw_server: MakeServer) -> None:
    seen: list[str | None] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            _, headers, _ = await read_request(reader)
            seen.append(headers.get("cookie"))
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
                b"Set-Cookie: a=1; Path=/sub\r\n"
                b"Set-Cookie: b=2; Max-Age=0\r\n"
                b"Set-Cookie: c=3; Secure\r\n"
                b"Set-Cookie: d=4\r\n\r\n"
            )

    server = await raw_server(handler)
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:
        for path in ("/", "/", "/sub/page"):
            async with session.get(server.url(path)) as resp:
                await resp.read()
    assert seen[0] is None
    assert seen[1] == "d=4"  # no /sub path, b expired, c needs https
    assert seen[2] is not None
    assert sorted(seen[2].split("; ")) == ["a=1", "d=4"]
