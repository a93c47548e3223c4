"""Trace-context propagation for outgoing requests (off unless tracing installs it).

``heron.observability.tracing.instrument_client()`` installs an injector that adds the
current trace context (W3C ``traceparent``/``tracestate``) to each request's headers.
Until then :data:`injector` is None and a request pays one attribute read.
"""

from __future__ import annotations

from collections.abc import Callable

from multidict import CIMultiDict

__all__ = ("injector", "install")

#: Adds propagation headers to an outgoing request's headers (never replacing one the
#: caller set), or None.
injector: Callable[[CIMultiDict[str]], None] | None = None


def install(new: Callable[[CIMultiDict[str]], None] | None) -> None:
    """Install ``new`` as the process's injector (None removes it)."""
    global injector
    injector = new
