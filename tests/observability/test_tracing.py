"""OpenTelemetry server spans, recorded with the SDK's in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode

from heron import web
from heron.client import ClientSession
from heron.observability import tracing

from .conftest import Start

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.fixture
def exporter() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    tracing.uninstrument_client()
    provider.shutdown()


async def user(request: web.Request) -> web.Response:
    return web.Response(text="user")


async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("boom")


async def echo_traceparent(request: web.Request) -> web.Response:
    return web.Response(text=request.headers.get("traceparent", "none"))


async def test_span_with_parent_from_traceparent(
    start: Start, exporter: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, spans = exporter
    app = web.Application()
    app.router.add_get("/users/{id}", user)
    tracing.setup(app, tracer_provider=provider, client=False)
    _, port = await start(app, access_log=None)
    async with ClientSession() as session:
        headers = {
            "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01",
            "User-Agent": "probe/2",
        }
        async with session.get(
            f"http://127.0.0.1:{port}/users/42?x=1", headers=headers
        ) as response:
            assert response.status == 200
    (span,) = spans.get_finished_spans()
    assert span.name == "GET /users/{id}"
    assert span.kind is SpanKind.SERVER
    assert span.parent is not None and span.parent.is_remote
    assert format(span.parent.span_id, "016x") == PARENT_ID
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.context.span_id != span.parent.span_id
    assert dict(span.attributes or {}) == {
        "http.request.method": "GET",
        "url.scheme": "http",
        "url.path": "/users/42",
        "url.query": "x=1",
        "http.route": "/users/{id}",
        "server.address": "127.0.0.1",
        "server.port": port,
        "client.address": "127.0.0.1",
        "network.protocol.version": "1.1",
        "user_agent.original": "probe/2",
        "http.response.status_code": 200,
    }
    assert span.status.status_code is StatusCode.UNSET


async def test_root_span_errors_and_unmatched(
    start: Start, exporter: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, spans = exporter
    app = web.Application()
    app.router.add_get("/boom", boom)
    tracing.setup(app, tracer_provider=provider, client=False)
    _, port = await start(app, access_log=None)
    async with ClientSession(f"http://127.0.0.1:{port}") as session:
        async with session.get("/boom") as response:
            assert response.status == 500
        async with session.get("/nowhere") as response:
            assert response.status == 404
        # A traceparent that is not valid is ignored: a new trace starts.
        async with session.get("/nowhere", headers={"traceparent": "00-zz-yy-01"}) as response:
            assert response.status == 404
    failed, missing, bad_parent = spans.get_finished_spans()
    assert failed.parent is None and failed.name == "GET /boom"
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None
    assert failed.attributes["error.type"] == "RuntimeError"
    assert [event.name for event in failed.events] == ["exception"]
    assert missing.name == "GET" and missing.attributes is not None
    assert missing.attributes["http.response.status_code"] == 404
    assert "http.route" not in missing.attributes
    assert missing.status.status_code is StatusCode.UNSET
    assert bad_parent.parent is None


async def test_client_propagates_the_current_context(
    start: Start, exporter: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, spans = exporter
    downstream = web.Application()
    downstream.router.add_get("/echo", echo_traceparent)
    _, downstream_port = await start(downstream, access_log=None)

    async def call_downstream(request: web.Request) -> web.Response:
        async with (
            ClientSession() as session,
            session.get(f"http://127.0.0.1:{downstream_port}/echo") as response,
        ):
            return web.Response(text=await response.text())

    app = web.Application()
    app.router.add_get("/call", call_downstream)
    tracing.setup(app, tracer_provider=provider)  # client=True: the client propagates
    _, port = await start(app, access_log=None)
    async with ClientSession() as session:
        async with session.get(
            f"http://127.0.0.1:{port}/call",
            headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"},
        ) as response:
            sent = await response.text()
        (span,) = spans.get_finished_spans()
        # The downstream request carried the server span's context.
        assert sent == f"00-{TRACE_ID}-{span.context.span_id:016x}-01"

        # Outside any span nothing is added; a traceparent the caller sets is kept.
        async with session.get(f"http://127.0.0.1:{downstream_port}/echo") as response:
            assert await response.text() == "none"
        tracer = provider.get_tracer("test")
        with tracer.start_as_current_span("outer"):
            mine = f"00-{TRACE_ID}-{'1' * 16}-00"
            async with session.get(
                f"http://127.0.0.1:{downstream_port}/echo", headers={"traceparent": mine}
            ) as response:
                assert await response.text() == mine
    tracing.uninstrument_client()
    with tracer.start_as_current_span("after"):
        async with (
            ClientSession() as session,
            session.get(f"http://127.0.0.1:{downstream_port}/echo") as response,
        ):
            assert await response.text() == "none"
