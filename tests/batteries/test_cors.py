"""heron.cors over real sockets: aiohttp_cors's API, preflights, what its users found broken."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# The migration: aiohttp_cors code runs with only this import changed.
from heron import cors as aiohttp_cors
from heron import web
from heron.test_utils import TestClient

AiohttpClient = Callable[..., Any]
SITE = "http://client.example.org"
OTHER = "http://evil.example.com"


async def _hello(request: web.Request) -> web.Response:
    return web.Response(text="Hello!", headers={"X-Custom-Server-Header": "1", "X-Other": "2"})


def _preflight(method: str = "GET", origin: str = SITE, headers: str = "") -> dict[str, str]:
    out = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        out["Access-Control-Request-Headers"] = headers
    return out


async def _call(client: TestClient, method: str, path: str, **headers: str) -> tuple[Any, str]:
    async with client.request(method, path, headers=headers) as resp:
        return resp, await resp.text()


def _vary(resp: Any) -> set[str]:
    return {v.strip().lower() for h in resp.headers.getall("Vary", ()) for v in h.split(",")}


async def test_readme_basic_example(aiohttp_client: AiohttpClient) -> None:
    app = web.Application()
    cors = aiohttp_cors.setup(app)
    resource = cors.add(app.router.add_resource("/hello"))
    cors.add(
        resource.add_route("GET", _hello),
        {
            SITE: aiohttp_cors.ResourceOptions(
                allow_credentials=True,
                expose_headers=("X-Custom-Server-Header",),
                allow_headers=("X-Requested-With", "Content-Type"),
                max_age=3600,
            )
        },
    )
    client = await aiohttp_client(app)

    resp, _ = await _call(
        client, "OPTIONS", "/hello", **_preflight("GET", headers="X-Requested-With")
    )
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == SITE
    assert resp.headers["Access-Control-Allow-Credentials"] == "true"
    assert resp.headers["Access-Control-Allow-Methods"] == "GET"
    assert resp.headers["Access-Control-Allow-Headers"] == "x-requested-with"
    assert resp.headers["Access-Control-Max-Age"] == "3600"
    assert "origin" in _vary(resp)

    resp, text = await _call(client, "GET", "/hello", Origin=SITE)
    assert text == "Hello!"
    assert resp.headers["Access-Control-Allow-Origin"] == SITE
    assert resp.headers["Access-Control-Allow-Credentials"] == "true"
    assert resp.headers["Access-Control-Expose-Headers"] == "X-Custom-Server-Header"
    assert "origin" in _vary(resp)


async def test_defaults_example_never_sends_star_with_credentials(
    aiohttp_client: AiohttpClient,
) -> None:
    app = web.Application()
    app.router.add_get("/hello", _hello)
    app.router.add_post("/hello", _hello)
    cors = aiohttp_cors.setup(
        app,
        defaults={
            "*": aiohttp_cors.ResourceOptions(
                allow_credentials=True, expose_headers="*", allow_headers="*"
            )
        },
    )
    for route in list(app.router.routes()):
        cors.add(route)
    client = await aiohttp_client(app)

    headers = _preflight("POST", origin=OTHER, headers="Authorization, X-Token")
    resp, _ = await _call(client, "OPTIONS", "/hello", **headers)
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == OTHER
    assert resp.headers["Access-Control-Allow-Headers"] == "authorization,x-token"

    resp, _ = await _call(client, "GET", "/hello", Origin=OTHER)
    assert resp.headers["Access-Control-Allow-Origin"] == OTHER
    exposed = {h.strip() for h in resp.headers["Access-Control-Expose-Headers"].split(",")}
    assert exposed == {"X-Custom-Server-Header", "X-Other"}
    assert "*" not in resp.headers.values()


async def test_star_without_credentials(aiohttp_client: AiohttpClient) -> None:
    app = web.Application()
    app.router.add_get("/", _hello)
    options = aiohttp_cors.ResourceOptions(expose_headers="*")
    aiohttp_cors.setup(app, defaults={"*": options}, app_wide=True)
    client = await aiohttp_client(app)
    resp, _ = await _call(client, "GET", "/", Origin=OTHER)
    assert resp.headers["Access-Control-Allow-Origin"] == OTHER
    assert resp.headers["Access-Control-Expose-Headers"] == "*"
    assert "Access-Control-Allow-Credentials" not in resp.headers


async def test_preflight_never_reaches_handler_or_other_middlewares(
    aiohttp_client: AiohttpClient,
) -> None:
    calls: list[str] = []

    @web.middleware
    async def auth(request: web.Request, handler: Any) -> Any:
        calls.append("auth")
        if "Authorization" not in request.headers:
            raise web.HTTPUnauthorized()
        return await handler(request)

    async def anything(request: web.Request) -> web.Response:
        calls.append(request.method)
        return web.Response(text="own " + request.method)

    app = web.Application(middlewares=[auth])
    route = app.router.add_route("*", "/any", anything)
    aiohttp_cors.setup(app).add(route, {SITE: aiohttp_cors.ResourceOptions()})
    client = await aiohttp_client(app)

    resp, text = await _call(client, "OPTIONS", "/any", **_preflight("PUT"))
    assert (resp.status, text, calls) == (200, "", [])
    # An OPTIONS request that is not a preflight is the app's own business.
    resp, text = await _call(client, "OPTIONS", "/any", Authorization="x", Origin=SITE)
    assert (resp.status, text, calls) == (200, "own OPTIONS", ["auth", "OPTIONS"])
    assert resp.headers["Access-Control-Allow-Origin"] == SITE


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (_preflight("GET", origin=OTHER), "origin"),
        (_preflight("DELETE"), "not allowed"),
        (_preflight("PATCH"), "request method 'PATCH' is not allowed"),
        (_preflight("GET", headers="X-Allowed, X-Secret"), "headers are not allowed: X-SECRET"),
    ],
)
async def test_preflight_rejections(
    aiohttp_client: AiohttpClient, headers: dict[str, str], reason: str
) -> None:
    app = web.Application()
    app.router.add_get("/r", _hello)
    app.router.add_delete("/r", _hello)
    options = aiohttp_cors.ResourceOptions(allow_headers=["X-Allowed"], allow_methods=["GET"])
    aiohttp_cors.setup(app, defaults={SITE: options}, app_wide=True)
    client = await aiohttp_client(app)
    resp, text = await _call(client, "OPTIONS", "/r", **headers)
    assert resp.status == 403
    assert reason in text
    assert not any(h.lower().startswith("access-control-allow") for h in resp.headers)
    assert "origin" in _vary(resp)


async def test_actual_request_from_other_origin(aiohttp_client: AiohttpClient) -> None:
    app = web.Application()
    cors = aiohttp_cors.setup(app, defaults={SITE: aiohttp_cors.ResourceOptions()})
    cors.add(app.router.add_get("/on", _hello))
    app.router.add_get("/off", _hello)
    client = await aiohttp_client(app)

    resp, text = await _call(client, "GET", "/on", Origin=OTHER)
    assert text == "Hello!"  # the browser, not the server, withholds it
    assert "Access-Control-Allow-Origin" not in resp.headers
    assert _vary(resp) == {"origin"}
    resp, _ = await _call(client, "GET", "/on")  # same-origin: cacheable only per Origin
    assert _vary(resp) == {"origin"}
    resp, _ = await _call(client, "HEAD", "/on", Origin=SITE)  # GET's automatic HEAD route
    assert resp.headers["Access-Control-Allow-Origin"] == SITE
    resp, _ = await _call(client, "GET", "/off", Origin=SITE)
    assert "Access-Control-Allow-Origin" not in resp.headers
    assert "Vary" not in resp.headers
    resp, _ = await _call(client, "OPTIONS", "/off", **_preflight())
    assert resp.status == 405  # CORS is off there: routing answers


async def test_errors_streams_and_add_routes(aiohttp_client: AiohttpClient) -> None:
    routes = web.RouteTableDef()

    @routes.get("/missing")
    async def missing(request: web.Request) -> web.Response:
        raise web.HTTPNotFound()

    @routes.get("/stream")
    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"chunk")
        return response

    app = web.Application()
    cors = aiohttp_cors.setup(app, defaults={"*": aiohttp_cors.ResourceOptions()})
    for route in app.add_routes(routes):
        cors.add(route)
    client = await aiohttp_client(app)
    for path, status in (("/missing", 404), ("/stream", 200)):
        resp, _ = await _call(client, "GET", path, Origin=SITE)
        assert resp.status == status
        assert resp.headers["Access-Control-Allow-Origin"] == SITE


async def test_static_resource(aiohttp_client: AiohttpClient, tmp_path: Path) -> None:
    (tmp_path / "font.woff2").write_bytes(b"wOF2 font")
    app = web.Application()
    cors = aiohttp_cors.setup(app, defaults={SITE: aiohttp_cors.ResourceOptions(max_age=60)})
    cors.add(app.router.add_static("/static", tmp_path))
    client = await aiohttp_client(app)
    resp, _ = await _call(client, "GET", "/static/font.woff2", Origin=SITE)
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == SITE
    resp, _ = await _call(client, "OPTIONS", "/static/font.woff2", **_preflight())
    assert resp.status == 200
    assert resp.headers["Access-Control-Max-Age"] == "60"


async def test_class_based_views(aiohttp_client: AiohttpClient) -> None:
    class Items(web.View, aiohttp_cors.CorsViewMixin):
        cors_config = {SITE: aiohttp_cors.ResourceOptions(allow_headers="*")}

        async def get(self) -> web.Response:
            return web.Response(text="items")

        @aiohttp_cors.custom_cors({SITE: aiohttp_cors.ResourceOptions(allow_credentials=True)})
        async def post(self) -> web.Response:
            return web.Response(text="created")

    app = web.Application()
    aiohttp_cors.setup(app)
    app.router.add_view("/items", Items)  # the view's own config is enough
    client = await aiohttp_client(app)

    resp, _ = await _call(client, "OPTIONS", "/items", **_preflight("GET", headers="X-A"))
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Headers"] == "x-a"
    resp, _ = await _call(client, "OPTIONS", "/items", **_preflight("POST", headers="X-A"))
    assert resp.status == 403  # post's own options do not allow X-A
    resp, _ = await _call(client, "OPTIONS", "/items", **_preflight("DELETE"))
    assert resp.status == 403
    resp, _ = await _call(client, "POST", "/items", Origin=SITE)
    assert resp.headers["Access-Control-Allow-Credentials"] == "true"
    resp, _ = await _call(client, "GET", "/items", Origin=SITE)
    assert "Access-Control-Allow-Credentials" not in resp.headers


async def test_sub_applications(aiohttp_client: AiohttpClient) -> None:
    api = web.Application()
    api.router.add_get("/hello", _hello)
    admin = web.Application()
    admin.router.add_put("/hello", _hello)
    app = web.Application()
    app.add_subapp("/api", api)
    app.add_subapp("/admin", admin)
    cors = aiohttp_cors.setup(app, defaults={SITE: aiohttp_cors.ResourceOptions()})
    cors.add(api)  # every route of the sub-application, present and future
    client = await aiohttp_client(app)

    resp, _ = await _call(client, "OPTIONS", "/api/hello", **_preflight("GET"))
    assert resp.status == 200
    resp, _ = await _call(client, "GET", "/api/hello", Origin=SITE)
    assert resp.headers["Access-Control-Allow-Origin"] == SITE
    resp, _ = await _call(client, "OPTIONS", "/admin/hello", **_preflight("PUT"))
    assert resp.status == 405
    resp, _ = await _call(client, "PUT", "/admin/hello", Origin=SITE)
    assert "Access-Control-Allow-Origin" not in resp.headers


async def test_app_wide_reaches_sub_applications(aiohttp_client: AiohttpClient) -> None:
    api = web.Application()
    api.router.add_post("/items", _hello)
    app = web.Application()
    app.add_subapp("/api", api)
    aiohttp_cors.setup(app, defaults={SITE: aiohttp_cors.ResourceOptions()}, app_wide=True)
    client = await aiohttp_client(app)
    resp, _ = await _call(client, "OPTIONS", "/api/items", **_preflight("POST"))
    assert resp.status == 200
    resp, _ = await _call(client, "POST", "/api/items", Origin=SITE)
    assert resp.headers["Access-Control-Allow-Origin"] == SITE
    resp, _ = await _call(client, "OPTIONS", "/api/nothing", **_preflight("POST"))
    assert resp.status in (404, 405)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"allow_credentials": "yes"},
        {"max_age": -1},
        {"expose_headers": [1]},
        {"allow_headers": ["*", "X"]},
        {"allow_methods": "GET"},  # a lone name, not a list: refused as aiohttp_cors does
    ],
)
def test_options_are_checked(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        aiohttp_cors.ResourceOptions(**kwargs)


def test_options_are_normalised_as_aiohttp_cors_does() -> None:
    options = aiohttp_cors.ResourceOptions(
        allow_headers=["Content-Type"], expose_headers=("X-A",), allow_methods=["get", "Post"]
    )
    assert options.allow_headers == frozenset({"CONTENT-TYPE"})
    assert options.expose_headers == frozenset({"X-A"})
    assert options.allow_methods == frozenset({"GET", "POST"})
    assert aiohttp_cors.ResourceOptions(allow_methods=[]).allow_methods == frozenset()
    assert aiohttp_cors.ResourceOptions() == aiohttp_cors.ResourceOptions()


def test_origins_are_checked() -> None:
    app = web.Application()
    with pytest.warns(aiohttp_cors.OriginWarning, match="'https://www.example.com'"):
        aiohttp_cors.setup(app, defaults={"www.example.com": aiohttp_cors.ResourceOptions()})
    with pytest.raises(ValueError, match="no path"):
        aiohttp_cors.setup(app, defaults={"https://example.com/": aiohttp_cors.ResourceOptions()})
    cors = aiohttp_cors.setup(app)
    with pytest.raises(TypeError):
        cors.add(app.router.add_get("/", _hello), {"*": "everything"})
    with pytest.raises(TypeError):
        cors.add("/a/path")


async def test_options_requests_that_are_not_preflights(aiohttp_client: AiohttpClient) -> None:
    async def own_options(request: web.Request) -> web.Response:
        return web.Response(text="own OPTIONS")

    app = web.Application()
    cors = aiohttp_cors.setup(app, defaults={SITE: aiohttp_cors.ResourceOptions()})
    cors.add(app.router.add_get("/plain", _hello))
    resource = app.router.add_resource("/owned")
    resource.add_route("GET", _hello)
    resource.add_route("OPTIONS", own_options)
    cors.add(resource)  # allowed: the handler keeps the OPTIONS requests that are not preflights
    client = await aiohttp_client(app)

    resp, text = await _call(client, "OPTIONS", "/plain")
    assert (resp.status, text) == (
        403,
        "CORS preflight request failed: origin header is not specified in the request",
    )
    resp, text = await _call(client, "OPTIONS", "/plain", Origin=SITE)
    assert resp.status == 403 and "'Access-Control-Request-Method' header" in text
    assert not any(h.lower().startswith("access-control-allow") for h in resp.headers)
    resp, text = await _call(client, "OPTIONS", "/owned", Origin=SITE)
    assert (resp.status, text) == (200, "own OPTIONS")
    resp, text = await _call(client, "OPTIONS", "/owned", **_preflight("GET"))
    assert (resp.status, text) == (200, "")
    assert resp.headers["Access-Control-Allow-Origin"] == SITE


async def test_route_options_cover_the_resource_and_allow_methods_opens_unserved_ones(
    aiohttp_client: AiohttpClient,
) -> None:
    app = web.Application()
    cors = aiohttp_cors.setup(app)
    cors.add(app.router.add_get("/r", _hello), {SITE: aiohttp_cors.ResourceOptions()})
    app.router.add_put("/r", _hello)  # no add(): its resource has CORS through the GET route
    cors.add(
        app.router.add_get("/any", _hello),
        {SITE: aiohttp_cors.ResourceOptions(allow_methods="*")},
    )
    client = await aiohttp_client(app)

    resp, _ = await _call(client, "PUT", "/r", Origin=SITE)
    assert resp.headers["Access-Control-Allow-Origin"] == SITE
    resp, text = await _call(client, "OPTIONS", "/r", **_preflight("POST"))
    assert resp.status == 403
    assert f"request method 'POST' is not allowed for '{SITE}' origin" in text
    resp, _ = await _call(client, "OPTIONS", "/any", **_preflight("DELETE"))
    assert resp.status == 200  # allow_methods names it, though no route serves it
    assert resp.headers["Access-Control-Allow-Methods"] == "DELETE"


async def test_aiohttp_cors_view_api(aiohttp_client: AiohttpClient) -> None:
    class Items(web.View, aiohttp_cors.CorsViewMixin):
        cors_config = {SITE: aiohttp_cors.ResourceOptions(max_age=5)}

        async def get(self) -> web.Response:
            return web.Response(text="items")

    class Bare(web.View):
        async def get(self) -> web.Response:
            return web.Response(text="bare")

    app = web.Application()
    cors = aiohttp_cors.setup(app, defaults={OTHER: aiohttp_cors.ResourceOptions()})
    assert app[aiohttp_cors.APP_CONFIG_KEY] is cors
    with pytest.warns(DeprecationWarning, match="webview"):
        cors.add(app.router.add_view("/items", Items), webview=True)
    with pytest.raises(ValueError, match="CorsViewMixin"):
        cors.add(app.router.add_view("/bare", Bare))
    client = await aiohttp_client(app)

    # get_request_config: the method's own options, the view's, then the app's defaults.
    config = Items.get_request_config(_request_for(app), "GET")
    assert set(config) == {SITE, OTHER} and config[SITE].max_age == 5
    with pytest.raises(KeyError):
        Items.get_request_config(_request_for(app), "DELETE")
    # An OPTIONS request that is not a preflight reaches the view's options(): refused.
    resp, text = await _call(client, "OPTIONS", "/items", Origin=SITE)
    assert resp.status == 403 and "'Access-Control-Request-Method' header" in text
    resp, _ = await _call(client, "OPTIONS", "/items", **_preflight("GET"))
    assert (resp.status, resp.headers["Access-Control-Max-Age"]) == (200, "5")


def _request_for(app: web.Application) -> web.Request:
    from heron.test_utils import make_mocked_request

    return make_mocked_request("OPTIONS", "/items", app=app)
