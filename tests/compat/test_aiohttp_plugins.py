"""Plugins written against aiohttp.web, on heron applications (docs/compat-plugins.md).

Each test switches ``heron.compat.aiohttp`` on (aiohttp's server-side names point at
heron's), imports the plugin, sets it up on a heron application and sends real requests
through heron's test client.  A plugin that is not installed is skipped.  The switch is
undone after each test, so the rest of the suite sees aiohttp's own objects.
"""

# No ``from __future__ import annotations``: aiohttp-pydantic reads the handlers' annotations
# at run time, and the models are local classes.
import importlib
import itertools
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from heron import web
from heron.pytest_plugin import AiohttpClient

pytest.importorskip("aiohttp")
# The plugins' own deprecations (old apispec, marshmallow...) and str state keys, as on aiohttp.
pytestmark = [
    pytest.mark.filterwarnings(
        "ignore::DeprecationWarning", "ignore::heron._web.state.NotAppKeyWarning"
    ),
    pytest.mark.usefixtures("aiohttp_is_heron"),
]
_names = itertools.count()


@pytest.fixture
def aiohttp_is_heron() -> Iterator[ModuleType]:
    # Imported here, not at the top: importing it switches, and collection imports every
    # test module before the first test runs.
    compat = importlib.import_module("heron.compat.aiohttp")
    compat.install()
    try:
        yield compat
    finally:
        compat.uninstall()


def _plugin(name: str) -> ModuleType:
    """Import a plugin (after the switch), or skip: not installed, or broken on its own."""
    try:
        return importlib.import_module(name)
    except Exception as exc:  # e.g. aiohttp-apispec's apispec against marshmallow 4
        pytest.skip(f"{name} cannot be imported here: {exc!r}")


def test_switch_points_aiohttps_names_at_herons(aiohttp_is_heron: ModuleType) -> None:
    import aiohttp.web
    import aiohttp.web_exceptions

    assert aiohttp.web.Request is web.Request
    assert aiohttp.web_exceptions.HTTPBadRequest is web.HTTPBadRequest
    assert aiohttp.web.json_response is web.json_response
    aiohttp_is_heron.uninstall()
    assert aiohttp.web.Request is not web.Request
    assert not aiohttp_is_heron.installed()


async def test_aiohttp_remotes(aiohttp_client: AiohttpClient) -> None:
    remotes = _plugin("aiohttp_remotes")

    async def handler(request: web.Request) -> web.Response:
        return web.json_response([request.remote, request.scheme, request.host])

    app = web.Application()
    app.router.add_get("/", handler)
    await remotes.setup(app, remotes.XForwardedRelaxed(), remotes.AllowedHosts({"example.com"}))
    client = await aiohttp_client(app)
    headers = {"X-Forwarded-For": "10.0.0.1", "X-Forwarded-Proto": "https", "Host": "example.com"}
    resp = await client.get("/", headers=headers)
    assert await resp.json() == ["10.0.0.1", "https", "example.com"]
    resp = await client.get("/", headers={"Host": "evil.example"})
    assert resp.status == 400  # the plugin raised web.HTTPBadRequest: heron's, so a 400


async def test_aiohttp_pydantic(aiohttp_client: AiohttpClient) -> None:
    aiohttp_pydantic = _plugin("aiohttp_pydantic")
    oas = _plugin("aiohttp_pydantic.oas")
    pydantic = _plugin("pydantic")

    class Article(pydantic.BaseModel):  # type: ignore[name-defined,misc]
        name: str
        pages: int | None = None

    class ArticleView(aiohttp_pydantic.PydanticView):  # type: ignore[name-defined,misc]
        async def post(self, article: Article) -> web.Response:
            return web.json_response({"name": article.name, "pages": article.pages})

        async def get(self, with_comments: bool = False) -> web.Response:
            return web.json_response({"with_comments": with_comments})

    app = web.Application()
    app.router.add_view("/article", ArticleView)
    oas.setup(app)
    client = await aiohttp_client(app)
    resp = await client.get("/article", params={"with_comments": "yes"})
    assert await resp.json() == {"with_comments": True}
    resp = await client.post("/article", json={"name": "heron", "pages": 3})
    assert await resp.json() == {"name": "heron", "pages": 3}
    resp = await client.post("/article", json={"pages": "many"})
    assert resp.status == 400
    assert {error["loc"][0] for error in await resp.json()} == {"name", "pages"}
    resp = await client.get("/oas/spec")
    assert "/article" in (await resp.json())["paths"]


