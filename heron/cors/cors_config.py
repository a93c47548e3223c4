"""CorsConfig: which routes allow which origins, the preflight middleware, the response hook."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, TypeGuard

from .. import hdrs, web
from .mixin import CorsViewMixin, view_has_method, view_policy
from .preflight_handler import (
    PreflightForbidden,
    PreflightResponse,
    answer_preflight,
    parse_preflight,
)
from .resource_options import Policy, ResourceOptions, merge, parse_policy

__all__ = ("CorsConfig",)

# Response headers a page may always read (Fetch: CORS-safelisted response-header names),
# plus those never worth exposing.
_NOT_EXPOSED = frozenset(
    {
        "cache-control",
        "content-language",
        "content-length",
        "content-type",
        "expires",
        "last-modified",
        "pragma",
        "set-cookie",
        "vary",
    }
)


def _add_vary(headers: Any, token: str) -> None:
    listed = {v.strip().lower() for h in headers.getall(hdrs.VARY, ()) for v in h.split(",")}
    if "*" not in listed and token.lower() not in listed:
        headers.add(hdrs.VARY, token)


def _is_view(handler: Any) -> TypeGuard[type[web.View]]:
    return isinstance(handler, type) and issubclass(handler, web.View)


class CorsConfig:
    """The CORS setup of one application (what :func:`heron.cors.setup` returns).

    Routes opt in with :meth:`add` (a route, a resource, a static resource or a whole
    sub-application), or all at once with ``app_wide=True``.  Preflight requests to an
    opted-in route are answered by a middleware placed first, before any handler or
    other middleware runs; CORS headers go on every other response to it, including
    errors, streamed and file responses, from ``on_response_prepare``.
    """

    def __init__(
        self,
        app: web.Application,
        *,
        defaults: Mapping[str, Any] | None = None,
        app_wide: bool = False,
    ) -> None:
        self._app = app
        #: ``{origin: ResourceOptions}`` for every route added without its own options.
        self.defaults: Policy = parse_policy(defaults)
        self._app_wide = app_wide
        # id() keys: routes and resources are kept alive by the router; _keep pins them too.
        self._routes: dict[tuple[int, str], Policy] = {}
        self._resources: dict[int, Policy] = {}
        # A resource that only had routes added: their options cover its other methods too
        # (as in aiohttp_cors), and refuse preflights for methods nothing there serves.
        self._implied: dict[int, Policy] = {}
        self._apps: dict[int, Policy] = {}
        self._keep: list[object] = []
        self._views: dict[tuple[type, str], Policy | None] = {}
        app.middlewares.insert(0, self._preflight_middleware)
        app.on_response_prepare.append(self._on_response_prepare)

    def add(
        self,
        routing_entity: Any,
        config: Mapping[str, Any] | None = None,
        webview: bool = False,
    ) -> Any:
        """Enable CORS on a route, a resource or a sub-application; returns the entity.

        ``config`` (``{origin: ResourceOptions}``) overrides the defaults origin by
        origin; a route's config also overrides its resource's.  A class-based view must
        mix in :class:`CorsViewMixin` (its ``cors_config`` is its own options).
        """
        if webview:
            warnings.warn(
                "add(..., webview=True) is not needed: class-based views are recognised",
                DeprecationWarning,
                stacklevel=2,
            )
        policy = parse_policy(config)
        if isinstance(routing_entity, web.Application):
            self._apps[id(routing_entity)] = merge(self.defaults, policy)
        elif isinstance(routing_entity, web.AbstractRoute):
            resource = routing_entity.resource
            if resource is None:
                raise ValueError(f"{routing_entity!r} has no resource: CORS cannot apply to it")
            handler = routing_entity.handler
            if _is_view(handler) and not issubclass(handler, CorsViewMixin):
                raise ValueError(
                    f"{handler.__qualname__} must mix in heron.cors.CorsViewMixin to have CORS"
                )
            rid = id(resource)
            merged = merge(self._resources.get(rid, self.defaults), policy)
            self._routes[(rid, routing_entity.method)] = merged
            self._implied.setdefault(rid, merged)
        elif isinstance(routing_entity, web.AbstractResource):
            self._resources[id(routing_entity)] = merge(self.defaults, policy)
        else:
            raise TypeError(f"cannot enable CORS on {routing_entity!r}")
        self._keep.append(routing_entity)
        return routing_entity

    # ------------------------------------------------------------------ lookup

    def _resource_policy(self, resource: Any) -> Policy | None:
        rid = id(resource)
        return self._resources.get(rid) or self._implied.get(rid)

    def _policy(self, match_info: Any, method: str) -> Policy | None:
        """The policy for ``method`` on what ``match_info`` matched; None: CORS is off."""
        route = match_info.route
        resource = getattr(route, "resource", None)
        found: Policy | None = None
        if resource is not None:
            routes = self._routes
            rid = id(resource)
            found = (
                routes.get((rid, route.method))
                or (routes.get((rid, hdrs.METH_GET)) if route.method == hdrs.METH_HEAD else None)
                or self._resource_policy(resource)
            )
        if found is None:
            for app in reversed(match_info.apps):
                found = self._apps.get(id(app))
                if found is not None:
                    break
        if found is None and self._app_wide:
            found = self.defaults
        handler = getattr(route, "handler", None)
        if _is_view(handler):
            key = (handler, method)
            if key not in self._views:
                self._views[key] = view_policy(handler, method)
            own = self._views[key]
            if own is not None:
                found = merge(found if found is not None else self.defaults, own)
        return found

    async def _unserved(self, request: web.Request, target: Any) -> Policy | None:
        """For a 405 (no route serves the method): the policy of the resource that matched
        the path, found through a method it does serve."""
        error = target.http_exception
        for method in sorted(getattr(error, "allowed_methods", ())):
            found = await self._app.router.resolve(request.clone(method=method))
            resource = getattr(found.route, "resource", None)
            if found.http_exception is None and resource is not None:
                return self._resource_policy(resource) or self._policy(found, method)
        return None

    # ------------------------------------------------------------------ preflight

    @web.middleware
    async def _preflight_middleware(self, request: web.Request, handler: Any) -> Any:
        if request.method != hdrs.METH_OPTIONS:
            return await handler(request)
        headers = request.headers
        requested = headers.get(hdrs.ACCESS_CONTROL_REQUEST_METHOD)
        if hdrs.ORIGIN in headers and requested is not None:
            method = requested.strip()
            target = await self._app.router.resolve(request.clone(method=method))
        else:
            # Not a preflight: the app's own OPTIONS route answers it if there is one; where
            # none is and CORS is on, it is a failed preflight (the 403 says what it lacks).
            method = hdrs.METH_OPTIONS
            target = request.match_info
            if target.http_exception is None:
                return await handler(request)
        error = target.http_exception
        if error is not None and error.status != 405:
            return await handler(request)  # 404: not ours
        routed = error is None
        policy = self._policy(target, method)
        if policy is None and not routed:
            policy = await self._unserved(request, target)
        if policy is None:
            return await handler(request)  # not ours: the app's own OPTIONS handling
        view = getattr(target.route, "handler", None)
        if _is_view(view) and not view_has_method(view, method):
            routed = False
        origin, method = parse_preflight(request)
        return answer_preflight(request, origin, method, policy, routed=routed)

    # ------------------------------------------------------------------ actual requests

    async def _on_response_prepare(
        self, request: web.Request, response: web.StreamResponse
    ) -> None:
        if isinstance(response, (PreflightResponse, PreflightForbidden)):
            return
        match_info = request.match_info
        if match_info is None:
            return
        policy = self._policy(match_info, request.method)
        if policy is None:
            return
        headers = response.headers
        # The CORS headers depend on Origin, even on a response to a request without one.
        _add_vary(headers, hdrs.ORIGIN)
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is None or hdrs.ACCESS_CONTROL_ALLOW_ORIGIN in headers:
            return
        options = policy.get(origin) or policy.get("*")
        if options is not None:
            _allow(headers, origin, options)


def _allow(headers: Any, origin: str, options: ResourceOptions) -> None:
    # The origin is echoed, never "*": the answer is the same with or without credentials.
    headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
    if options.allow_credentials:
        headers[hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS] = "true"
    expose = options.expose_headers
    if expose == "*" and options.allow_credentials:
        # With credentials a browser reads "*" as a header named "*": list the names.
        names = {
            name.lower(): name
            for name in headers
            if name.lower() not in _NOT_EXPOSED and not name.lower().startswith("access-control-")
        }
        expose = tuple(names.values())
    if expose:
        headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = (
            expose if isinstance(expose, str) else ", ".join(sorted(expose))
        )
