"""Sub-applications by prefix and by domain: routing, url_for, current_app, config_dict."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from yarl import URL

from heron import web
from heron._web.domain import Domain, MaskDomain, MatchedSubAppResource

name_key = web.AppKey("name", str)
shared_key = web.AppKey("shared", str)


def named_app(name: str, **kwargs: Any) -> web.Application:
    app = web.Application(**kwargs)
    app[name_key] = name
    return app


async def who(request: web.Request) -> web.Response:
    return web.Response(text=f"{request.app[name_key]}:{request.match_info.route.name}")


async def get(client: Any, path: str, host: str | None = None) -> tuple[int, str]:
    headers = {"Host": host} if host else {}
    async with client.get(path, headers=headers) as resp:
        return resp.status, await resp.text()


async def test_add_domain_exact_and_mask(aiohttp_client: Any) -> None:
    app = named_app("main")
    app.router.add_get("/", who, name="main-index")
    exact = named_app("exact")
    exact.router.add_get("/", who, name="exact-index")
    exact.router.add_get("/only-exact", who, name="only")
    masked = named_app("masked")
    masked.router.add_get("/", who, name="masked-index")
    with_port = named_app("port")
    with_port.router.add_get("/", who, name="port-index")
    res = app.add_domain("example.com", exact)
    assert isinstance(res, MatchedSubAppResource)
    app.add_domain("*.example.com", masked)
    app.add_domain("ported.test:8443", with_port)
    client = await aiohttp_client(app)

    assert await get(client, "/", "example.com") == (200, "exact:exact-index")
    assert await get(client, "/", "EXAMPLE.com:8080") == (200, "exact:exact-index")
    assert await get(client, "/only-exact", "example.com") == (200, "exact:only")
    assert await get(client, "/", "api.example.com") == (200, "masked:masked-index")
    assert await get(client, "/", "a.b.example.com") == (200, "masked:masked-index")
    # The domain's app answers for its host, 404 included: no fallback to the parent.
    assert (await get(client, "/only-exact", "api.example.com"))[0] == 404
    assert await get(client, "/", "ported.test:8443") == (200, "port:port-index")
    # Not the domain: the parent's routes.
    assert await get(client, "/", "ported.test:9000") == (200, "main:main-index")
    assert await get(client, "/", "example.com.evil.test") == (200, "main:main-index")
    assert await get(client, "/", "notexample.com") == (200, "main:main-index")
    assert await get(client, "/", "localhost") == (200, "main:main-index")


def test_domain_rules() -> None:
    assert Domain("Example.COM.").canonical == "example.com"
    assert Domain("example.com:80").canonical == "example.com"
    assert Domain("example.com:8080").canonical == "example.com:8080"
    for bad in ("", "http://example.com", "exa mple.com", "-a.com", "a..com"):
        with pytest.raises(ValueError):
            Domain(bad)
    with pytest.raises(TypeError):
        Domain(42)  # type: ignore[arg-type]
    mask = MaskDomain("*.example.com")
    assert mask.match_domain("x.example.com")
    assert mask.match_domain("x.y.example.com:1234")
    assert not mask.match_domain("example.com")
    assert not mask.match_domain(".example.com")
    assert not mask.match_domain("x.example.com.evil")
    assert not mask.match_domain("xexample.com")
    ported = MaskDomain("*.example.com:81")
    assert ported.match_domain("a.example.com:81")
    assert not ported.match_domain("a.example.com:82")


async def test_domain_rule_answers_before_paths_and_via_async_resolve() -> None:
    app = web.Application()
    app.router.add_get("/", who)
    sub = named_app("sub")
    sub.router.add_get("/", who, name="sub-index")
    app.add_domain("example.com", sub)
    app.freeze()
    # The compiled synchronous resolver is used, and agrees with the async one.
    assert app.router.sync_resolver() is not None


async def test_custom_rule_is_resolved_asynchronously(aiohttp_client: Any) -> None:
    class HeaderRule(Domain):
        async def match(self, request: Any) -> bool:
            await asyncio.sleep(0)
            return request.headers.get("X-Tenant") == "blue"

    app = named_app("main")
    app.router.add_get("/", who, name="main")
    blue = named_app("blue")
    blue.router.add_get("/", who, name="blue")
    app.router.register_resource(MatchedSubAppResource(HeaderRule("blue.test"), blue))
    client = await aiohttp_client(app)
    async with client.get("/", headers={"X-Tenant": "blue"}) as resp:
        assert await resp.text() == "blue:blue"
    async with client.get("/") as resp:
        assert await resp.text() == "main:main"


async def test_subapp_url_for_current_app_and_config_dict(aiohttp_client: Any) -> None:
    seen: list[tuple[str, str]] = []

    def tracing(label: str) -> Any:
        @web.middleware
        async def mw(request: web.Request, handler: Any) -> web.StreamResponse:
            seen.append((label, request.app[name_key]))
            response = await handler(request)
            seen.append((label + " after", request.app[name_key]))
            return response  # type: ignore[no-any-return]

        return mw

    async def deep_handler(request: web.Request) -> web.Response:
        assert request.match_info.current_app is request.app
        apps = [a[name_key] for a in request.match_info.apps]
        return web.json_response(
            {
                "app": request.app[name_key],
                "apps": apps,
                "shared": request.config_dict[shared_key],
                "name": request.config_dict[name_key],
                "url": str(request.app.router["deep"].url_for(x="7")),
            }
        )

    root = named_app("root", middlewares=[tracing("root")])
    root[shared_key] = "from root"
    middle = named_app("middle")  # no middlewares of its own
    leaf = named_app("leaf", middlewares=[tracing("leaf")])
    leaf.router.add_get("/deep/{x}", deep_handler, name="deep")
    middle.add_subapp("/middle", leaf)
    root.add_subapp("/root/", middle)
    client = await aiohttp_client(root)
    async with client.get("/root/middle/deep/7") as resp:
        assert await resp.json() == {
            "app": "leaf",
            "apps": ["root", "middle", "leaf"],
            "shared": "from root",
            "name": "leaf",
            "url": "/root/middle/deep/7",
        }
    assert seen == [
        ("root", "root"),
        ("leaf", "leaf"),
        ("leaf after", "leaf"),
        ("root after", "root"),
    ]
    assert leaf.router["deep"].url_for(x="a b") == URL("/root/middle/deep/a%20b")


async def test_subapp_404_and_405_go_through_its_middlewares(aiohttp_client: Any) -> None:
    seen: list[str] = []

    @web.middleware
    async def sub_mw(request: web.Request, handler: Any) -> web.StreamResponse:
        seen.append(request.app[name_key])
        return await handler(request)  # type: ignore[no-any-return]

    app = named_app("main")
    sub = named_app("sub", middlewares=[sub_mw])
    sub.router.add_post("/x", who)
    app.add_subapp("/sub", sub)
    client = await aiohttp_client(app)
    async with client.get("/sub/x") as resp:
        assert resp.status == 405 and resp.headers["Allow"] == "POST"
    async with client.get("/sub/nothing") as resp:
        assert resp.status == 404
    async with client.get("/elsewhere") as resp:
        assert resp.status == 404
    assert seen == ["sub", "sub"]


def test_subapp_registration_rules() -> None:
    app = web.Application()
    sub = web.Application()
    with pytest.raises(ValueError):
        app.add_subapp("/", sub)
    with pytest.raises(TypeError):
        app.add_subapp(b"/x", sub)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        app.add_domain(123, sub)  # type: ignore[arg-type]
    frozen = web.Application()
    frozen.freeze()
    with pytest.raises(RuntimeError, match="frozen"):
        app.add_subapp("/f", frozen)
    app.freeze()
    with pytest.raises(RuntimeError, match="frozen"):
        app.add_subapp("/late", web.Application())
    with pytest.raises(RuntimeError):
        app.router.add_get("/late", who)
