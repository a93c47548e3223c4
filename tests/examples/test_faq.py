"""aiohttp's FAQ, example by example, served by heron over a real socket.

The code is the FAQ's, with ``from aiohttp import web`` changed to ``from heron import web``
(and the database or Redis replaced by an in-memory stand-in).  WebSocket answers are
tested with the WebSocket work (issue 6).
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import zlib
from typing import Any

import pytest

from heron import web
from heron.web import Application


class DB:
    """An in-memory stand-in for the FAQ's database connection."""

    def __init__(self) -> None:
        self.pongs = 0

    async def cursor(self) -> DB:
        return self

    async def execute(self, query: str) -> int:
        await asyncio.sleep(0)
        return 42


async def create_connection(user: str, password: str) -> DB:
    return DB()


db_key = web.AppKey("db_key", DB)

# -- Are there plans for an @app.route decorator like in Flask? ---------------------------


async def test_route_table_def(aiohttp_client: Any) -> None:
    routes = web.RouteTableDef()

    @routes.get("/get")
    async def handle_get(request: web.Request) -> web.Response:
        return web.Response(text="get")

    @routes.post("/post")
    async def handle_post(request: web.Request) -> web.Response:
        return web.Response(text="post")

    app = web.Application()
    app.router.add_routes(routes)
    client = await aiohttp_client(app)
    async with client.get("/get") as resp:
        assert await resp.text() == "get"
    async with client.post("/post") as resp:
        assert await resp.text() == "post"


# -- How do I create a route that matches urls with a given prefix? -------------------------


async def test_prefix_route(aiohttp_client: Any) -> None:
    async def sink_handler(request: web.Request) -> web.Response:
        return web.Response(text=f"{request.method} {request.match_info['tail']}")

    app = web.Application()
    app.router.add_route("*", "/path/to/{tail:.+}", sink_handler)
    client = await aiohttp_client(app)
    async with client.options("/path/to/a/b/c") as resp:
        assert await resp.text() == "OPTIONS a/b/c"
    async with client.post("/path/to/x") as resp:
        assert await resp.text() == "POST x"
    async with client.get("/path/to/") as resp:
        assert resp.status == 404


# -- Where do I put my database connection so handlers can access it? ----------------------


async def go(request: web.Request) -> web.Response:
    db = request.app[db_key]
    cursor = await db.cursor()
    await cursor.execute("SELECT 42")
    # ...
    return web.Response(status=200, text="ok")


async def init_app(loop: asyncio.AbstractEventLoop) -> Application:
    app = Application(loop=loop)
    db = await create_connection(user="user", password="123")
    app[db_key] = db
    app.router.add_get("/", go)
    return app


async def test_database_in_app(aiohttp_client: Any) -> None:
    with pytest.warns(DeprecationWarning, match="loop argument is deprecated"):
        app = await init_app(asyncio.get_running_loop())
    client = await aiohttp_client(app)
    async with client.get("/") as resp:
        assert await resp.text() == "ok"


# -- How can middleware store data for web handlers to use? ----------------------------------


async def test_middleware_stores_data_in_request(aiohttp_client: Any) -> None:
    @web.middleware
    async def session_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        request["unique_key"] = "session-of-" + request.headers.get("X-User", "nobody")
        return await handler(request)  # type: ignore[no-any-return]

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=request["unique_key"])

    app = web.Application(middlewares=[session_middleware])
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    async with client.get("/", headers={"X-User": "ann"}) as resp:
        assert await resp.text() == "session-of-ann"


async def test_responses_are_dict_like(aiohttp_client: Any) -> None:
    @web.middleware
    async def mw(request: web.Request, handler: Any) -> web.StreamResponse:
        response = await handler(request)
        response.headers["X-Tag"] = response["tag"]
        return response  # type: ignore[no-any-return]

    async def handler(request: web.Request) -> web.Response:
        response = web.Response(text="x")
        response["tag"] = "tagged"
        return response

    app = web.Application(middlewares=[mw])
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    async with client.get("/") as resp:
        assert resp.headers["X-Tag"] == "tagged"


