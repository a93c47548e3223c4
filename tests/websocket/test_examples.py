"""The WebSocket examples of aiohttp's "Server Usage" and "FAQ" pages, run on heron.

The code is aiohttp's, with ``from aiohttp import web`` changed to heron's ``web``
and Redis replaced by an in-memory queue.  aiohttp's own client
drives them.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import defaultdict
from typing import Any

import aiohttp
from aiohttp import WSCloseCode

from heron import web

# ---------------------------------------------------------------------- Server Usage: WebSockets


async def websocket_handler(request: Any) -> Any:
    ws = web.WebSocketResponse()
    await ws.prepare(request)

    async for msg in ws:
        if msg.type == aiohttp.WSMsgType.TEXT:
            if msg.data == "close":
                await ws.close()
            else:
                await ws.send_str(msg.data + "/answer")
        elif msg.type == aiohttp.WSMsgType.ERROR:
            print("ws connection closed with exception %s" % ws.exception())  # noqa: UP031

    print("websocket connection closed")

    return ws


async def test_server_usage_websocket_handler(aiohttp_server: Any) -> None:
    app = web.Application()
    app.router.add_get("/ws", websocket_handler)
    server = await aiohttp_server(app)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(server.make_url("/ws")) as ws,
    ):
        await ws.send_str("hello")
        assert await ws.receive_str() == "hello/answer"
        await ws.send_str("close")
        msg = await ws.receive()
        assert msg.type == aiohttp.WSMsgType.CLOSE
        assert msg.data == WSCloseCode.OK


# ---------------------------------------------------------- Server Usage: graceful shutdown

websockets = web.AppKey("websockets", weakref.WeakSet)


async def shutdown_websocket_handler(request: Any) -> Any:
    ws = web.WebSocketResponse()
    await ws.prepare(request)

    request.app[websockets].add(ws)
    try:
        async for _msg in ws:
            ...
    finally:
        request.app[websockets].discard(ws)

    return ws


async def on_shutdown(app: Any) -> None:
    for ws in set(app[websockets]):
        await ws.close(code=WSCloseCode.GOING_AWAY, message="Server shutdown")


async def test_server_usage_graceful_shutdown(aiohttp_server: Any) -> None:
    app = web.Application()
    app[websockets] = weakref.WeakSet()
    app.on_shutdown.append(on_shutdown)
    app.router.add_get("/ws", shutdown_websocket_handler)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session:
        clients = [await session.ws_connect(server.make_url("/ws")) for _ in range(3)]
        await clients[0].send_str("ready?")  # processed in order: all three are registered
        closing = asyncio.ensure_future(server.close())
        for ws in clients:
            msg = await ws.receive()
            assert (msg.type, msg.data, msg.extra) == (
                aiohttp.WSMsgType.CLOSE,
                WSCloseCode.GOING_AWAY,
                "Server shutdown",
            )
        await asyncio.wait_for(closing, 10)
        assert not app[websockets]


# ---------------------------------------------------------------------- FAQ: parallel event sources

channel_key = web.AppKey("channel_key", asyncio.Queue)


async def read_subscription(ws: Any, channel: asyncio.Queue[str]) -> None:
    try:
        while True:
            msg = await channel.get()
            answer = msg.upper()  # process_the_message(msg)
            await ws.send_str(answer)
    finally:
        pass  # await redis.unsubscribe('channel:1')


async def parallel_handler(request: Any) -> Any:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    task = asyncio.create_task(read_subscription(ws, request.app[channel_key]))
    try:
        async for msg in ws:
            # handle incoming messages
            # use ws.send_str() to send data back
            await ws.send_str("got " + msg.data)
    finally:
        task.cancel()

    return ws


async def test_faq_one_task_reads_another_sends(aiohttp_server: Any) -> None:
    app = web.Application()
    app[channel_key] = asyncio.Queue()
    app.router.add_get("/", parallel_handler)
    server = await aiohttp_server(app)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(server.make_url("/")) as ws,
    ):
        await ws.send_str("from user")
        assert await ws.receive_str() == "got from user"
        app[channel_key].put_nowait("from pubsub")
        assert await ws.receive_str() == "FROM PUBSUB"


# ---------------------------------------------------------- FAQ: closing a user's sockets

websockets_key = web.AppKey("websockets_key", defaultdict)


def authenticate_user(request: Any) -> str:
    return request.query["user"]


async def echo_handler(request: Any) -> Any:
    ws = web.WebSocketResponse()
    user_id = authenticate_user(request)
    await ws.prepare(request)
    request.app[websockets_key][user_id].add(ws)
    try:
        async for msg in ws:
            await ws.send_str(msg.data)
    finally:
        request.app[websockets_key][user_id].remove(ws)

    return ws


async def logout_handler(request: Any) -> Any:
    user_id = authenticate_user(request)

    ws_closers = [ws.close() for ws in request.app[websockets_key][user_id] if not ws.closed]

    # Watch out, this will keep us from returning the response
    # until all are closed
    ws_closers and await asyncio.gather(*ws_closers)

    return web.Response(text="OK")


async def test_faq_close_all_of_a_users_sockets(aiohttp_server: Any) -> None:
    app = web.Application()
    app.router.add_route("GET", "/echo", echo_handler)
    app.router.add_route("POST", "/logout", logout_handler)
    app[websockets_key] = defaultdict(set)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session:
        alice = [await session.ws_connect(server.make_url("/echo?user=alice")) for _ in range(2)]
        bob = await session.ws_connect(server.make_url("/echo?user=bob"))
        for ws in (*alice, bob):
            await ws.send_str("hi")
            assert await ws.receive_str() == "hi"
        # The server closes each socket and waits for the client's answer: read concurrently.
        receives = [asyncio.ensure_future(ws.receive()) for ws in alice]
        async with session.post(server.make_url("/logout?user=alice")) as resp:
            assert await resp.text() == "OK"
        for fut in receives:
            msg = await fut
            assert msg.type == aiohttp.WSMsgType.CLOSE
        await bob.send_str("still here")
        assert await bob.receive_str() == "still here"
        await bob.close()
