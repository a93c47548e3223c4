"""Class-based views: ``class MyView(web.View)`` with ``async def get(self)`` and friends."""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Generator
from typing import Any, NoReturn

from .. import hdrs
from .exceptions import HTTPMethodNotAllowed

__all__ = ("AbstractView", "View")


class AbstractView(abc.ABC):
    """A class-based view: built with the request, then awaited for the response."""

    def __init__(self, request: Any) -> None:
        self._request = request

    @property
    def request(self) -> Any:
        """The request being handled."""
        return self._request

    @abc.abstractmethod
    def __await__(self) -> Generator[Any, None, Any]:
        """Run the view and return its response."""


class View(AbstractView):
    """Dispatch to the method named after the request method in lower case.

    A request whose method has no such method gets 405 Method Not Allowed, whose ``Allow``
    header lists the methods the view defines.
    """

    async def _iter(self) -> Any:
        method_name = self.request.method
        if method_name not in hdrs.METH_ALL:
            self._raise_allowed_methods()
        method: Callable[[], Awaitable[Any]] | None = getattr(self, method_name.lower(), None)
        if method is None:
            self._raise_allowed_methods()
        return await method()

    def __await__(self) -> Generator[Any, None, Any]:
        return self._iter().__await__()

    def _raise_allowed_methods(self) -> NoReturn:
        allowed = {m for m in hdrs.METH_ALL if hasattr(self, m.lower())}
        raise HTTPMethodNotAllowed(self.request.method, allowed)
