"""Prometheus metrics for a heron server (the ``metrics`` extra: ``prometheus_client``).

    from heron.observability import metrics

    metrics.setup(app)                      # GET /metrics, Prometheus text format

Requests are counted and timed by route (the route's name, or its template when it has
none: ``/users/{id}``, never the raw path, so the number of series stays bounded), method
and status; open connections and WebSockets, requests in flight, body bytes in and out and
the answers the server gives by itself when a limit is hit (408, 413, 414, 431, 503) or the
request is malformed (400, 501, 505) are measured too.  docs/observability.md lists every
metric with its labels.

Several worker processes (``python -m heron.web app:init --workers N``): set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory before starting; every worker then writes
its numbers there and a scrape of any worker returns the sum over all of them
(prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

from .. import web
from .._io import observe
from .routes import KNOWN_METHODS, route_resource

__all__ = ("DEFAULT_BUCKETS", "MULTIPROC_ENV", "Metrics", "setup")

#: The environment variable that switches prometheus_client to multiprocess mode.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: Latency buckets in seconds: 1 ms to 10 s.
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

#: The route label of a request no route matched (404, 405).
UNMATCHED = "(unmatched)"
#: The status label of a request whose handler was cancelled (the client went away).
CLIENT_CLOSED = "499"

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Metrics(observe.ServerObserver):
    """The process's instruments; also the server core's observer."""

    __slots__ = (
        "_children",
        "connections",
        "duration",
        "in_flight",
        "registry",
        "rejections",
        "request_bytes",
        "requests",
        "response_bytes",
        "websockets",
    )

    def __init__(self, registry: CollectorRegistry, buckets: Sequence[float]) -> None:
        self.registry = registry
        labels = ("route", "method", "status")
        self.requests = Counter("heron_requests", "Requests answered.", labels, registry=registry)
        self.duration = Histogram(
            "heron_request_duration_seconds",
            "Time from the handler's start to its response.",
            labels,
            buckets=buckets,
            registry=registry,
        )
        self.in_flight = Gauge(
            "heron_requests_in_flight",
            "Requests being handled.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.connections = Gauge(
            "heron_connections_open",
            "Open client connections.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.websockets = Gauge(
            "heron_websockets_open",
            "Connections upgraded to a WebSocket (or another protocol).",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.request_bytes = Counter(
            "heron_request_body_bytes",
            "Request body bytes received by the time the handler returned.",
            ("route",),
            registry=registry,
        )
        self.response_bytes = Counter(
            "heron_response_body_bytes",
            "Response body bytes produced by handlers.",
            ("route",),
            registry=registry,
        )
        self.rejections = Counter(
            "heron_rejections",
            "Answers the server gave by itself: a limit hit (408, 413, 414, 431, 503) "
            "or a malformed request (400, 501, 505).",
            ("status",),
            registry=registry,
        )
        # (route, method, status) -> (requests child, duration child, bytes children):
        # .labels() takes a lock and builds a tuple on each call; the labels are bounded.
        self._children: dict[tuple[str, str, int], tuple[Any, Any, Any, Any]] = {}

    # ------------------------------------------------------------------ server core events

    def connection_opened(self) -> None:
        self.connections.inc()

    def connection_closed(self) -> None:
        self.connections.dec()

    def connection_upgraded(self) -> None:
        self.websockets.inc()

    def upgraded_closed(self) -> None:
        self.websockets.dec()

    def rejected(self, status: int) -> None:
        self.rejections.labels(str(status)).inc()

    # ------------------------------------------------------------------ requests

    def observe(
        self, request: web.Request, status: int, elapsed: float, response_bytes: int
    ) -> None:
        """Record one handled request."""
        route = _route_label(request)
        method = request.method
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            label_method = method if method in KNOWN_METHODS else "_OTHER"
            label_status = CLIENT_CLOSED if status < 0 else str(status)
            children = self._children[key] = (
                self.requests.labels(route, label_method, label_status),
                self.duration.labels(route, label_method, label_status),
                self.request_bytes.labels(route),
                self.response_bytes.labels(route),
            )
        count, duration, bytes_in, bytes_out = children
        count.inc()
        duration.observe(elapsed)
        received = request.content.total_bytes
        if received:
            bytes_in.inc(received)
        if response_bytes:
            bytes_out.inc(response_bytes)
        if status == 413:
            # client_max_size: the limit is checked by request.read(), in the handler.
            self.rejections.labels("413").inc()

    def middleware(self) -> Callable[[web.Request, _Handler], Awaitable[web.StreamResponse]]:
        """The middleware that counts and times requests."""
        in_flight = self.in_flight
        observe_request = self.observe
        clock = time.perf_counter

        @web.middleware
        async def metrics_middleware(request: web.Request, handler: _Handler) -> Any:
            in_flight.inc()
            start = clock()
            status = 500
            response_bytes = 0
            try:
                response = await handler(request)
                status = response.status
                response_bytes = _body_size(response)
                return response
            except web.HTTPException as exc:
                status = exc.status
                response_bytes = _body_size(exc)
                raise
            except asyncio.CancelledError:
                status = -1
                raise
            finally:
                in_flight.dec()
                observe_request(request, status, clock() - start, response_bytes)

        return metrics_middleware

    def render(self) -> bytes:
        """The exposition text: this process's numbers, or all workers' in multiprocess mode."""
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)

    async def handler(self, request: web.Request) -> web.Response:
        """GET the metrics."""
        return web.Response(
            body=self.render(),
            headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"},
        )


def _body_size(response: web.StreamResponse) -> int:
    """The body's size as the handler left it: written so far if streamed, else its length
    (a compressed or streamed-later body counts what its Content-Length says, if anything)."""
    if response.prepared:
        return response.body_length
    return response.content_length or 0


def _route_label(request: web.Request) -> str:
    resource = route_resource(request)
    if resource is None:
        return UNMATCHED
    label: str = resource.name or resource.canonical
    return label


# One set of instruments per process: prometheus_client's registry refuses a second
# metric of the same name, and the server core's observer is process-wide too.
_instruments: Metrics | None = None


def instruments(
    registry: CollectorRegistry = REGISTRY, buckets: Sequence[float] = DEFAULT_BUCKETS
) -> Metrics:
    """The process's :class:`Metrics`, created (and installed as the core's observer) once."""
    global _instruments
    if _instruments is None:
        _instruments = Metrics(registry, buckets)
        observe.install(_instruments)
    return _instruments


def setup(
    app: web.Application,
    *,
    path: str | None = "/metrics",
    registry: CollectorRegistry = REGISTRY,
    buckets: Sequence[float] = DEFAULT_BUCKETS,
) -> Metrics:
    """Measure ``app``'s requests and serve the metrics at ``path`` (before the app starts).

    ``path=None`` serves nothing (expose ``registry`` yourself).  ``registry`` and
    ``buckets`` apply to the first call in a process; later calls share its instruments.
    """
    metrics = instruments(registry, buckets)
    app.middlewares.insert(0, metrics.middleware())
    if path is not None:
        app.router.add_get(path, metrics.handler, name="heron.metrics")

    async def forget_worker(app: web.Application) -> None:
        # Multiprocess mode: this process's live gauges (in flight, connections) stop
        # counting once it exits; its counters and histograms still add up.
        if os.environ.get(MULTIPROC_ENV):
            _multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    app.on_cleanup.append(forget_worker)
    return metrics
