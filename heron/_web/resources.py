"""Resources: a path (plain, dynamic or prefix) with one route per method.

Matching is done by the compiled table of ``heron._routing``; each resource describes
itself to it with ``_table_pattern()``. Paths are matched in yarl's ``path_safe`` form (the
request path decoded except ``%2F`` and ``%25``), as in aiohttp.

The literal text of a route path is compared, as written, with the request's ``path_safe``:
a route path is written decoded (``/café``, ``/a b``), except that ``%2F`` and ``%25`` stand
for an encoded slash and percent sign. Another ``%XX`` escape in a route path matches nothing,
as in aiohttp (``/1%2C3`` is not ``/1,3``).

Difference from aiohttp, on purpose: aiohttp compares the literal text of a *dynamic* path in
its percent-encoded form with the decoded request path, so a literal holding a space or a
non-ASCII character (``/café/{id}``) never matches. heron compares it as written, like plain
paths, so such routes work. ``canonical`` and ``url_for`` still use the encoded form, as in
aiohttp.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Sized
from typing import Any, ClassVar

from yarl import URL

from .. import hdrs
from .._routing import (
    OpaquePattern,
    PlainPattern,
    RegexPattern,
    Template,
    decode_value,
    parse_template,
)
from .._routing.table import Pattern
from .exceptions import HTTPMethodNotAllowed
from .handler_types import ExpectHandler, Handler, RoutableRequest
from .match_info import UrlMappingMatchInfo
from .routes import AbstractRoute, ResourceRoute
from .view import AbstractView

__all__ = (
    "AbstractResource",
    "DynamicResource",
    "PlainResource",
    "PrefixResource",
    "PrefixedSubAppResource",
    "Resource",
    "quote_path",
    "requote_path",
)

#: ``(match_info or None, allowed methods)``, what ``resolve`` returns.
ResolveResult = tuple[UrlMappingMatchInfo | None, set[str]]


def quote_path(value: str) -> str:
    """Percent-encode ``value`` for a URL path, as yarl does (``/`` is kept)."""
    return URL.build(path=value, encoded=False).raw_path


def requote_path(value: str) -> str:
    """Percent-encode what must be, keeping the ``%XX`` escapes already in ``value``."""
    result = quote_path(value)
    return result.replace("%25", "%") if "%" in value else result


def match_form(literal: str) -> str:
    """The form of a path literal that request paths are compared with (``path_safe``)."""
    encoded = requote_path(literal)
    if "%" not in encoded:
        return encoded
    return URL.build(path=encoded, encoded=True).path_safe


def aiohttp_index_key(canonical: str) -> str:
    """The key aiohttp indexes a resource under: its text up to the last ``/`` before ``{``."""
    if "{" in canonical:
        canonical = canonical.partition("{")[0].rpartition("/")[0]
    return canonical.rstrip("/") or "/"


class AbstractResource(Sized, Iterable[AbstractRoute]):
    """A set of routes (one per method) answering for some paths."""

    #: Resources tried before the path index, in registration order (domain rules).
    _matched_first: ClassVar[bool] = False

    def __init__(self, *, name: str | None = None) -> None:
        self._name = name

    @property
    def name(self) -> str | None:
        """The name given at registration, used as ``router[name]``."""
        return self._name

    @property
    @abc.abstractmethod
    def canonical(self) -> str:
        """The canonical path, such as ``/users/{name}``."""

    @abc.abstractmethod
    def url_for(self, **kwargs: Any) -> URL:
        """Build a URL for this resource."""

    @abc.abstractmethod
    async def resolve(self, request: Any) -> ResolveResult:
        """Return ``(match_info, allowed_methods)``; ``match_info`` is None on no match."""

    @abc.abstractmethod
    def add_prefix(self, prefix: str) -> None:
        """Prepend ``prefix`` to the paths handled (used for sub-applications)."""

    @abc.abstractmethod
    def get_info(self) -> dict[str, Any]:
        """A dict with introspection data."""

    def freeze(self) -> None:
        """Called when the router is frozen."""

    @abc.abstractmethod
    def raw_match(self, path: str) -> bool:
        """Whether ``path`` is the path this resource was created with."""

    # heron's hooks for the compiled route table --------------------------------------

    def _table_pattern(self) -> Pattern:
        """How the route table finds this resource; opaque: it resolves itself."""
        return OpaquePattern(aiohttp_index_key(match_form(self.canonical)))

    def _can_resolve_sync(self) -> bool:
        """Whether ``_resolve_path`` gives the same answer as ``resolve``."""
        return False

    def _resolve_path(self, method: str, path: str, request: Any) -> ResolveResult:
        """Resolve synchronously, ``path`` being the request's ``path_safe``."""
        raise NotImplementedError


class Resource(AbstractResource):
    """A resource holding its routes in a dict keyed by method."""

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self._routes: dict[str, ResourceRoute] = {}
        self._any_route: ResourceRoute | None = None
        self._allowed_methods: set[str] = set()
        self._frozen = False

    def add_route(
        self,
        method: str,
        handler: Handler | type[AbstractView],
        *,
        expect_handler: ExpectHandler | None = None,
    ) -> ResourceRoute:
        """Add a route for ``method`` (``*`` for any method)."""
        if self._frozen:
            raise RuntimeError("Cannot add a route to a frozen resource.")
        if route := self._routes.get(method.upper(), self._any_route):
            raise RuntimeError(
                f"Added route will never be executed, method {route.method} is already registered"
            )
        route_obj = ResourceRoute(method, handler, self, expect_handler=expect_handler)
        self.register_route(route_obj)
        return route_obj

    def register_route(self, route: ResourceRoute) -> None:
        """Add an already built route."""
        if not isinstance(route, ResourceRoute):
            raise TypeError(f"Instance of Route class is required, got {route!r}")
        if route.method == hdrs.METH_ANY:
            self._any_route = route
        self._allowed_methods.add(route.method)
        self._routes[route.method] = route

    def freeze(self) -> None:
        """Forbid new routes."""
        self._frozen = True

    async def resolve(self, request: Any) -> ResolveResult:
        """Match ``request.rel_url.path_safe``, then pick the route for the method."""
        return self._resolve_path(request.method, request.rel_url.path_safe, request)

    def _can_resolve_sync(self) -> bool:
        return type(self).resolve is Resource.resolve

    def _resolve_path(self, method: str, path: str, request: Any) -> ResolveResult:
        if (match_dict := self._match(path)) is None:
            return None, set()
        if route := self._routes.get(method, self._any_route):
            return UrlMappingMatchInfo(match_dict, route), self._allowed_methods
        return None, self._allowed_methods

    @abc.abstractmethod
    def _match(self, path: str) -> dict[str, str] | None:
        """The values matched in ``path`` (a ``path_safe``), or None."""

    def __len__(self) -> int:
        return len(self._routes)

    def __iter__(self) -> Iterator[ResourceRoute]:
        return iter(self._routes.values())


class PlainResource(Resource):
    """A resource for one exact path, such as ``/about``."""

    def __init__(self, path: str, *, name: str | None = None) -> None:
        super().__init__(name=name)
        if path and not path.startswith("/"):
            raise ValueError("path should be started with / or be empty")
        self._path = path

    @property
    def canonical(self) -> str:
        """The path."""
        return self._path

    def freeze(self) -> None:
        """The empty path becomes ``/``."""
        super().freeze()
        if not self._path:
            self._path = "/"

    def add_prefix(self, prefix: str) -> None:
        """Prepend ``prefix`` (``/sub``, no trailing slash)."""
        _check_prefix(prefix)
        self._path = prefix + self._path

    def _match(self, path: str) -> dict[str, str] | None:
        return {} if path == self._path else None

    def _table_pattern(self) -> Pattern:
        cls = type(self)
        if cls._match is PlainResource._match and cls.resolve is Resource.resolve:
            return PlainPattern(self._path)
        return super()._table_pattern()

    def raw_match(self, path: str) -> bool:
        """Whether ``path`` is this resource's path."""
        return self._path == path

    def get_info(self) -> dict[str, Any]:
        """``{"path": path}``."""
        return {"path": self._path}

    def url_for(self) -> URL:  # type: ignore[override]
        """The path as a URL."""
        return URL.build(path=self._path, encoded=True)

    def __repr__(self) -> str:
        name = f"'{self.name}' " if self.name is not None else ""
        return f"<PlainResource {name} {self._path}>"


class DynamicResource(Resource):
    """A resource for a path template, such as ``/users/{name}`` or ``/n/{id:\\d+}``."""

    GOOD = r"[^{}/]+"

    def __init__(self, path: str, *, name: str | None = None) -> None:
        super().__init__(name=name)
        if not path.startswith("/"):
            raise ValueError("path should be started with / or be empty")
        self._orig_path = path
        self._set_template(parse_template(path))

    def _set_template(self, template: Template) -> None:
        self._raw_template = template
        self._template = template.map_literals(requote_path)
        self._pattern = template.compile()
        self._formatter = self._template.formatter()

    @property
    def canonical(self) -> str:
        """The template with the regexes left out: ``/users/{name}``."""
        return self._formatter

    def add_prefix(self, prefix: str) -> None:
        """Prepend ``prefix`` (``/sub``, no trailing slash)."""
        _check_prefix(prefix)
        raw = self._raw_template
        self._set_template(Template(prefix + raw.source, (prefix, *raw.parts)))

    def _match(self, path: str) -> dict[str, str] | None:
        match = self._pattern.fullmatch(path)
        if match is None:
            return None
        return {k: decode_value(v) for k, v in match.groupdict().items() if v is not None}

    def _table_pattern(self) -> Pattern:
        cls = type(self)
        if cls._match is DynamicResource._match and cls.resolve is Resource.resolve:
            return RegexPattern(self._raw_template)
        return super()._table_pattern()

    def raw_match(self, path: str) -> bool:
        """Whether ``path`` is the template this resource was created with."""
        return self._orig_path == path

    def get_info(self) -> dict[str, Any]:
        """``{"formatter": canonical, "pattern": compiled regex}``."""
        return {"formatter": self._formatter, "pattern": self._pattern}

    def url_for(self, **parts: str) -> URL:
        """Fill the template with ``parts`` (percent-encoded here); KeyError if one is missing."""
        path = self._template.format({k: quote_path(v) for k, v in parts.items()})
        return URL.build(path=path, encoded=True)

    def __repr__(self) -> str:
        name = f"'{self.name}' " if self.name is not None else ""
        return f"<DynamicResource {name} {self._formatter}>"


class PrefixResource(AbstractResource):
    """A resource for every path under a prefix (static files, sub-applications)."""

    def __init__(self, prefix: str, *, name: str | None = None) -> None:
        if prefix and not prefix.startswith("/"):
            raise ValueError(f"prefix should start with /: {prefix!r}")
        if prefix not in ("", "/") and prefix.endswith("/"):
            raise ValueError(f"prefix should not end with /: {prefix!r}")
        super().__init__(name=name)
        self._prefix = requote_path(prefix)
        self._prefix2 = self._prefix + "/"

    @property
    def canonical(self) -> str:
        """The prefix."""
        return self._prefix

    def add_prefix(self, prefix: str) -> None:
        """Prepend ``prefix`` (``/sub``, no trailing slash)."""
        _check_prefix(prefix)
        self._prefix = prefix + self._prefix
        self._prefix2 = self._prefix + "/"

    def _table_pattern(self) -> Pattern:
        return OpaquePattern(match_form(self._prefix))

    def raw_match(self, path: str) -> bool:
        """Always False: a prefix is never reused by ``add_resource``."""
        return False


class PrefixedSubAppResource(PrefixResource):
    """Hands the paths under ``prefix`` to a sub-application's router."""

    def __init__(self, prefix: str, app: Any) -> None:
        super().__init__(prefix)
        self._app = app
        self._add_prefix_to_resources(prefix)

    def add_prefix(self, prefix: str) -> None:
        """Prepend ``prefix`` here and on every resource of the sub-application."""
        super().add_prefix(prefix)
        self._add_prefix_to_resources(prefix)

    def _add_prefix_to_resources(self, prefix: str) -> None:
        router = self._app.router
        for resource in router.resources():
            # The index key depends on the path: take the resource out while it changes.
            router.unindex_resource(resource)
            resource.add_prefix(prefix)
            router.index_resource(resource)

    def url_for(self, *args: str, **kwargs: str) -> URL:
        """Not available: raises RuntimeError."""
        raise RuntimeError(".url_for() is not supported by sub-application root")

    def get_info(self) -> dict[str, Any]:
        """``{"app": app, "prefix": prefix}``."""
        return {"app": self._app, "prefix": self._prefix}

    async def resolve(self, request: Any) -> ResolveResult:
        """Resolve with the sub-application's router; its 404 is final."""
        match_info = await self._app.router.resolve(request)
        return self._wrap(match_info)

    def _can_resolve_sync(self) -> bool:
        sync_resolver = getattr(self._app.router, "sync_resolver", None)
        return type(self).resolve is PrefixedSubAppResource.resolve and (
            sync_resolver is not None and sync_resolver() is not None
        )

    def _resolve_path(self, method: str, path: str, request: Any) -> ResolveResult:
        return self._wrap(self._app.router._resolve_path(method, path, request))

    def _wrap(self, match_info: UrlMappingMatchInfo) -> ResolveResult:
        match_info.add_app(self._app)
        exc = match_info.http_exception
        methods = set(exc.allowed_methods) if isinstance(exc, HTTPMethodNotAllowed) else set()
        return match_info, methods

    def __len__(self) -> int:
        return len(self._app.router.routes())

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter(self._app.router.routes())

    def __repr__(self) -> str:
        return f"<PrefixedSubAppResource {self._prefix} -> {self._app!r}>"


def path_safe_of(request: RoutableRequest) -> str:
    """The request path in the form routes are matched against (yarl's ``path_safe``).

    Reads ``request.raw_path`` (the raw target, query string included) and only falls back
    to ``request.rel_url`` when the path holds an escape or is not in origin form.
    """
    # PERF: "plaintext": most paths hold no '%', so no yarl.URL is built or decoded.
    path = request.raw_path.partition("?")[0]
    if "%" in path or "#" in path or path[:1] != "/":
        return request.rel_url.path_safe
    return path


def _check_prefix(prefix: str) -> None:
    if not prefix.startswith("/") or prefix.endswith("/") or len(prefix) < 2:
        raise ValueError(f"Invalid prefix {prefix!r}: it starts with / and does not end with /")
