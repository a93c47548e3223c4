"""heron.test_utils and the pytest plugin's fixtures, against heron's own server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from heron._web.app import Application
from heron._web.request import BaseRequest, Request
from heron._web.response import Response, StreamResponse, json_response
from heron.pytest_plugin import AiohttpClient, AiohttpRawServer, AiohttpServer
from heron.test_utils import (
    AioHTTPTestCase,
    RawTestServer,
    TestClient,
    TestServer,
    loop_context,
    make_mocked_coro,
    unused_port,
)


def make_app() -> Application:
    async def hello(request: Request) -> Response:
        return json_response({"path": request.path, "body": await request.text()})

    async def login(request: Request) -> Response:
        resp = Response(text="in")
        resp.set_cookie("session", "s3cret")
        return resp

    async def whoami(request: Request) -> Response:
        return Response(text=request.cookies.get("session", "anonymous"))

    app = Application()
    app.router.add_get("/", hello)
    app.router.add_post("/echo", hello)
    app.router.add_get("/login", login)
    app.router.add_get("/whoami", whoami)
    return app


async def test_test_client_and_server() -> None:
    server = TestServer(make_app())
    assert not server.started
    async with TestClient(server) as client:
        assert server.started
        assert client.server is server
        assert client.app is server.app
        assert client.host == "127.0.0.1"
        assert isinstance(client.port, int)
        assert client.make_url("/x") == server.make_url("/x")
        assert str(client.make_url("/x")) == f"http://127.0.0.1:{client.port}/x"
        resp = await client.get("/")
        assert resp.status == 200
        assert await resp.json() == {"path": "/", "body": ""}
        async with client.post("/echo", data="payload") as resp:
            assert (await resp.json())["body"] == "payload"
        async with client.request("GET", "/missing") as resp:
            assert resp.status == 404
        # The test client keeps cookies for 127.0.0.1 (unsafe jar).
        await (await client.get("/login")).read()
        assert await (await client.get("/whoami")).text() == "s3cret"
    assert server.closed
    assert client.session.closed
    await client.close()  # idempotent


async def test_raw_test_server() -> None:
    async def handler(request: BaseRequest) -> StreamResponse:
        return Response(text=f"raw {request.method} {request.path}")

    async with RawTestServer(handler) as server, TestClient(server) as client:
        resp = await client.delete("/thing")
        assert await resp.text() == "raw DELETE /thing"
        assert client.app is None


async def test_test_server_cannot_be_used_synchronously() -> None:
    server = TestServer(make_app())
    with pytest.raises(TypeError), server:
        pass


async def test_fixture_aiohttp_client(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(make_app())
    resp = await client.get("/")
    assert resp.status == 200


async def test_fixture_servers(
    aiohttp_server: AiohttpServer,
    aiohttp_raw_server: AiohttpRawServer,
    aiohttp_client: AiohttpClient,
    aiohttp_unused_port: Any,
) -> None:
    port = aiohttp_unused_port()
    server = await aiohttp_server(make_app(), port=port)
    assert server.port == port
    client = await aiohttp_client(server)
    assert (await client.get("/")).status == 200

    async def handler(request: BaseRequest) -> StreamResponse:
        return Response(text="low level")

    raw = await aiohttp_raw_server(handler)
    raw_client = await aiohttp_client(raw)
    assert await (await raw_client.get("/")).text() == "low level"
    with pytest.raises(ValueError):
        await aiohttp_client(object())


async def test_runs_on_the_loop_fixture(loop: asyncio.AbstractEventLoop) -> None:
    assert asyncio.get_running_loop() is loop


@pytest.fixture
async def coroutine_fixture(loop: asyncio.AbstractEventLoop) -> int:
    await asyncio.sleep(0)
    return 42


async def test_async_fixture(coroutine_fixture: int) -> None:
    assert coroutine_fixture == 42


def test_make_mocked_coro() -> None:
    async def run() -> None:
        coro = make_mocked_coro(5)
        assert await coro(1, x=2) == 5
        coro.assert_called_with(1, x=2)
        failing = make_mocked_coro(raise_exception=KeyError("k"))
        with pytest.raises(KeyError):
            await failing()

    with loop_context() as loop:
        loop.run_until_complete(run())
    assert isinstance(unused_port(), int)


class TestCaseStyle(AioHTTPTestCase):
    async def get_application(self) -> Application:
        return make_app()

    async def test_get(self) -> None:
        resp = await self.client.get("/")
        self.assertEqual(resp.status, 200)
        self.assertIs(self.loop, asyncio.get_running_loop())
