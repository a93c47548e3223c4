"""Route definitions (RouteTableDef, web.get & co) and class-based views."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from heron._web import routedef as web
from heron._web.exceptions import HTTPMethodNotAllowed
from heron._web.urldispatcher import UrlDispatcher, View

from .conftest import StandInRequest

Req = Callable[[str, str], StandInRequest]


async def handler(request: Any) -> str:
    return "ok"


def test_route_table_decorators(req: Req) -> None:
    routes = web.RouteTableDef()

    @routes.get("/g", name="g")
    async def g(request: Any) -> str:
        return "g"

    @routes.post("/p")
    async def p(request: Any) -> str:
        return "p"

    @routes.route("PURGE", "/purge")
    async def purge(request: Any) -> str:
        return "purge"

    for deco in (routes.put, routes.patch, routes.delete, routes.head, routes.options):
        deco("/m")(handler)

    assert len(routes) == 8
    assert routes[0].method == "GET"  # type: ignore[attr-defined]
    assert isinstance(routes[1:3], list)
    assert repr(routes) == "<RouteTableDef count=8>"
    assert repr(routes[0]) == "<RouteDef GET /g -> 'g', name='g'>"
    router = UrlDispatcher()
    registered = router.add_routes(routes)
    assert [r.method for r in registered] == [
        "GET", "POST", "PURGE", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
    ]  # fmt: skip
    assert router.resolve_sync(req("HEAD", "/g")).handler is g  # HEAD added for GET
    assert router.resolve_sync(req("PURGE", "/purge")).handler is purge
    assert router["g"].url_for().path == "/g"


def test_free_functions(req: Req) -> None:
    router = UrlDispatcher()
    router.add_routes(
        [
            web.get("/a", handler, allow_head=False),
            web.post("/a", handler),
            web.put("/a", handler),
            web.patch("/a", handler),
            web.delete("/a", handler),
            web.options("/a", handler),
            web.head("/h", handler),
            web.route("*", "/any", handler),
        ]
    )
    exc = router.resolve_sync(req("HEAD", "/a")).http_exception
    assert isinstance(exc, HTTPMethodNotAllowed)
    assert exc.allowed_methods == {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
    assert router.resolve_sync(req("FOO", "/any")).http_exception is None


def test_static_def_calls_add_static() -> None:
    calls: list[tuple[Any, ...]] = []

    class Resource:
        def get_info(self) -> dict[str, Any]:
            return {"routes": {"GET": "get-route", "HEAD": "head-route"}}

    class Router:
        def add_static(self, prefix: str, path: str, **kwargs: Any) -> Resource:
            calls.append((prefix, path, kwargs))
            return Resource()

    sd = web.static("/s", "/tmp", show_index=True)
    assert repr(sd) == "<StaticDef /s -> /tmp, show_index=True>"
    assert sd.register(Router()) == ["get-route", "head-route"]  # type: ignore[arg-type]
    assert calls == [("/s", "/tmp", {"show_index": True})]
    table = web.RouteTableDef()
    table.static("/s", "/tmp")
    assert isinstance(table[0], web.StaticDef)


class Items(View):
    async def get(self) -> str:
        return "get " + self.request.method

    async def post(self) -> str:
        return "post"


def test_view_dispatch(req: Req) -> None:
    router = UrlDispatcher()
    router.add_routes([web.view("/items", Items)])
    for method, expected in (("GET", "get GET"), ("POST", "post")):
        request = req(method, "/items")
        mi = router.resolve_sync(request)
        assert mi.handler is Items
        assert asyncio.run(_await(mi.handler(request))) == expected


async def _await(awaitable: Any) -> Any:
    return await awaitable


@pytest.mark.parametrize("method", ["DELETE", "BREW"])
def test_view_405(req: Req, method: str) -> None:
    router = UrlDispatcher()
    router.add_view("/items", Items)
    request = req(method, "/items")
    with pytest.raises(HTTPMethodNotAllowed) as info:
        asyncio.run(_await(router.resolve_sync(request).handler(request)))
    assert info.value.allowed_methods == {"GET", "POST"}
    assert info.value.headers["Allow"] == "GET,POST"


def test_view_decorator(req: Req) -> None:
    routes = web.RouteTableDef()

    @routes.view("/v")
    class V(View):
        async def put(self) -> str:
            return "put"

    router = UrlDispatcher()
    router.add_routes(routes)
    request = req("PUT", "/v")
    assert asyncio.run(_await(router.resolve_sync(request).handler(request))) == "put"
