"""Type aliases shared by the router modules (handlers, expect handlers, requests).

The request and response classes live in ``heron._web.request``/``heron._web.response``;
these aliases stay structural so the router does not depend on them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from yarl import URL

__all__ = ("ExpectHandler", "Handler", "RoutableRequest")

#: ``async def handler(request) -> StreamResponse``.
Handler = Callable[[Any], Awaitable[Any]]
#: ``async def expect_handler(request) -> StreamResponse | None``.
ExpectHandler = Callable[[Any], Awaitable[Any]]


class RoutableRequest(Protocol):
    """What the router reads from a request."""

    @property
    def method(self) -> str:
        """The request method, upper case."""

    @property
    def raw_path(self) -> str:
        """The request target as received (path and query string, still encoded)."""

    @property
    def rel_url(self) -> URL:
        """The request target as a relative URL."""
