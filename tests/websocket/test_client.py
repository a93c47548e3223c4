"""heron's WebSocket client against aiohttp's server and heron's own (TestClient.ws_connect)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web as aiohttp_web

from heron import web as heron_web
from heron._web.websocket import WebSocketResponse, WSMsgType
from heron.client import ClientSession
from heron.client.ws import WSServerHandshakeError


async def aiohttp_echo(request: aiohttp_web.Request) -> aiohttp_web.WebSocketResponse:
    ws = aiohttp_web.WebSocketResponse(protocols=("chat",))
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == aiohttp_web.WSMsgType.TEXT:
            if msg.data == "close":
                await ws.close(code=4002, message=b"server says bye")
            else:
                await ws.send_str(msg.data.upper())
        elif msg.type == aiohttp_web.WSMsgType.BINARY:
            await ws.send_bytes(msg.data[::-1])
    return ws


@pytest.fixture
async def aiohttp_url() -> Any:
    app = aiohttp_web.Application()
    app.router.add_get("/ws", aiohttp_echo)
    runner = aiohttp_web.AppRunner(app)
    await runner.setup()
    site = aiohttp_web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"ws://127.0.0.1:{port}/ws"
    await runner.cleanup()


@pytest.mark.parametrize("compress", [0, 15])
async def test_heron_client_with_aiohttp_server(aiohttp_url: str, compress: int) -> None:
    async with (
        ClientSession() as session,
        session.ws_connect(aiohttp_url, compress=compress, protocols=("chat",)) as ws,
    ):
        assert ws.protocol == "chat"
        assert bool(ws.compress) == bool(compress)
        await ws.send_str("hello")
        assert await ws.receive_str() == "HELLO"
        data = bytes(range(256)) * 1000
        await ws.send_bytes(data)
        assert await ws.receive_bytes() == data[::-1]
        await ws.send_str("close")
        msg = await ws.receive()
        assert (msg.type, msg.data, msg.extra) == (WSMsgType.CLOSE, 4002, "server says bye")
        assert ws.closed and ws.close_code == 4002


async def test_heron_client_async_iteration(aiohttp_url: str) -> None:
    async with ClientSession() as session:
        ws = await session.ws_connect(aiohttp_url)
        await ws.send_str("a")
        await ws.send_str("close")
        got = [msg.data async for msg in ws]
        assert got == ["A"]
        assert ws.close_code == 4002


async def test_handshake_refused(aiohttp_url: str) -> None:
    async with ClientSession() as session:
        with pytest.raises(WSServerHandshakeError) as info:
            await session.ws_connect(aiohttp_url.replace("/ws", "/missing"))
        assert info.value.status == 404


async def test_test_client_ws_connect_to_heron(aiohttp_client: Any) -> None:
    async def handler(request: heron_web.Request) -> WebSocketResponse:
        ws = WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                await ws.send_json({"echo": msg.data})
        return ws

    app = heron_web.Application()
    app.router.add_get("/ws", handler)
    client = await aiohttp_client(app)
    async with client.ws_connect("/ws") as ws:
        for text in ("one", "two"):
            await ws.send_str(text)
            assert await ws.receive_json() == {"echo": text}
        await ws.ping(b"are you there")
        await ws.send_str("three")
        assert (await ws.receive()).json() == {"echo": "three"}
    assert ws.closed and ws.close_code == 1000
    # A WebSocket left open is closed with the client.
    ws2 = await client.ws_connect("/ws")
    await client.close()
    assert ws2.closed


async def test_client_heartbeat_and_receive_timeout(aiohttp_url: str) -> None:
    async with (
        ClientSession() as session,
        session.ws_connect(aiohttp_url, heartbeat=0.05) as ws,
    ):
        # The server answers our pings; the connection stays up past several beats.
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=0.3)
        await ws.send_str("still")
        assert await ws.receive_str() == "STILL"


async def test_receive_after_the_peers_close_finishes_the_handshake(aiohttp_url: str) -> None:
    # autoclose=False: the peer's Close frame is returned as it is; the next receive()
    # answers it and says CLOSED (as aiohttp's client does), so the server is not left
    # waiting for the answer until its close timeout.
    async with ClientSession() as session:
        ws = await session.ws_connect(aiohttp_url, autoclose=False)
        await ws.send_str("close")
        msg = await ws.receive()
        assert (msg.type, msg.data) == (WSMsgType.CLOSE, 4002)
        assert not ws.closed
        msg = await asyncio.wait_for(ws.receive(), 5)
        assert msg.type is WSMsgType.CLOSED
        assert ws.closed and ws.close_code == 4002
        assert (await ws.receive()).type is WSMsgType.CLOSED


async def test_close_code_is_abnormal_when_the_answer_cannot_be_sent(aiohttp_client: Any) -> None:
    # The server closes without waiting for the answer (timeout=0) and drops the
    # connection: the client's answering Close frame cannot go out (1006, as aiohttp).
    async def handler(request: heron_web.Request) -> WebSocketResponse:
        ws = WebSocketResponse(timeout=0)
        await ws.prepare(request)
        await ws.close()
        return ws

    app = heron_web.Application()
    app.router.add_get("/ws", handler)
    client = await aiohttp_client(app)
    ws = await client.ws_connect("/ws")
    await asyncio.sleep(0.1)
    msg = await ws.receive()
    assert (msg.type, msg.data) == (WSMsgType.CLOSE, 1000)
    assert ws.close_code == 1006
    assert isinstance(ws.exception(), ConnectionResetError)