# -- How do I enable gzip compression globally for my entire application? -------------------


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
async def test_compression_middleware(aiohttp_client: Any, coding: str) -> None:
    @web.middleware
    async def compress(request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        response.enable_compression()
        return response

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="squeeze me " * 100)

    app = web.Application(middlewares=[compress])
    app.router.add_get("/", handler)
    client = await aiohttp_client(app, auto_decompress=False)
    async with client.get("/", headers={"Accept-Encoding": coding}) as resp:
        assert resp.headers["Content-Encoding"] == coding
        assert "Accept-Encoding" in resp.headers["Vary"]
        raw = await resp.read()
    data = gzip.decompress(raw) if coding == "gzip" else zlib.decompress(raw)
    assert data == b"squeeze me " * 100
    async with client.get("/", headers={"Accept-Encoding": "identity"}) as resp:
        assert "Content-Encoding" not in resp.headers
        assert await resp.read() == b"squeeze me " * 100


# -- How do I access database connections from a subapplication? ----------------------------


async def test_share_db_with_subapp(aiohttp_client: Any) -> None:
    async def sub_handler(request: web.Request) -> web.Response:
        return web.Response(text=str(await (await request.app[db_key].cursor()).execute("x")))

    mainapp = web.Application()
    mainapp[db_key] = DB()
    subapp = web.Application()
    subapp.router.add_get("/q", sub_handler)
    subapp[db_key] = mainapp[db_key]
    mainapp.add_subapp("/prefix", subapp)
    client = await aiohttp_client(mainapp)
    async with client.get("/prefix/q") as resp:
        assert await resp.text() == "42"


# -- How do I perform operations in a request handler after sending the response? -----------


async def test_work_after_write_eof(aiohttp_client: Any) -> None:
    counted = asyncio.Event()

    async def ping_handler(request: web.Request) -> web.Response:
        """Send PONG and increase DB counter."""

        # explicitly send the response
        resp = web.json_response({"message": "PONG"})
        await resp.prepare(request)
        await resp.write_eof()

        # increase the pong count
        await asyncio.sleep(0)
        request.app[db_key].pongs += 1
        counted.set()

        return resp

    app = web.Application()
    app[db_key] = DB()
    app.router.add_get("/ping", ping_handler)
    client = await aiohttp_client(app)
    async with client.get("/ping") as resp:
        assert await resp.json() == {"message": "PONG"}
    await asyncio.wait_for(counted.wait(), 10)
    assert app[db_key].pongs == 1
    # The connection is still good for the next request.
    async with client.get("/ping") as resp:
        assert await resp.json() == {"message": "PONG"}


async def test_client_sees_response_before_handler_finishes(aiohttp_client: Any) -> None:
    release = asyncio.Event()
    finished = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        resp = web.Response(text="early")
        await resp.prepare(request)
        await resp.write_eof()
        await release.wait()
        finished.set()
        return resp

    app = web.Application()
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    async with client.get("/") as resp:
        assert await resp.text() == "early"
    assert not finished.is_set()
    release.set()
    await asyncio.wait_for(finished.wait(), 10)


# -- How do I make sure my custom middleware response will behave correctly? ------------------


async def test_reused_response_is_a_clear_error_not_a_hang(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def misbehaved_middleware() -> Any:
        # don't do this!
        cached = web.Response(status=200, text="Hi, I am cached!")

        @web.middleware
        async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
            # ignoring response for the sake of this example
            _res = await handler(request)
            return cached

        return middleware

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="fresh")

    app = web.Application(middlewares=[misbehaved_middleware()])
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    async with client.get("/") as resp:
        assert await resp.text() == "Hi, I am cached!"
    with caplog.at_level(logging.ERROR):
        async with client.get("/") as resp:
            # heron answers 500 at once instead of hanging; the log says why.
            assert resp.status == 500
            assert "Traceback" not in await resp.text()
    assert "already used for another request" in caplog.text
