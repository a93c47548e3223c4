"""Application features: life cycle, typed keys, freezing, handler_args, client_max_size,
middleware chains and normalize_path_middleware."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest

from heron import web

# Exported as web.normalize_path_middleware once the lead adds it to heron/web.py.
from heron._web.middlewares import normalize_path_middleware

events_key = web.AppKey("events", list)


async def ok(request: web.Request) -> web.Response:
    return web.Response(text="ok " + request.path)


async def test_cleanup_ctx_generators_and_context_managers(aiohttp_client: Any) -> None:
    events: list[str] = []

    async def gen_ctx(app: web.Application) -> AsyncIterator[None]:
        events.append("gen enter")
        yield
        events.append("gen exit")

    @contextlib.asynccontextmanager
    async def cm_ctx(app: web.Application) -> AsyncIterator[None]:
        events.append("cm enter")
        try:
            yield
        finally:
            events.append("cm exit")

    app = web.Application()
    app.cleanup_ctx.append(gen_ctx)
    app.cleanup_ctx.append(cm_ctx)
    app.router.add_get("/", ok)
    client = await aiohttp_client(app)
    assert events == ["gen enter", "cm enter"]
    await client.close()
    assert events == ["gen enter", "cm enter", "cm exit", "gen exit"]


async def test_app_keys_and_not_app_key_warning() -> None:
    app = web.Application()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        app[events_key] = []
    with pytest.warns(web.NotAppKeyWarning):
        app["plain"] = 1
    # As aiohttp: the name is prefixed with the module that created the key.
    assert repr(events_key) == f"<AppKey({__name__}.events, type=list)>"
    request_key = web.RequestKey("user", str)
    response_key = web.ResponseKey("timing", float)
    assert "RequestKey" in repr(request_key) and "ResponseKey" in repr(response_key)


async def test_typed_request_and_response_keys(aiohttp_client: Any) -> None:
    user_key = web.RequestKey("user", str)
    timing_key = web.ResponseKey("timing", str)

    @web.middleware
    async def mw(request: web.Request, handler: Any) -> web.StreamResponse:
        request[user_key] = "ann"
        response: web.StreamResponse = await handler(request)
        response.headers["X-Timing"] = response[timing_key]
        return response

    async def handler(request: web.Request) -> web.Response:
        response = web.Response(text=request[user_key])
        response[timing_key] = "fast"
        return response

    app = web.Application(middlewares=[mw])
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    async with client.get("/") as resp:
        assert await resp.text() == "ann" and resp.headers["X-Timing"] == "fast"


async def test_frozen_application_refuses_changes(aiohttp_client: Any) -> None:
    app = web.Application()
    app.router.add_get("/", ok)
    await aiohttp_client(app)
    assert app.frozen
    with pytest.raises(RuntimeError):
        app.router.add_get("/late", ok)
    with pytest.raises(RuntimeError):
        app.middlewares.append(normalize_path_middleware())
    with pytest.raises(RuntimeError):
        app.on_startup.append(ok)
    with pytest.warns(DeprecationWarning, match="Changing state"):
        app[events_key] = []


async def _status_with_a_200_byte_field(server: Any) -> int:
    """The status a request with one 200-byte header field gets from ``server``."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200 + b"\r\n\r\n")
        status_line = await asyncio.wait_for(reader.readline(), 10)
        return int(status_line.split()[1])
    finally:
        writer.close()


async def test_handler_args_reach_the_server(aiohttp_server: Any) -> None:
    app = web.Application(handler_args={"max_field_size": 100})
    app.router.add_get("/", ok)
    server = await aiohttp_server(app)
    assert await _status_with_a_200_byte_field(server) == 431


async def test_client_max_size(aiohttp_client: Any) -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    app = web.Application(client_max_size=10)
    app.router.add_post("/", echo)
    client = await aiohttp_client(app)
    async with client.post("/", data=b"x" * 10) as resp:
        assert await resp.read() == b"x" * 10
    async with client.post("/", data=b"x" * 11) as resp:
        assert resp.status == 413


async def test_on_response_prepare_fires_for_every_prepared_response(aiohttp_client: Any) -> None:
    prepared: list[tuple[str, int]] = []

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        prepared.append((request.path, response.status))

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"a")
        return response

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("boom")

    async def teapot(request: web.Request) -> web.Response:
        raise web.HTTPBadRequest()

    app = web.Application()
    app.on_response_prepare.append(on_prepare)
    app.router.add_get("/", ok)
    app.router.add_get("/stream", stream)
    app.router.add_get("/boom", boom)
    app.router.add_get("/bad", teapot)
    client = await aiohttp_client(app)
    for path in ("/", "/stream", "/bad", "/missing"):
        async with client.get(path) as resp:
            await resp.read()
    assert prepared == [("/", 200), ("/stream", 200), ("/bad", 400), ("/missing", 404)]


