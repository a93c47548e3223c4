from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest
from conftest import OPENED
from notes_app import create_app

from heron import web


async def test_add_then_list(client):
    resp = await client.post("/notes", json={"text": "buy milk"})
    assert resp.status == 201
    assert await resp.json() == {"id": 1, "text": "buy milk"}
    resp = await client.get("/notes")
    assert await resp.json() == [{"id": 1, "text": "buy milk"}]


async def test_database_is_shared_by_the_module(client, database):
    # Set up once for this module, on the loop its tests run on: the note of the
    # previous test is still there, and the pool's queue works on this loop.
    assert OPENED[-1] is database
    resp = await client.get("/notes/1")
    assert await resp.json() == {"id": 1, "text": "buy milk"}
    async with database.acquire() as connection:
        assert connection.startswith("connection-")


async def test_bad_status_raises_aiohttps_error(client):
    resp = await client.get("/notes/99")
    assert resp.status == 404
    with pytest.raises(aiohttp.ClientResponseError) as info:
        resp.raise_for_status()
    assert info.value.status == 404


async def test_raise_for_status_on_the_client(aiohttp_client, database):
    client = await aiohttp_client(create_app(database), raise_for_status=True)
    with pytest.raises(aiohttp.ClientResponseError) as info:
        await client.post("/notes", json={"text": "  "})
    assert info.value.status == 400


async def test_websocket(client):
    ws = await client.ws_connect("/ws")
    await ws.send_str("hello")
    msg = await ws.receive()
    assert msg.type == aiohttp.WSMsgType.TEXT
    assert msg.data == "HELLO"
    await ws.close()


async def test_websocket_refused(client):
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await client.ws_connect("/notes")


async def test_nobody_listening(client):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(aiohttp.ClientConnectionError):
        await client.session.get(f"http://127.0.0.1:{port}/")


async def test_server_hangs_up(aiohttp_raw_server, aiohttp_client):
    async def handler(request):
        request.transport.close()
        return web.Response(text="never sent")

    client = await aiohttp_client(await aiohttp_raw_server(handler))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.get("/")


async def test_cookies_keep_their_path_and_domain(client):
    resp = await client.post("/login")
    assert resp.status == 200
    resp = await client.get("/whoami")
    assert await resp.json() == {"theme": "dark"}
    resp = await client.get("/notes/whoami")
    assert await resp.json() == {"session": "alice", "theme": "dark"}


async def test_raw_server(aiohttp_raw_server, aiohttp_client):
    async def handler(request):
        return web.Response(text=f"raw {request.method} {request.path}")

    client = await aiohttp_client(await aiohttp_raw_server(handler))
    resp = await client.get("/anything")
    assert await resp.text() == "raw GET /anything"


async def test_runs_on_a_running_loop():
    await asyncio.sleep(0)
    assert asyncio.get_running_loop().is_running()


def test_a_plain_test_still_runs():
    assert OPENED
