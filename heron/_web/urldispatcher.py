"""``UrlDispatcher``, aiohttp's router: a Mapping of names to resources that resolves
requests through a route table compiled by ``heron._routing``.

Resolution order is aiohttp's (see ``heron._routing.table``). The table is compiled on
first use and again after any change; ``freeze()`` compiles it for good.

The web layer's fast path::

    resolver = app.router.sync_resolver()   # once, after freeze; None if not possible
    match_info = resolver(request) if resolver else await app.router.resolve(request)
    route = match_info.route                 # stable per route: a cache key
    handler, expect = match_info.handler, match_info.expect_handler
    if match_info.http_exception is not None: ...  # 404/405 (route is a SystemRoute)
"""

from __future__ import annotations

import keyword
import os
import re
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sized
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, cast

from .. import hdrs
from .._routing import OpaquePattern, RouteTable, compile_table, has_variables
from .abc import AbstractRouter
from .exceptions import HTTPMethodNotAllowed, HTTPNotFound
from .handler_types import ExpectHandler, Handler, RoutableRequest
from .match_info import MatchInfoError, UrlMappingMatchInfo
from .resources import (
    AbstractResource,
    DynamicResource,
    PlainResource,
    PrefixedSubAppResource,
    PrefixResource,
    Resource,
    path_safe_of,
)
from .routes import AbstractRoute, ResourceRoute, SystemRoute, raise_match_error
from .static import StaticResource
from .view import AbstractView, View

if TYPE_CHECKING:
    from .routedef import AbstractRouteDef

__all__ = (
    "AbstractResource",
    "AbstractRoute",
    "DynamicResource",
    "MatchInfoError",
    "PlainResource",
    "PrefixResource",
    "PrefixedSubAppResource",
    "Resource",
    "ResourceRoute",
    "ResourcesView",
    "RoutesView",
    "StaticResource",
    "SystemRoute",
    "UrlDispatcher",
    "UrlMappingMatchInfo",
    "View",
    "raise_match_error",
)

_NAME_SPLIT_RE: Final = re.compile(r"[.:-]")


class ResourcesView(Sized, Iterable[AbstractResource], Container[AbstractResource]):
    """A read-only view of the registered resources, in registration order."""

    def __init__(self, resources: list[AbstractResource]) -> None:
        self._resources = resources

    def __len__(self) -> int:
        return len(self._resources)

    def __iter__(self) -> Iterator[AbstractResource]:
        yield from self._resources

    def __contains__(self, resource: object) -> bool:
        return resource in self._resources


class RoutesView(Sized, Iterable[AbstractRoute], Container[AbstractRoute]):
    """A read-only list of the routes of all resources."""

    def __init__(self, resources: list[AbstractResource]) -> None:
        self._routes: list[AbstractRoute] = [route for res in resources for route in res]

    def __len__(self) -> int:
        return len(self._routes)

    def __iter__(self) -> Iterator[AbstractRoute]:
        yield from self._routes

    def __contains__(self, route: object) -> bool:
        return route in self._routes


