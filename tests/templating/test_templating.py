"""heron.templating: aiohttp_jinja2's API on heron, tested over real sockets."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import jinja2
import pytest

from heron import templating, web

TEMPLATES = {
    "hello.html": "<p>Hello, {{ name }}!</p>",
    "plain.txt": "Hello, {{ name }}!",
    "ctx.html": "{{ request.path }}|{{ user }}|{{ theme }}",
    "links.html": "{{ url('item', id=7, query_={'q': 'a b'}) }} {{ static('css/site.css') }}",
    "async.html": "{{ fetch() }}",
    "filters.html": "{{ name|shout }}",
}


def make_app(**setup_kwargs: Any) -> web.Application:
    app = web.Application()
    setup_kwargs.setdefault("loader", jinja2.DictLoader(TEMPLATES))
    templating.setup(app, **setup_kwargs)
    return app


async def test_template_decorator_renders_the_returned_mapping(aiohttp_client: Any) -> None:
    @templating.template("hello.html")
    async def handler(request: web.Request) -> dict[str, str]:
        return {"name": request.match_info["name"]}

    app = make_app()
    app.router.add_get("/hello/{name}", handler)
    client = await aiohttp_client(app)
    resp = await client.get("/hello/heron")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert await resp.text() == "<p>Hello, heron!</p>"


async def test_template_decorator_status_and_encoding(aiohttp_client: Any) -> None:
    @templating.template("hello.html", status=201, encoding="latin-1")
    async def handler(request: web.Request) -> dict[str, str]:
        return {"name": "Zoë"}

    app = make_app()
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    resp = await client.get("/")
    assert resp.status == 201
    assert resp.headers["Content-Type"] == "text/html; charset=latin-1"
    assert await resp.read() == "<p>Hello, Zoë!</p>".encode("latin-1")


async def test_template_decorator_on_a_class_based_view(aiohttp_client: Any) -> None:
    class Hello(web.View):
        @templating.template("hello.html")
        async def get(self) -> dict[str, str]:
            return {"name": self.request.query.get("name", "view")}

    app = make_app()
    app.router.add_view("/", Hello)
    client = await aiohttp_client(app)
    resp = await client.get("/?name=cbv")
    assert resp.status == 200
    assert await resp.text() == "<p>Hello, cbv!</p>"


async def test_a_handler_returning_none_renders_with_an_empty_context(
    aiohttp_client: Any,
) -> None:
    @templating.template("hello.html")
    async def handler(request: web.Request) -> None:
        return None

    async def direct(request: web.Request) -> web.Response:
        return templating.render_template("hello.html", request, None)

    app = make_app()
    app.router.add_get("/", handler)
    app.router.add_get("/direct", direct)
    client = await aiohttp_client(app)
    for path in ("/", "/direct"):
        resp = await client.get(path)
        assert resp.status == 200
        assert await resp.text() == "<p>Hello, !</p>"


async def test_url_helper_takes_str_and_int_parts_only(aiohttp_client: Any) -> None:
    async def page(request: web.Request) -> web.Response:
        value = {"int": 7, "str": "x", "bool": True, "float": 1.5}[request.match_info["kind"]]
        return templating.render_template("part.html", request, {"value": value})

    app = make_app(loader=jinja2.DictLoader({"part.html": "{{ url('item', id=value) }}"}))
    app.router.add_get("/page/{kind}", page)
    app.router.add_get("/items/{id}", page, name="item")
    client = await aiohttp_client(app)
    for kind, url in (("int", "/items/7"), ("str", "/items/x")):
        resp = await client.get(f"/page/{kind}")
        assert (resp.status, await resp.text()) == (200, url)
    for kind in ("bool", "float"):  # a bug in the template, not a URL with "True" in it
        resp = await client.get(f"/page/{kind}")
        assert resp.status == 500


async def test_a_response_returned_by_the_handler_passes_through(aiohttp_client: Any) -> None:
    @templating.template("hello.html")
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(text="as is", status=202)

    app = make_app()
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    resp = await client.get("/")
    assert resp.status == 202
    assert await resp.text() == "as is"


async def test_render_template_and_render_string(aiohttp_client: Any) -> None:
    async def page(request: web.Request) -> web.Response:
        return templating.render_template("hello.html", request, {"name": "page"}, status=418)

    async def text(request: web.Request) -> web.Response:
        rendered = templating.render_string("plain.txt", request, {"name": "string"})
        assert isinstance(rendered, str)
        return web.Response(text=rendered.upper())

    app = make_app()
    app.router.add_get("/page", page)
    app.router.add_get("/text", text)
    client = await aiohttp_client(app)
    resp = await client.get("/page")
    assert resp.status == 418
    assert resp.content_type == "text/html"
    assert await resp.text() == "<p>Hello, page!</p>"
    resp = await client.get("/text")
    assert await resp.text() == "HELLO, STRING!"


async def test_context_processors(aiohttp_client: Any) -> None:
    async def user_processor(request: web.Request) -> dict[str, str]:
        return {"user": "ada", "theme": "dark"}

    @templating.template("ctx.html")
    async def handler(request: web.Request) -> dict[str, str]:
        return {"theme": "light"}  # the handler's context wins over the processors'

    app = make_app(context_processors=[templating.request_processor, user_processor])
    app.router.add_get("/some/path", handler)
    client = await aiohttp_client(app)
    resp = await client.get("/some/path")
    assert resp.status == 200
    assert await resp.text() == "/some/path|ada|light"


async def test_missing_template_is_a_500_with_a_logged_error(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    @templating.template("nope.html")
    async def handler(request: web.Request) -> dict[str, str]:
        return {}

    app = make_app()
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    with caplog.at_level(logging.ERROR, logger="heron.templating"):
        resp = await client.get("/")
        text = await resp.text()
    assert resp.status == 500
    assert "Template 'nope.html' not found" in text
    assert resp.reason == "Template 'nope.html' not found"  # on the status line, as well
    messages = [r.getMessage() for r in caplog.records if r.name == "heron.templating"]
    assert any("'nope.html' not found" in m and "GET /" in m for m in messages), messages


async def test_non_mapping_context_and_missing_setup_are_500s(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    @templating.template("hello.html")
    async def bad_context(request: web.Request) -> list[str]:
        return ["not", "a", "mapping"]

    app = make_app()
    app.router.add_get("/", bad_context)
    client = await aiohttp_client(app)
    with caplog.at_level(logging.ERROR, logger="heron.templating"):
        resp = await client.get("/")
        assert resp.status == 500
        assert "context should be mapping" in await resp.text()

    bare = web.Application()  # setup() never called
    bare.router.add_get("/", bad_context)
    client = await aiohttp_client(bare)
    with caplog.at_level(logging.ERROR, logger="heron.templating"):
        resp = await client.get("/")
        assert resp.status == 500
        assert "Template engine is not initialized" in await resp.text()
    assert len([r for r in caplog.records if r.name == "heron.templating"]) == 2


async def test_autoescape_is_on_for_html(aiohttp_client: Any) -> None:
    evil = "<script>alert('x')</script>"

    async def html(request: web.Request) -> web.Response:
        return templating.render_template("hello.html", request, {"name": evil})

    app = make_app()
    app.router.add_get("/", html)
    client = await aiohttp_client(app)
    text = await (await client.get("/")).text()
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in text

    # off only when asked for
    app = make_app(autoescape=False)
    app.router.add_get("/", html)
    client = await aiohttp_client(app)
    assert evil in await (await client.get("/")).text()


async def test_async_rendering(aiohttp_client: Any) -> None:
    async def fetch() -> str:
        await asyncio.sleep(0)  # a real suspension inside the template
        return "fetched"

    @templating.template("async.html")
    async def decorated(request: web.Request) -> dict[str, Any]:
        return {"fetch": fetch}

    async def explicit(request: web.Request) -> web.Response:
        return await templating.render_template_async("async.html", request, {"fetch": fetch})

    async def as_string(request: web.Request) -> web.Response:
        text = await templating.render_string_async("async.html", request, {"fetch": fetch})
        return web.Response(text=text + "!")

    app = make_app(enable_async=True)
    assert templating.get_env(app).is_async
    app.router.add_get("/decorated", decorated)
    app.router.add_get("/explicit", explicit)
    app.router.add_get("/string", as_string)
    client = await aiohttp_client(app)
    for path, expected in [
        ("/decorated", "fetched"),
        ("/explicit", "fetched"),
        ("/string", "fetched!"),
    ]:
        resp = await client.get(path)
        assert resp.status == 200, path
        assert await resp.text() == expected


async def test_url_and_static_helpers(aiohttp_client: Any, tmp_path: Path) -> None:
    async def links(request: web.Request) -> web.Response:
        return templating.render_template("links.html", request, {})

    async def item(request: web.Request) -> web.Response:
        return web.Response(text="item")

    # static() from the router's resource named "static"
    app = make_app()
    app.router.add_get("/", links)
    app.router.add_get("/items/{id}", item, name="item")
    app.router.add_static("/assets/", tmp_path, name="static")
    client = await aiohttp_client(app)
    assert await (await client.get("/")).text() == "/items/7?q=a+b /assets/css/site.css"

    # static() from app[static_root_key], as with aiohttp_jinja2
    app = make_app()
    app[templating.static_root_key] = "/cdn/"
    app.router.add_get("/", links)
    app.router.add_get("/items/{id}", item, name="item")
    client = await aiohttp_client(app)
    assert await (await client.get("/")).text() == "/items/7?q=a+b /cdn/css/site.css"


async def test_filters(aiohttp_client: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        return templating.render_template("filters.html", request, {"name": "heron"})

    app = make_app(filters={"shout": lambda value: f"{value.upper()}!"})
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    assert await (await client.get("/")).text() == "HERON!"


def test_setup_returns_the_environment_and_get_env_finds_it() -> None:
    app = web.Application()
    env = templating.setup(app, loader=jinja2.DictLoader(TEMPLATES))
    assert templating.get_env(app) is env
    assert app[templating.APP_KEY] is env
    assert env.autoescape is True
    assert {"url", "static", "app"} <= set(env.globals)
    other_key = web.AppKey("other", jinja2.Environment)
    other = templating.setup(app, app_key=other_key, loader=jinja2.DictLoader({}))
    assert templating.get_env(app, app_key=other_key) is other
    assert templating.get_env(app) is env


def test_template_needs_an_async_handler() -> None:
    def sync_handler(request: web.Request) -> dict[str, str]:
        return {}

    with pytest.raises(TypeError, match="async def"):
        templating.template("hello.html")(sync_handler)  # type: ignore[type-var]


def test_aiohttp_jinja2_names() -> None:
    """Code written for aiohttp_jinja2 finds the names it uses."""
    for name in (
        "setup",
        "get_env",
        "template",
        "render_template",
        "render_template_async",
        "render_string",
        "render_string_async",
        "request_processor",
        "context_processors_middleware",
        "APP_KEY",
        "APP_CONTEXT_PROCESSORS_KEY",
        "REQUEST_CONTEXT_KEY",
        "static_root_key",
    ):
        assert hasattr(templating, name), name
        assert name in templating.__all__
