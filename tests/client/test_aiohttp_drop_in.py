"""What a suite or a plugin written for aiohttp reaches for, on heron's test kit and server.

aiohttp's client errors catch heron's client errors; the test client's cookie jar keeps
Domain and Path as aiohttp's does; the test server cancels a handler whose client went
away, as aiohttp's test server does; ``aiohttp.web.AppKey`` keys an application without a
warning; ``request.protocol`` has the attributes of aiohttp's ``RequestHandler``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import warnings
from typing import Any

import pytest

from heron import web
from heron.client import exceptions as heron_errors
from heron.client.ws import WSServerHandshakeError
from heron.pytest_plugin import AiohttpClient, AiohttpServer

aiohttp = pytest.importorskip("aiohttp")


def test_every_client_error_is_also_aiohttps() -> None:
    names = [
        name
        for name in heron_errors.__all__
        if isinstance(getattr(heron_errors, name), type)
        and issubclass(getattr(heron_errors, name), BaseException)
    ]
    assert len(names) > 20
    for name in names:
        assert issubclass(getattr(heron_errors, name), getattr(aiohttp, name)), name
    assert issubclass(WSServerHandshakeError, aiohttp.WSServerHandshakeError)
    # ...and stays what it was: builtin bases and heron's own hierarchy.
    assert issubclass(heron_errors.ClientOSError, OSError)
    assert issubclass(heron_errors.ServerTimeoutError, asyncio.TimeoutError)
    assert issubclass(heron_errors.ClientConnectorError, heron_errors.ClientConnectionError)
    error = heron_errors.ServerDisconnectedError()
    assert (str(error), error.message) == ("Server disconnected", "Server disconnected")


def _app() -> web.Application:
    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]))

    async def hang_up(request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    app = web.Application()
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/hang-up", hang_up)
    return app


async def test_a_suite_catches_aiohttps_errors(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(_app())
    resp = await client.get("/status/418")
    with pytest.raises(aiohttp.ClientResponseError) as info:
        resp.raise_for_status()
    assert info.value.status == 418
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await client.ws_connect("/status/200")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.get("/hang-up")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(aiohttp.ClientConnectorError):
        await client.session.get(f"http://127.0.0.1:{port}/")


def _cookie_app() -> web.Application:
    async def set_cookies(request: web.Request) -> web.Response:
        resp = web.Response()
        resp.set_cookie("root", "1")
        resp.set_cookie("api", "2", path="/api")
        resp.set_cookie("api_slash", "3", path="/api/")
        resp.set_cookie("other_host", "4", domain="example.com")
        resp.set_cookie("gone", "5", max_age=0)
        return resp

    async def echo(request: web.Request) -> web.Response:
        return web.json_response(dict(request.cookies))

    app = web.Application()
    app.router.add_get("/set", set_cookies)
    app.router.add_get("/{tail:.*}", echo)
    return app


async def test_cookie_domain_and_path_as_aiohttps_jar(aiohttp_server: AiohttpServer) -> None:
    """heron's test client and aiohttp's send the same cookies to the same heron server."""
    from heron.test_utils import TestClient

    server = await aiohttp_server(_cookie_app())
    paths = ["/", "/api", "/api/", "/api/v1", "/apix", "/other"]
    seen: dict[str, list[Any]] = {"heron": [], "aiohttp": []}
    # aiohttp's session with the jar aiohttp's TestClient makes, against the same server.
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        await (await session.get(server.make_url("/set"))).read()
        for path in paths:
            seen["aiohttp"].append(await (await session.get(server.make_url(path))).json())
    # heron's test client last: leaving it closes the server.
    async with TestClient(server) as client:
        await client.get("/set")
        for path in paths:
            seen["heron"].append(await (await client.get(path)).json())
    assert seen["heron"] == seen["aiohttp"]
    assert seen["heron"][0] == {"root": "1"}
    assert seen["heron"][3] == {"root": "1", "api": "2", "api_slash": "3"}
    assert seen["heron"][4] == {"root": "1"}


async def test_test_server_cancels_handler_of_a_gone_client(
    aiohttp_client: AiohttpClient,
) -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return web.Response()

    app = web.Application()
    app.router.add_get("/", slow)
    client = await aiohttp_client(app)
    request = asyncio.ensure_future(client.get("/"))
    await asyncio.wait_for(started.wait(), 5)
    request.cancel()  # the client drops the connection
    with pytest.raises(asyncio.CancelledError):
        await request
    await asyncio.wait_for(cancelled.wait(), 5)


def test_aiohttp_app_key_is_an_app_key() -> None:
    key = aiohttp.web.AppKey("plugin_state", dict)
    app = web.Application()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        app[key] = {"ready": True}
    assert app[key] == {"ready": True}
    with pytest.warns(web.NotAppKeyWarning):
        app["plain"] = 1


async def test_protocol_has_request_handler_attributes(aiohttp_client: AiohttpClient) -> None:
    seen: dict[str, Any] = {}
    logger = logging.getLogger("test.protocol")

    async def handler(request: web.Request) -> web.Response:
        protocol: Any = request.protocol
        seen.update(
            logger=protocol.logger,
            peername=protocol.peername,
            sockname=protocol.sockname,
            ssl_context=protocol.ssl_context,
            keepalive_timeout=protocol.keepalive_timeout,
        )
        protocol.log_debug("debug from %s", "a plugin")
        protocol.keep_alive(False)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", handler)
    client = await aiohttp_client(app, server_kwargs={"logger": logger})
    resp = await client.get("/")
    assert await resp.text() == "ok"
    assert seen["logger"] is logger
    assert seen["peername"][0] == "127.0.0.1"
    assert seen["sockname"][1] == client.port
    assert seen["ssl_context"] is None
    assert seen["keepalive_timeout"] == 75.0