async def test_aiohttp_swagger(aiohttp_client: AiohttpClient) -> None:
    swagger = _plugin("aiohttp_swagger")

    async def ping(request: web.Request) -> web.Response:
        """
        ---
        description: Is the service up?
        responses:
            "200":
                description: pong
        """
        return web.Response(text="pong")

    app = web.Application()
    app.router.add_get("/ping", ping)
    with pytest.warns(web.NotAppKeyWarning):  # the plugin keys app state with str, as on aiohttp
        swagger.setup_swagger(app, swagger_url="/doc", ui_version=3)
    client = await aiohttp_client(app)
    spec = await (await client.get("/doc/swagger.json")).json()
    assert spec["paths"]["/ping"]["get"]["description"] == "Is the service up?"
    resp = await client.get("/doc/")
    assert resp.status == 200 and "swagger" in (await resp.text()).lower()
    resp = await client.get("/doc/swagger_static/swagger-ui.css")
    assert resp.status == 200 and len(await resp.read()) > 1000


async def test_prometheus_async(aiohttp_client: AiohttpClient) -> None:
    aio = _plugin("prometheus_async.aio")
    aio_web = _plugin("prometheus_async.aio.web")
    prometheus_client = _plugin("prometheus_client")
    suffix = next(_names)
    seconds = prometheus_client.Histogram(f"heron_test_seconds_{suffix}", "handler time")
    errors = prometheus_client.Counter(f"heron_test_errors_{suffix}", "handler errors")

    @aio.count_exceptions(errors)
    @aio.time(seconds)
    async def hello(request: web.Request) -> web.Response:
        if "fail" in request.query:
            raise web.HTTPBadRequest()
        return web.Response(text="hi")

    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/metrics", aio_web.server_stats)
    client = await aiohttp_client(app)
    assert (await client.get("/")).status == 200
    assert (await client.get("/?fail")).status == 400
    resp = await client.get("/metrics")
    assert resp.content_type == "text/plain"
    text = await resp.text()
    assert f"heron_test_seconds_{suffix}_count 2.0" in text
    assert f"heron_test_errors_{suffix}_total 1.0" in text


async def test_opentelemetry_server_instrumentation(aiohttp_client: AiohttpClient) -> None:
    otel = _plugin("opentelemetry.instrumentation.aiohttp_server")
    sdk_trace = _plugin("opentelemetry.sdk.trace")
    export = _plugin("opentelemetry.sdk.trace.export")
    in_memory = _plugin("opentelemetry.sdk.trace.export.in_memory_span_exporter")
    exporter = in_memory.InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    instrumentor = otel.AioHttpServerInstrumentor()
    instrumentor.instrument(tracer_provider=provider)  # also sets up its meters
    try:

        async def hello(request: web.Request) -> web.Response:
            if request.match_info["name"] == "down":
                raise web.HTTPServiceUnavailable()
            return web.Response(text="hi")

        middleware = otel.create_aiohttp_middleware(tracer_provider=provider)
        app = web.Application(middlewares=[middleware])
        app.router.add_get("/hello/{name}", hello)
        client = await aiohttp_client(app)
        parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        resp = await client.get("/hello/bob", headers={"traceparent": parent})
        assert resp.status == 200
        assert (await client.get("/hello/down")).status == 503
    finally:
        instrumentor.uninstrument()
    spans: Any = exporter.get_finished_spans()
    assert [span.name for span in spans] == ["GET /hello/{name}"] * 2
    statuses = [span.attributes.get("http.status_code") for span in spans]
    assert statuses == [200, 503]
    assert format(spans[0].context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"


async def test_aiohttp_apispec(aiohttp_client: AiohttpClient) -> None:
    apispec = _plugin("aiohttp_apispec")
    marshmallow = _plugin("marshmallow")

    class RequestSchema(marshmallow.Schema):  # type: ignore[name-defined,misc]
        id = marshmallow.fields.Int()
        name = marshmallow.fields.Str(required=True)

    @apispec.docs(tags=["notes"], summary="Add a note")
    @apispec.request_schema(RequestSchema())
    async def index(request: web.Request) -> web.Response:
        return web.json_response({"data": request["data"]})

    app = web.Application(middlewares=[apispec.validation_middleware])
    app.router.add_post("/v1/notes", index)
    apispec.setup_aiohttp_apispec(app=app, title="Notes", version="v1", url="/docs.json")
    client = await aiohttp_client(app)
    resp = await client.post("/v1/notes", json={"id": 1, "name": "x"})
    assert await resp.json() == {"data": {"id": 1, "name": "x"}}
    resp = await client.post("/v1/notes", json={"id": "a"})
    assert resp.status == 422
    spec = await (await client.get("/docs.json")).json()
    assert spec["paths"]["/v1/notes"]["post"]["summary"] == "Add a note"
