"""CorsConfig: which routes allow which origins, the preflight middleware, the response hook."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard

from .. import hdrs, web
from ._options import Policy, ResourceOptions, merge, parse_policy
from ._views import view_has_method, view_policy

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
_PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


class _PreflightResponse(web.Response):
    """An answer to a preflight: the response hook leaves it as it is."""


def _add_vary(headers: Any, token: str) -> None:
    listed = {v.strip().lower() for h in headers.getall(hdrs.VARY, ()) for v in h.split(",")}
    if "*" not in listed and token.lower() not in listed:
        headers.add(hdrs.VARY, token)


def _is_view(handler: Any) -> TypeGuard[type[web.View]]:
    return isinstance(handler, type) and issubclass(handler, web.View)


def _reject(reason: str) -> web.Response:
    response = _PreflightResponse(status=403, text=f"CORS preflight rejected: {reason}")
    response.headers[hdrs.VARY] = _PREFLIGHT_VARY
    return response


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
        self._defaults = parse_policy(defaults)
        self._app_wide = app_wide
        # id() keys: routes and resources are kept alive by the router; _keep pins them too.
        self._routes: dict[tuple[int, str], Policy] = {}
        self._resources: dict[int, Policy] = {}
        self._apps: dict[int, Policy] = {}
        self._keep: list[object] = []
        self._views: dict[tuple[type, str], Policy | None] = {}
        app.middlewares.insert(0, self._preflight_middleware)
        app.on_response_prepare.append(self._on_response_prepare)

    def add(self, routing_entity: Any, config: Mapping[str, Any] | None = None, **_: Any) -> Any:
        """Enable CORS on a route, a resource or a sub-application; returns the entity.

        ``config`` (``{origin: ResourceOptions}``) overrides the defaults origin by
        origin; a route's config also overrides its resource's.
        """
        policy = parse_policy(config)
        if isinstance(routing_entity, web.Application):
            self._apps[id(routing_entity)] = merge(self._defaults, policy)
        elif isinstance(routing_entity, web.AbstractRoute):
            resource = routing_entity.resource
            if resource is None:
                raise ValueError(f"{routing_entity!r} has no resource: CORS cannot apply to it")
            base = self._resources.get(id(resource), self._defaults)
            self._routes[(id(resource), routing_entity.method)] = merge(base, policy)
        elif isinstance(routing_entity, web.AbstractResource):
            self._resources[id(routing_entity)] = merge(self._defaults, policy)
        else:
            raise TypeError(f"cannot enable CORS on {routing_entity!r}")
        self._keep.append(routing_entity)
        return routing_entity

    # ------------------------------------------------------------------ lookup

    def _policy(self, match_info: Any, method: str) -> Policy | None:
        """The policy for ``method`` on what ``match_info`` matched; None: CORS is off."""
        route = match_info.route
        resource = getattr(route, "resource", None)
        found: Policy | None = None
        if resource is not None:
            rid = id(resource)
            routes = self._routes
            found = (
                routes.get((rid, route.method))
                or (routes.get((rid, hdrs.METH_GET)) if route.method == hdrs.METH_HEAD else None)
                or self._resources.get(rid)
            )
        if found is None:
            for app in reversed(match_info.apps):
                found = self._apps.get(id(app))
                if found is not None:
                    break
        if found is None and self._app_wide:
            found = self._defaults
        handler = getattr(route, "handler", None)
        if _is_view(handler):
            key = (handler, method)
            if key not in self._views:
                self._views[key] = view_policy(handler, method)
            own = self._views[key]
            if own is not None:
                found = merge(found if found is not None else self._defaults, own)
        return found

    # ------------------------------------------------------------------ preflight

    @web.middleware
    async def _preflight_middleware(self, request: web.Request, handler: Any) -> Any:
        headers = request.headers
        if (
            request.method != hdrs.METH_OPTIONS
            or hdrs.ORIGIN not in headers
            or hdrs.ACCESS_CONTROL_REQUEST_METHOD not in headers
        ):
            return await handler(request)
        method = headers[hdrs.ACCESS_CONTROL_REQUEST_METHOD].strip()
        target = await self._app.router.resolve(request.clone(method=method))
        policy = self._policy(target, method)
        if policy is None:
            return await handler(request)  # not ours: the app's own OPTIONS handling
        error = getattr(target, "http_exception", None)
        if error is not None and error.status != 405:
            return await handler(request)
        return self._preflight(request, policy, method, routed=error is None, target=target)

    def _preflight(
        self, request: web.Request, policy: Policy, method: str, *, routed: bool, target: Any
    ) -> web.Response:
        origin = request.headers[hdrs.ORIGIN]
        options = policy.get(origin) or policy.get("*")
        if options is None:
            return _reject(f"origin {origin!r} is not allowed")
        handler = getattr(target.route, "handler", None)
        if not routed or (_is_view(handler) and not view_has_method(handler, method)):
            return _reject(f"method {method!r} is not served here")
        if not options.allows_method(method):
            return _reject(f"method {method!r} is not allowed")
        raw = request.headers.get(hdrs.ACCESS_CONTROL_REQUEST_HEADERS, "")
        requested = [h.strip().lower() for h in raw.split(",") if h.strip()]
        refused = options.disallowed_headers(requested)
        if refused:
            return _reject(f"headers {', '.join(refused)} are not allowed")
        response = _PreflightResponse()
        out = response.headers
        out[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
        if options.allow_credentials:
            out[hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS] = "true"
        out[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = method
        if requested:
            # Echoed, never "*": "*" does not cover Authorization, nor anything with credentials.
            out[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = ", ".join(requested)
        if options.max_age is not None:
            out[hdrs.ACCESS_CONTROL_MAX_AGE] = str(options.max_age)
        out[hdrs.VARY] = _PREFLIGHT_VARY
        return response

    # ------------------------------------------------------------------ actual requests

    async def _on_response_prepare(
        self, request: web.Request, response: web.StreamResponse
    ) -> None:
        if isinstance(response, _PreflightResponse):
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
            expose if isinstance(expose, str) else ", ".join(expose)
        )
