"""A custom router (``Application(router=...)`` with any ``AbstractRouter``) serves
requests; middlewares of every application see the route handler's attributes; the
old-style middleware warning has aiohttp's text."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from heron import abc, web
from heron.web import Request, StreamResponse

Handler = Callable[[Request], Awaitable[StreamResponse]]


class _RefusingRouter(abc.AbstractRouter):
    """Resolves nothing: every request is answered by the exception it raises."""

    async def resolve(self, request: Any) -> Any:
        raise web.HTTPPreconditionFailed()


class _DelegatingRouter(abc.AbstractRouter):
    """A router of its own that hands resolution to a ``UrlDispatcher`` it holds."""

    def __init__(self, inner: web.UrlDispatcher) -> None:
        super().__init__()
        self.inner = inner
        self.resolved = 0

    def freeze(self) -> None:
        super().freeze()
        self.inner.freeze()

    async def resolve(self, request: Any) -> Any:
        self.resolved += 1
        return await self.inner.resolve(request)


async def test_router_whose_resolve_raises(aiohttp_client: Any) -> None:
    with pytest.warns(DeprecationWarning, match="router argument"):
        app = web.Application(router=_RefusingRouter())  # type: ignore[arg-type]
    client = await aiohttp_client(app)
    async with client.get("/anything") as resp:
        assert resp.status == 412


async def test_router_without_heron_extensions_resolves(aiohttp_client: Any) -> None:
    seen: list[str] = []

    @web.middleware
    async def mw(request: Request, handler: Handler) -> StreamResponse:
        seen.append(request.path)
        return await handler(request)

    async def hello(request: Request) -> web.Response:
        return web.Response(text=f"hello {request.match_info['name']}")

    inner = web.UrlDispatcher()
    inner.add_get("/hello/{name}", hello)
    router = _DelegatingRouter(inner)
    with pytest.warns(DeprecationWarning, match="router argument"):
        app = web.Application(router=router, middlewares=[mw])  # type: ignore[arg-type]
    client = await aiohttp_client(app)
    async with client.get("/hello/bob") as resp:
        assert await resp.text() == "hello bob"
    async with client.get("/nope") as resp:
        assert resp.status == 404
    assert router.resolved == 2
    assert seen == ["/hello/bob", "/nope"]


async def test_outer_app_middlewares_see_sub_app_handler_attributes(
    aiohttp_client: Any,
) -> None:
    seen: list[tuple[str, str | None]] = []

    def marking(label: str) -> Any:
        @web.middleware
        async def mw(request: Request, handler: Handler) -> StreamResponse:
            seen.append((label, getattr(handler, "needs_auth", None)))
            return await handler(request)

        return mw

    async def private(request: Request) -> web.Response:
        return web.Response(text="private")

    private.needs_auth = "admin"  # type: ignore[attr-defined]

    async def public(request: Request) -> web.Response:
        return web.Response(text="public")

    root = web.Application(middlewares=[marking("root")])
    root.router.add_get("/public", public)
    middle = web.Application()  # no middlewares of its own
    leaf = web.Application(middlewares=[marking("leaf")])
    leaf.router.add_get("/private", private)
    middle.add_subapp("/leaf", leaf)
    root.add_subapp("/middle", middle)
    client = await aiohttp_client(root)

    async with client.get("/middle/leaf/private") as resp:
        assert await resp.text() == "private"
    assert seen == [("root", "admin"), ("leaf", "admin")]
    seen.clear()
    async with client.get("/public") as resp:
        assert await resp.text() == "public"
    assert seen == [("root", None)]


def test_old_style_middleware_warning_text() -> None:
    async def factory(app: web.Application, handler: Handler) -> Handler:
        return handler

    app = web.Application(middlewares=[factory])
    with pytest.warns(DeprecationWarning) as record:
        app.freeze()
    message = str(record[0].message)
    assert re.fullmatch(
        r'old-style middleware "<function .*factory at 0x[0-9a-f]+>" '
        r"deprecated, see #2252",
        message,
    )
