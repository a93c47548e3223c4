"""aiohttp 3.x's deprecated Application API still works, with aiohttp's warnings:
``Application(router=...)``, ``app.loop``, ``app.make_handler()``; plus AppKey reprs and
sorting, and cleanup contexts that get cancelled."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from heron import web

module_key = web.AppKey("module_key", int)


async def test_router_argument_is_deprecated_but_used(aiohttp_client: Any) -> None:
    router = web.UrlDispatcher()

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="custom router")

    router.add_get("/", handler)
    with pytest.warns(DeprecationWarning, match="router argument is deprecated"):
        app = web.Application(router=router)
    assert app.router is router
    client = await aiohttp_client(app)
    async with client.get("/") as resp:
        assert await resp.text() == "custom router"


async def test_loop_property_is_deprecated_and_set_by_the_runner() -> None:
    seen: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.Response:
        with pytest.warns(DeprecationWarning, match="loop property is deprecated"):
            seen["app"] = request.app.loop
        with pytest.warns(DeprecationWarning):
            seen["sub"] = request.match_info.apps[-1].loop
        return web.Response()

    app = web.Application()
    sub = web.Application()
    sub.router.add_get("/", handler)
    app.add_subapp("/sub", sub)
    with pytest.warns(DeprecationWarning):
        assert app.loop is None  # not started yet
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{site.port}/sub/") as resp,
        ):
            assert resp.status == 200
    finally:
        await runner.cleanup()
    loop = asyncio.get_running_loop()
    assert seen == {"app": loop, "sub": loop}


async def test_app_bound_to_another_loop_cannot_run() -> None:
    other = asyncio.new_event_loop()
    try:
        with pytest.warns(DeprecationWarning, match="loop argument is deprecated"):
            app = web.Application(loop=other)
        runner = web.AppRunner(app)
        with pytest.raises(RuntimeError, match="different loop"):
            await runner.setup()
    finally:
        other.close()


async def test_make_handler_is_deprecated_and_serves_the_app() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="via make_handler")

    app = web.Application(handler_args={"keepalive_timeout": 5})
    app.router.add_get("/", handler)
    with pytest.warns(DeprecationWarning, match="make_handler"):
        factory = app.make_handler()
    assert app.frozen
    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/") as resp,
        ):
            assert await resp.text() == "via make_handler"
    finally:
        server.close()
        await factory.shutdown(1.0)
        await server.wait_closed()


def test_make_handler_checks_access_log_class() -> None:
    app = web.Application()
    with (
        pytest.warns(DeprecationWarning),
        pytest.raises(TypeError, match="access_log_class"),
    ):
        app.make_handler(access_log_class=object)  # type: ignore[arg-type]


def test_app_key_repr_names_the_module_and_the_type() -> None:
    assert repr(module_key) == f"<AppKey({__name__}.module_key, type=int)>"
    annotated = web.AppKey[Iterator[int]]("annotated")
    assert repr(annotated).endswith(".annotated, type=collections.abc.Iterator[int])>")
    assert repr(web.AppKey("untyped")).endswith(".untyped, type=<<Unknown>>)>")


def test_state_with_str_and_app_keys_sorts() -> None:
    app = web.Application()
    b = web.AppKey("b", str)
    c = web.AppKey("c", str)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        app["z"] = 0
        app[c] = "c"
        app["a"] = 1
        app[b] = "b"
    assert sorted(app) == [b, c, "a", "z"]
    assert sorted(app, reverse=True) == ["z", "a", c, b]


async def test_cancelled_cleanup_context_does_not_stop_the_others() -> None:
    closed: list[str] = []

    def ctx(name: str, fail: bool) -> Any:
        async def gen(app: web.Application) -> AsyncIterator[None]:
            yield
            closed.append(name)
            if fail:
                raise asyncio.CancelledError(name)

        return gen

    app = web.Application()
    app.cleanup_ctx.append(ctx("first", fail=True))
    app.cleanup_ctx.append(ctx("second", fail=False))
    app.cleanup_ctx.append(ctx("third", fail=True))
    runner = web.AppRunner(app)
    await runner.setup()
    with pytest.raises(web.CleanupError) as info:
        await runner.cleanup()
    assert closed == ["third", "second", "first"]
    assert [str(e) for e in info.value.exceptions] == ["third", "first"]
