"""What metrics and tracing label a request by: its method (bounded) and its route.

Labels must come from a bounded set, so the number of series or span names stays bounded
whatever clients send: a method outside :data:`KNOWN_METHODS` is reported as ``_OTHER``,
and a request is named by its route's resource (a template such as ``/users/{id}``), never
by its raw path.
"""

from __future__ import annotations

from .. import web

__all__ = ("KNOWN_METHODS", "route_resource")

#: Methods reported as they are; any other is reported as ``_OTHER``.
KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)


def route_resource(request: web.Request) -> web.AbstractResource | None:
    """The resource of the route ``request`` matched, or None (a 404 or 405)."""
    route = request.match_info.route
    return route.resource if route is not None else None
