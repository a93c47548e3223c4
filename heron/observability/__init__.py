"""Observability for heron servers: structured access logs, request ids, health, metrics, tracing.

Each part is optional and costs nothing until it is set up:

- :class:`JsonAccessLogger`: ``run_app(app, access_log_class=JsonAccessLogger)`` logs one
  JSON object per request;
- :mod:`heron.observability.request_ids`: ``request_ids.setup(app)`` gives each request an id
  (a trusted ``X-Request-ID`` or a generated one), echoed in the response;
- :mod:`heron.observability.health`: ``health.setup(app)`` adds ``/healthz`` and ``/readyz``,
  which turns 503 for a drain delay before the listeners close on SIGTERM;
- :mod:`heron.observability.metrics` (extra ``metrics``): ``metrics.setup(app)`` serves
  Prometheus metrics, summed across workers;
- :mod:`heron.observability.tracing` (extra ``tracing``): ``tracing.setup(app)`` records
  OpenTelemetry server spans and propagates the context from heron's client.

See docs/observability.md.
"""

from __future__ import annotations

from .access_log import JsonAccessLogger
from .request_ids import REQUEST_ID, RequestIdFilter, current_request_id, request_id

__all__ = (
    "REQUEST_ID",
    "JsonAccessLogger",
    "RequestIdFilter",
    "current_request_id",
    "request_id",
)