class UrlDispatcher(AbstractRouter, Mapping[str, AbstractResource]):
    """The router: resources by name, route registration and request resolution."""

    NAME_SPLIT_RE = _NAME_SPLIT_RE

    def __init__(self) -> None:
        self._frozen = False
        self._resources: list[AbstractResource] = []
        self._named_resources: dict[str, AbstractResource] = {}
        self._matched_first: list[AbstractResource] = []
        self._table: RouteTable[AbstractResource] | None = None
        self._sync_ok = True

    # -- compiling --------------------------------------------------------------------

    def _compile(self) -> RouteTable[AbstractResource]:
        indexed = [r for r in self._resources if not r._matched_first]
        table = compile_table([(r._table_pattern(), r) for r in indexed])
        # Table first, sync off while asking the resources: an application mounted in
        # itself asks this router again, and gets "no sync resolver" instead of a loop.
        self._table = table
        self._sync_ok = False
        self._sync_ok = all(r._can_resolve_sync() for r in self._resources if not _is_compiled(r))
        return table

    def _invalidate(self) -> None:
        self._table = None

    # -- resolving --------------------------------------------------------------------

    async def resolve(self, request: Any) -> UrlMappingMatchInfo:
        """Find the route for ``request`` (aiohttp's API; matches ``rel_url.path_safe``).

        Returns a match info whose ``http_exception`` is ``HTTPNotFound`` or
        ``HTTPMethodNotAllowed`` when nothing matches.
        """
        table = self._table or self._compile()
        method: str = request.method
        path: str = request.rel_url.path_safe
        if self._sync_ok:
            return self._resolve_path(method, path, request)
        allowed: set[str] = set()
        for resource in self._matched_first:
            match_info, methods = await resource.resolve(request)
            if match_info is not None:
                return match_info
            allowed |= methods
        for resource, match_dict in table.scan(path):
            if match_dict is not None:
                match_info = _route_match(resource, match_dict, method, allowed)
                if match_info is not None:
                    return match_info
                continue
            match_info, methods = await resource.resolve(request)
            if match_info is not None:
                return match_info
            allowed |= methods
        return _failure(method, allowed)

    def sync_resolver(self) -> Callable[[RoutableRequest], UrlMappingMatchInfo] | None:
        """``resolve_sync`` if it gives the same answers as ``resolve``, else None.

        None when ``resolve`` is overridden or a resource only knows how to resolve
        asynchronously. Ask once the router is frozen.
        """
        if type(self).resolve is not UrlDispatcher.resolve:
            return None
        if self._table is None:
            self._compile()
        return self.resolve_sync if self._sync_ok else None

    def resolve_sync(self, request: RoutableRequest) -> UrlMappingMatchInfo:
        """Resolve without awaiting: the web layer's fast path.

        Reads ``request.method`` and ``request.raw_path`` (the raw target with its query
        string); ``request.rel_url`` only when the path holds a ``%`` escape. Only valid
        when :meth:`sync_resolver` returns it.
        """
        return self._resolve_path(request.method, path_safe_of(request), request)

    def _resolve_path(self, method: str, path: str, request: Any) -> UrlMappingMatchInfo:
        """Resolve ``path`` (a ``path_safe``) for ``method``; ``request`` goes to opaque
        resources (sub-applications) only."""
        table = self._table or self._compile()
        if not self._matched_first:
            hit = table.first(path)
            if hit is None:
                # PERF: "404": no candidate at all, no scan.
                return MatchInfoError(HTTPNotFound())
            resource, match_dict = hit
            if match_dict is not None:
                # PERF: "plaintext", "dynamic route among 50 routes": the first candidate
                # takes the method in most requests; the full scan is for 405s.
                routes = cast(Resource, resource)._routes
                route = routes.get(method) or cast(Resource, resource)._any_route
                if route is not None:
                    return UrlMappingMatchInfo(match_dict, route)
            else:
                # PERF: "sub-app behind three middlewares": an opaque first candidate
                # (a sub-application) usually resolves the request itself; scan only
                # when it does not.
                match_info, _ = resource._resolve_path(method, path, request)
                if match_info is not None:
                    return match_info
        return self._resolve_scan(method, path, request, table)

    def _resolve_scan(
        self, method: str, path: str, request: Any, table: RouteTable[AbstractResource]
    ) -> UrlMappingMatchInfo:
        allowed: set[str] = set()
        for resource in self._matched_first:
            match_info, methods = resource._resolve_path(method, path, request)
            if match_info is not None:
                return match_info
            allowed |= methods
        for resource, match_dict in table.scan(path):
            if match_dict is not None:
                match_info = _route_match(resource, match_dict, method, allowed)
                if match_info is not None:
                    return match_info
                continue
            match_info, methods = resource._resolve_path(method, path, request)
            if match_info is not None:
                return match_info
            allowed |= methods
        return _failure(method, allowed)

    # -- Mapping of names -------------------------------------------------------------

    def __iter__(self) -> Iterator[str]:
        return iter(self._named_resources)

    def __len__(self) -> int:
        return len(self._named_resources)

    def __contains__(self, resource: object) -> bool:
        return resource in self._named_resources

    def __getitem__(self, name: str) -> AbstractResource:
        return self._named_resources[name]

    def resources(self) -> ResourcesView:
        """All resources, in registration order."""
        return ResourcesView(self._resources)

    def routes(self) -> RoutesView:
        """All routes of all resources."""
        return RoutesView(self._resources)

    def named_resources(self) -> Mapping[str, AbstractResource]:
        """A read-only mapping of names to resources."""
        return MappingProxyType(self._named_resources)

    # -- registering ------------------------------------------------------------------

    def register_resource(self, resource: AbstractResource) -> None:
        """Add ``resource``; its name must be unique and made of identifiers split by
        ``.``, ``:`` or ``-``. RuntimeError once frozen."""
        if not isinstance(resource, AbstractResource):
            raise TypeError(f"Instance of AbstractResource class is required, got {resource!r}")
        if self._frozen:
            raise RuntimeError("Cannot register a resource into frozen router.")
        name = resource.name
        if name is not None:
            _check_name(name)
            if name in self._named_resources:
                raise ValueError(
                    f"Duplicate {name!r}, already handled by {self._named_resources[name]!r}"
                )
            self._named_resources[name] = resource
        self._resources.append(resource)
        if resource._matched_first:
            self._matched_first.append(resource)
        self._invalidate()

    def index_resource(self, resource: AbstractResource) -> None:
        """Tell the router a resource's path changed (the table is rebuilt)."""
        self._invalidate()

    def unindex_resource(self, resource: AbstractResource) -> None:
        """Tell the router a resource's path is about to change."""
        self._invalidate()

    def add_resource(self, path: str, *, name: str | None = None) -> Resource:
        """Return a resource for ``path``, reusing the last one if path and name match."""
        if path and not path.startswith("/"):
            raise ValueError("path should be started with / or be empty")
        if self._frozen:
            raise RuntimeError("Cannot register a resource into frozen router.")
        if self._resources:
            last = self._resources[-1]
            if last.name == name and last.raw_match(path):
                return cast(Resource, last)
        resource: Resource
        if has_variables(path):
            resource = DynamicResource(path, name=name)
        else:
            resource = PlainResource(path, name=name)
        self.register_resource(resource)
        return resource

    def add_route(
        self,
        method: str,
        path: str,
        handler: Handler | type[AbstractView],
        *,
        name: str | None = None,
        expect_handler: ExpectHandler | None = None,
    ) -> AbstractRoute:
        """Add a route for ``method`` (``*``: any method) on ``path``."""
        resource = self.add_resource(path, name=name)
        return resource.add_route(method, handler, expect_handler=expect_handler)

    def add_head(self, path: str, handler: Handler, **kwargs: Any) -> AbstractRoute:
        """``add_route("HEAD", ...)``."""
        return self.add_route(hdrs.METH_HEAD, path, handler, **kwargs)

    def add_options(self, path: str, handler: Handler, **kwargs: Any) -> AbstractRoute:
        """``add_route("OPTIONS", ...)``."""
        return self.add_route(hdrs.METH_OPTIONS, path, handler, **kwargs)

    def add_get(
        self,
        path: str,
        handler: Handler,
        *,
        name: str | None = None,
        allow_head: bool = True,
        **kwargs: Any,
    ) -> AbstractRoute:
        """``add_route("GET", ...)``, plus a HEAD route unless ``allow_head`` is false."""
        resource = self.add_resource(path, name=name)
        if allow_head:
            resource.add_route(hdrs.METH_HEAD, handler, **kwargs)
        return resource.add_route(hdrs.METH_GET, handler, **kwargs)

    def add_post(self, path: str, handler: Handler, **kwargs: Any) -> AbstractRoute:
        """``add_route("POST", ...)``."""
        return self.add_route(hdrs.METH_POST, path, handler, **kwargs)

    def add_put(self, path: str, handler: Handler, **kwargs: Any) -> AbstractRoute:
        """``add_route("PUT", ...)``."""
        return self.add_route(hdrs.METH_PUT, path, handler, **kwargs)

    def add_patch(self, path: str, handler: Handler, **kwargs: Any) -> AbstractRoute:
        """``add_route("PATCH", ...)``."""
        return self.add_route(hdrs.METH_PATCH, path, handler, **kwargs)

    def add_delete(self, path: str, handler: Handler, **kwargs: Any) -> AbstractRoute:
        """``add_route("DELETE", ...)``."""
        return self.add_route(hdrs.METH_DELETE, path, handler, **kwargs)

    def add_view(self, path: str, handler: type[AbstractView], **kwargs: Any) -> AbstractRoute:
        """A class-based view for any method: ``add_route("*", ...)``."""
        return self.add_route(hdrs.METH_ANY, path, handler, **kwargs)

    def add_static(
        self,
        prefix: str,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        expect_handler: ExpectHandler | None = None,
        chunk_size: int = 256 * 1024,
        show_index: bool = False,
        follow_symlinks: bool = False,
        append_version: bool = False,
    ) -> StaticResource:
        """Serve the files under directory ``path`` at URL ``prefix`` (GET and HEAD).

        See :class:`StaticResource` for the safety rules; ``follow_symlinks`` lets links
        inside the directory point outside it.
        """
        if not prefix.startswith("/"):
            raise ValueError(f"prefix should start with /: {prefix!r}")
        resource = StaticResource(
            prefix.rstrip("/"),
            path,
            name=name,
            expect_handler=expect_handler,
            chunk_size=chunk_size,
            show_index=show_index,
            follow_symlinks=follow_symlinks,
            append_version=append_version,
        )
        self.register_resource(resource)
        return resource

    def add_routes(self, routes: Iterable[AbstractRouteDef]) -> list[AbstractRoute]:
        """Register route definitions (``RouteTableDef`` or ``web.get(...)`` etc.); return
        the routes created."""
        registered: list[AbstractRoute] = []
        for route_def in routes:
            registered.extend(route_def.register(self))
        return registered

    # -- lifecycle --------------------------------------------------------------------

    def post_init(self, app: Any) -> None:
        """Called by the application that owns the router; nothing to do here."""

    @property
    def frozen(self) -> bool:
        """Whether :meth:`freeze` was called."""
        return self._frozen

    def freeze(self) -> None:
        """Freeze the resources and compile the table; registration then raises."""
        self._frozen = True
        for resource in self._resources:
            resource.freeze()
        self._compile()


def _is_compiled(resource: AbstractResource) -> bool:
    """Whether the table matches ``resource`` itself (a plain or dynamic resource)."""
    return not isinstance(resource._table_pattern(), OpaquePattern)


def _route_match(
    resource: AbstractResource, match_dict: dict[str, str], method: str, allowed: set[str]
) -> UrlMappingMatchInfo | None:
    res = cast(Resource, resource)
    route = res._routes.get(method, res._any_route)
    if route is not None:
        return UrlMappingMatchInfo(match_dict, route)
    allowed |= res._allowed_methods
    return None


def _failure(method: str, allowed: set[str]) -> MatchInfoError:
    if allowed:
        return MatchInfoError(HTTPMethodNotAllowed(method, allowed))
    return MatchInfoError(HTTPNotFound())


def _check_name(name: str) -> None:
    for part in _NAME_SPLIT_RE.split(name):
        if keyword.iskeyword(part):
            raise ValueError(
                f"Incorrect route name {name!r}, python keywords cannot be used for route name"
            )
        if not part.isidentifier():
            raise ValueError(
                f"Incorrect route name {name!r}, the name should be a sequence of python "
                "identifiers separated by dash, dot or column"
            )