async def test_middleware_chain_is_built_once_per_route(aiohttp_client: Any) -> None:
    wraps: list[Any] = []

    @web.middleware
    async def mw(request: web.Request, handler: Any) -> web.StreamResponse:
        wraps.append(handler)
        return await handler(request)  # type: ignore[no-any-return]

    async def other(request: web.Request) -> web.Response:
        return web.Response(text="other")

    app = web.Application(middlewares=[mw])
    app.router.add_get("/a", ok)
    app.router.add_get("/b/{x}", other)
    client = await aiohttp_client(app)
    for path in ("/a", "/a", "/b/1", "/b/2", "/nope", "/nope"):
        async with client.get(path) as resp:
            await resp.read()
    # The handler a middleware receives is the same object on every request of a route.
    assert wraps[0] is wraps[1]
    assert wraps[2] is wraps[3]
    assert wraps[4] is wraps[5]
    assert wraps[0] is not wraps[2]


async def test_old_style_and_new_style_mixed_in_aiohttp_order(aiohttp_client: Any) -> None:
    order: list[str] = []

    async def old(app: web.Application, handler: Any) -> Any:
        async def impl(request: web.Request) -> web.StreamResponse:
            order.append("old")
            return await handler(request)  # type: ignore[no-any-return]

        return impl

    @web.middleware
    async def new(request: web.Request, handler: Any) -> web.StreamResponse:
        order.append("new")
        return await handler(request)  # type: ignore[no-any-return]

    app = web.Application(middlewares=[new, old, new])
    app.router.add_get("/", ok)
    with pytest.warns(DeprecationWarning, match="old-style middleware"):
        client = await aiohttp_client(app)
    async with client.get("/") as resp:
        assert resp.status == 200
    assert order == ["new", "old", "new"]


async def test_expect_handler_per_route(aiohttp_server: Any) -> None:
    async def refuse(request: web.Request) -> web.StreamResponse:
        return web.Response(status=413, text="too big for you")

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    app = web.Application()
    app.router.add_post("/refuse", echo, expect_handler=refuse)
    app.router.add_post("/default", echo)
    server = await aiohttp_server(app)

    async def first_line(path: str) -> bytes:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        try:
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                "Expect: 100-continue\r\n\r\n".encode()
            )
            return await asyncio.wait_for(reader.readline(), 10)
        finally:
            writer.close()

    assert (await first_line("/refuse")).startswith(b"HTTP/1.1 413")
    assert (await first_line("/default")).startswith(b"HTTP/1.1 100 Continue")


# -- normalize_path_middleware -------------------------------------------------------------


async def raw_get(server: Any, target: str) -> tuple[int, dict[str, str]]:
    """GET ``target`` verbatim (the test client refuses ``//host`` paths): status, headers."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    finally:
        writer.close()
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines if line)
    return int(status_line.split()[1]), headers


@pytest.fixture
async def normalized(aiohttp_server: Any) -> Any:
    app = web.Application(middlewares=[normalize_path_middleware()])
    app.router.add_get("/a/", ok)
    app.router.add_get("/b", ok)
    app.router.add_get("/evil.test/", ok)
    app.router.add_get("/{anything:.*}/x/", ok)
    return await aiohttp_server(app)


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/a", "/a/"),
        ("/a?x=1", "/a/?x=1"),
        ("//a", "/a/"),
        ("/a//", "/a/"),
        ("//b", "/b"),
        ("/b//", None),  # removing slashes is not enabled
        ("/c", None),
    ],
)
async def test_normalize_path(normalized: Any, path: str, location: str | None) -> None:
    status, headers = await raw_get(normalized, path)
    if location is None:
        assert status == 404
    else:
        assert status == 308
        assert headers["Location"] == location


@pytest.mark.parametrize(
    "path", ["//evil.test", "///evil.test", "/\\evil.test", "//evil.test/x", "/\\/evil.test"]
)
async def test_normalize_path_never_redirects_off_site(normalized: Any, path: str) -> None:
    """CVE-2021-21330: no Location that a browser reads as another host."""
    status, headers = await raw_get(normalized, path)
    location = headers.get("Location", "/")
    assert status in (308, 404)
    assert not location.startswith("//") and not location.startswith("/\\"), location


async def test_normalize_path_remove_slash(aiohttp_server: Any) -> None:
    app = web.Application(
        middlewares=[
            normalize_path_middleware(
                append_slash=False, remove_slash=True, redirect_class=web.HTTPFound
            )
        ]
    )
    app.router.add_get("/b", ok)
    app.router.add_get("/", ok)
    server = await aiohttp_server(app)
    status, headers = await raw_get(server, "/b/")
    assert status == 302 and headers["Location"] == "/b"
    status, headers = await raw_get(server, "//b//")
    assert status == 302 and headers["Location"] == "/b"
    assert (await raw_get(server, "/"))[0] == 200
    with pytest.raises(ValueError):
        normalize_path_middleware(append_slash=True, remove_slash=True)
    with pytest.raises(AssertionError):  # aiohttp refuses the pair with an assert
        normalize_path_middleware(append_slash=True, remove_slash=True)


async def test_unknown_handler_args_are_ignored_with_a_warning(
    aiohttp_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp serves on when handler_args holds a name it does not know: so does heron,
    keeping the names it knows."""
    app = web.Application(handler_args={"max_field_size": 100, "no_such_setting": 5})
    app.router.add_get("/", ok)
    with caplog.at_level(logging.WARNING, logger="aiohttp.server"):
        server = await aiohttp_server(app)
    assert [r.getMessage() for r in caplog.records if r.name == "aiohttp.server"] == [
        "Ignoring unknown request handler arguments: no_such_setting"
    ]
    assert await _status_with_a_200_byte_field(server) == 431
