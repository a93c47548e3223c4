"""Route definitions: ``web.get("/", handler)``, ``RouteTableDef`` and its decorators,
registered with ``app.add_routes(...)`` / ``router.add_routes(...)``."""

from __future__ import annotations

import abc
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, overload

from .. import hdrs
from .handler_types import Handler
from .view import AbstractView

if TYPE_CHECKING:
    from .routes import AbstractRoute
    from .urldispatcher import UrlDispatcher

__all__ = (
    "AbstractRouteDef",
    "RouteDef",
    "RouteTableDef",
    "StaticDef",
    "delete",
    "get",
    "head",
    "options",
    "patch",
    "post",
    "put",
    "route",
    "static",
    "view",
)

HandlerType = Handler | type[AbstractView]
PathLike = str | os.PathLike[str]
_H = TypeVar("_H", bound=Callable[..., Any])


class AbstractRouteDef(abc.ABC):
    """Something ``add_routes`` can register."""

    __slots__ = ()

    @abc.abstractmethod
    def register(self, router: UrlDispatcher) -> list[AbstractRoute]:
        """Add the definition to ``router``; return the routes created."""


def _kwargs_repr(kwargs: dict[str, Any]) -> str:
    return "".join(f", {name}={value!r}" for name, value in sorted(kwargs.items()))


@dataclass(frozen=True, repr=False, slots=True)
class RouteDef(AbstractRouteDef):
    """A route: method, path, handler and the keyword arguments for ``add_route``."""

    method: str
    path: str
    handler: HandlerType
    kwargs: dict[str, Any]

    def __repr__(self) -> str:
        handler_name = getattr(self.handler, "__name__", repr(self.handler))
        return (
            f"<RouteDef {self.method} {self.path} -> {handler_name!r}{_kwargs_repr(self.kwargs)}>"
        )

    def register(self, router: UrlDispatcher) -> list[AbstractRoute]:
        """Call ``router.add_<method>`` for standard methods, else ``router.add_route``."""
        if self.method in hdrs.METH_ALL:
            add = getattr(router, "add_" + self.method.lower())
            return [add(self.path, self.handler, **self.kwargs)]
        return [router.add_route(self.method, self.path, self.handler, **self.kwargs)]


@dataclass(frozen=True, repr=False, slots=True)
class StaticDef(AbstractRouteDef):
    """A static-files directory: URL prefix, directory and ``add_static`` arguments."""

    prefix: str
    path: PathLike
    kwargs: dict[str, Any]

    def __repr__(self) -> str:
        return f"<StaticDef {self.prefix} -> {self.path}{_kwargs_repr(self.kwargs)}>"

    def register(self, router: UrlDispatcher) -> list[AbstractRoute]:
        """Call ``router.add_static``; return the routes of the static resource."""
        add_static = getattr(router, "add_static", None)
        if add_static is None:
            raise NotImplementedError(f"{type(router).__name__} has no add_static()")
        resource = add_static(self.prefix, self.path, **self.kwargs)
        routes: dict[str, AbstractRoute] = resource.get_info().get("routes", {})
        return list(routes.values())


def route(method: str, path: str, handler: HandlerType, **kwargs: Any) -> RouteDef:
    """A route for ``method`` (``*``: any)."""
    return RouteDef(method, path, handler, kwargs)


def head(path: str, handler: HandlerType, **kwargs: Any) -> RouteDef:
    """A HEAD route."""
    return route(hdrs.METH_HEAD, path, handler, **kwargs)


def options(path: str, handler: HandlerType, **kwargs: Any) -> RouteDef:
    """An OPTIONS route."""
    return route(hdrs.METH_OPTIONS, path, handler, **kwargs)


def get(
    path: str,
    handler: HandlerType,
    *,
    name: str | None = None,
    allow_head: bool = True,
    **kwargs: Any,
) -> RouteDef:
    """A GET route (and HEAD, unless ``allow_head`` is false)."""
    return route(hdrs.METH_GET, path, handler, name=name, allow_head=allow_head, **kwargs)


def post(path: str, handler: HandlerType, **kwargs: Any) -> RouteDef:
    """A POST route."""
    return route(hdrs.METH_POST, path, handler, **kwargs)


def put(path: str, handler: HandlerType, **kwargs: Any) -> RouteDef:
    """A PUT route."""
    return route(hdrs.METH_PUT, path, handler, **kwargs)


def patch(path: str, handler: HandlerType, **kwargs: Any) -> RouteDef:
    """A PATCH route."""
    return route(hdrs.METH_PATCH, path, handler, **kwargs)


def delete(path: str, handler: HandlerType, **kwargs: Any) -> RouteDef:
    """A DELETE route."""
    return route(hdrs.METH_DELETE, path, handler, **kwargs)


def view(path: str, handler: type[AbstractView], **kwargs: Any) -> RouteDef:
    """A class-based view, for any method."""
    return route(hdrs.METH_ANY, path, handler, **kwargs)


def static(prefix: str, path: PathLike, **kwargs: Any) -> StaticDef:
    """A static-files directory."""
    return StaticDef(prefix, path, kwargs)


class RouteTableDef(Sequence[AbstractRouteDef]):
    """A list of route definitions filled with decorators::

    routes = web.RouteTableDef()

    @routes.get("/")
    async def index(request): ...

    app.add_routes(routes)
    """

    def __init__(self) -> None:
        self._items: list[AbstractRouteDef] = []

    def __repr__(self) -> str:
        return f"<RouteTableDef count={len(self._items)}>"

    @overload
    def __getitem__(self, index: int) -> AbstractRouteDef: ...

    @overload
    def __getitem__(self, index: slice) -> list[AbstractRouteDef]: ...

    def __getitem__(self, index: int | slice) -> AbstractRouteDef | list[AbstractRouteDef]:
        return self._items[index]

    def __iter__(self) -> Iterator[AbstractRouteDef]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def route(self, method: str, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        """Decorator: a route for ``method``; returns the handler unchanged."""

        def inner(handler: _H) -> _H:
            self._items.append(RouteDef(method, path, handler, kwargs))
            return handler

        return inner

    def head(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        """Decorator: a HEAD route."""
        return self.route(hdrs.METH_HEAD, path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        """Decorator: a GET route (and HEAD unless ``allow_head=False``)."""
        return self.route(hdrs.METH_GET, path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        """Decorator: a POST route."""
        return self.route(hdrs.METH_POST, path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        """Decorator: a PUT route."""
        return self.route(hdrs.METH_PUT, path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        """Decorator: a PATCH route."""
        return self.route(hdrs.METH_PATCH, path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        """Decorator: a DELETE route."""
        return self.route(hdrs.METH_DELETE, path, **kwargs)

    def options(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        """Decorator: an OPTIONS route."""
        return self.route(hdrs.METH_OPTIONS, path, **kwargs)

    def view(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        """Decorator: a class-based view, for any method."""
        return self.route(hdrs.METH_ANY, path, **kwargs)

    def static(self, prefix: str, path: PathLike, **kwargs: Any) -> None:
        """Add a static-files directory."""
        self._items.append(StaticDef(prefix, path, kwargs))
