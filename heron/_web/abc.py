"""Abstract base classes of the routing contract (aiohttp.abc's server-side ABCs).

``UrlDispatcher`` is an :class:`AbstractRouter` and ``UrlMappingMatchInfo`` an
:class:`AbstractMatchInfo`, so a custom router passed as ``Application(router=...)``
can be written against these.  ``AbstractResolver`` is the DNS-resolver interface of
aiohttp's client, kept so that code importing it from ``abc`` keeps working.
"""

from __future__ import annotations

import socket
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, TypedDict

__all__ = ("AbstractMatchInfo", "AbstractResolver", "AbstractRouter", "ResolveResult")


class AbstractRouter(ABC):
    """A router: resolves a request to an :class:`AbstractMatchInfo`."""

    def __init__(self) -> None:
        self._frozen = False

    def post_init(self, app: Any) -> None:  # noqa: B027 (optional hook, not abstract)
        """Called by the application that owns the router, once it is built."""

    @property
    def frozen(self) -> bool:
        """Whether :meth:`freeze` was called."""
        return self._frozen

    def freeze(self) -> None:
        """Refuse further changes."""
        self._frozen = True

    @abstractmethod
    async def resolve(self, request: Any) -> Any:
        """Return the match info (an :class:`AbstractMatchInfo`) for ``request``."""


class AbstractMatchInfo(ABC):
    """The result of routing a request."""

    __slots__ = ()

    @property
    @abstractmethod
    def handler(self) -> Callable[[Any], Awaitable[Any]]:
        """The handler to call."""

    @property
    @abstractmethod
    def expect_handler(self) -> Callable[[Any], Awaitable[Any]]:
        """The handler of ``Expect: 100-continue``."""

    @property
    @abstractmethod
    def http_exception(self) -> Any:
        """The 404/405 to answer with, or None."""

    @abstractmethod
    def get_info(self) -> dict[str, Any]:
        """Introspection data."""

    @property
    @abstractmethod
    def apps(self) -> tuple[Any, ...]:
        """The application stack, outermost first."""

    @abstractmethod
    def add_app(self, app: Any) -> None:
        """Push an application onto the stack."""

    @abstractmethod
    def freeze(self) -> None:
        """Refuse further changes to the stack."""


class ResolveResult(TypedDict):
    """One resolved address (aiohttp's client resolver result)."""

    hostname: str
    host: str
    port: int
    family: int
    proto: int
    flags: int


class AbstractResolver(ABC):
    """A DNS resolver."""

    @abstractmethod
    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The addresses of ``host``."""

    @abstractmethod
    async def close(self) -> None:
        """Release the resolver's resources."""
