"""OpenTelemetry server spans (the ``tracing`` extra: ``opentelemetry-api``).

    from heron.observability import tracing

    tracing.setup(app)      # one SERVER span per request, through the global TracerProvider

Spans follow OpenTelemetry's HTTP semantic conventions as
opentelemetry-instrumentation-aiohttp-server records them in their stable form: the name
is ``"{method} {route template}"`` (``"GET /users/{id}"``; the method alone when no route
matched), attributes ``http.request.method``, ``url.scheme``, ``url.path``, ``url.query``,
``http.route``, ``server.address``, ``server.port``, ``client.address``,
``network.protocol.version``, ``user_agent.original``, ``http.response.status_code`` and,
for a 5xx or an exception, ``error.type`` with an ERROR status.  The parent comes from the
request's W3C trace context (``traceparent``/``tracestate``), or whatever propagator is
configured globally.  heron's own ``ClientSession`` then sends the current context on with
each request (``instrument_client()``; ``setup`` calls it unless ``client=False``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from multidict import CIMultiDict
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .. import web
from .._version import __version__
from ..client import propagation
from .routes import KNOWN_METHODS, route_resource

__all__ = ("instrument_client", "setup", "uninstrument_client")

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _route_template(request: web.Request) -> str | None:
    resource = route_resource(request)
    return resource.canonical if resource is not None else None


def _request_attributes(request: web.Request, method: str, route: str | None) -> dict[str, Any]:
    url = request.url
    attributes: dict[str, Any] = {
        "http.request.method": method,
        "url.scheme": request.scheme,
        "url.path": request.path,
        "network.protocol.version": f"{request.version[0]}.{request.version[1]}",
    }
    if method == "_OTHER":
        attributes["http.request.method_original"] = request.method
    if request.query_string:
        attributes["url.query"] = request.query_string
    if route is not None:
        attributes["http.route"] = route
    if url.host:
        attributes["server.address"] = url.host
    if url.port:
        attributes["server.port"] = url.port
    remote = request.remote
    if remote:
        attributes["client.address"] = remote
    user_agent = request.headers.get("User-Agent")
    if user_agent is not None:
        attributes["user_agent.original"] = user_agent
    return attributes


def _end_status(span: trace.Span, status: int) -> None:
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        # Server spans: 4xx is the client's doing and leaves the status unset.
        span.set_attribute("error.type", str(status))
        span.set_status(Status(StatusCode.ERROR))


def setup(
    app: web.Application,
    *,
    tracer_provider: trace.TracerProvider | None = None,
    client: bool = True,
) -> None:
    """Record a SERVER span for each request of ``app`` (before it starts).

    ``tracer_provider``: where spans go (default: the global one).  ``client``: also make
    heron's ``ClientSession`` propagate the trace context (:func:`instrument_client`).
    """
    tracer = trace.get_tracer("heron", __version__, tracer_provider=tracer_provider)

    @web.middleware
    async def tracing_middleware(request: web.Request, handler: _Handler) -> Any:
        method = request.method if request.method in KNOWN_METHODS else "_OTHER"
        route = _route_template(request)
        name_method = "HTTP" if method == "_OTHER" else method
        with tracer.start_as_current_span(
            f"{name_method} {route}" if route else name_method,
            context=propagate.extract(request.headers),
            kind=SpanKind.SERVER,
            attributes=_request_attributes(request, method, route),
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                _end_status(span, exc.status)
                raise
            except Exception as exc:
                span.record_exception(exc)
                span.set_attribute("error.type", type(exc).__qualname__)
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                raise
            _end_status(span, response.status)
            return response

    app.middlewares.insert(0, tracing_middleware)
    if client:
        instrument_client()


def _inject(headers: CIMultiDict[str]) -> None:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    for name, value in carrier.items():
        # A header the caller set on purpose wins.
        headers.setdefault(name, value)


def instrument_client() -> None:
    """Make heron's ``ClientSession`` send the current trace context with every request."""
    propagation.install(_inject)


def uninstrument_client() -> None:
    """Stop propagating the trace context from heron's ``ClientSession``."""
    propagation.install(None)
