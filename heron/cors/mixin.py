"""CORS on class-based views: ``CorsViewMixin.cors_config`` and ``@custom_cors``."""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .. import web
from .preflight_handler import PreflightForbidden, PreflightHandler
from .resource_options import Policy, ResourceOptions, merge, parse_policy

__all__ = ("APP_CONFIG_KEY", "CorsViewMixin", "custom_cors", "view_has_method", "view_policy")

_F = TypeVar("_F", bound=Callable[..., Any])

#: Where :func:`heron.cors.setup` keeps the app's ``CorsConfig`` (aiohttp_cors's key).
APP_CONFIG_KEY: web.AppKey[Any] = web.AppKey("aiohttp_cors")


def _custom_attribute(method: str) -> str:
    # aiohttp_cors's attribute name: a view's `post` carries `post_cors_config`.
    return f"{method.lower()}_cors_config"


class CorsViewMixin(PreflightHandler):
    """Mix into a ``web.View``: ``cors_config`` applies to all of its methods.

    As in aiohttp_cors, ``cors_config = {origin: ResourceOptions(...)}``; a method
    decorated with :func:`custom_cors` overrides it origin by origin, and the app's
    defaults fill in the rest.  The view's own config enables CORS on its route even
    without ``cors.add()``.  Preflights are answered before the view runs; an ``OPTIONS``
    request that is not one reaches :meth:`options`, which refuses it with a 403.
    """

    cors_config: Mapping[str, Any] | None = None
    request: web.Request

    @classmethod
    def get_request_config(
        cls, request: web.Request, request_method: str
    ) -> ChainMap[str, ResourceOptions]:
        """``{origin: ResourceOptions}`` for ``request_method`` (KeyError: no such method;
        ValueError: the application has no CORS set up)."""
        cors = _app_config(request)
        method = getattr(cls, request_method.lower(), None)
        if not method:
            raise KeyError(request_method)
        custom: Policy = getattr(method, _custom_attribute(request_method), None) or {}
        own = parse_policy(cls.cors_config)
        return ChainMap(custom, own, cors.defaults)

    async def _get_config(
        self, request: web.Request, origin: str, request_method: str
    ) -> Mapping[str, ResourceOptions]:
        try:
            return self.get_request_config(request, request_method)
        except ValueError:
            raise PreflightForbidden("CORS is not set up for this application") from None

    async def options(self) -> web.StreamResponse:
        """Answer a preflight sent to this view (refuse anything else with a 403)."""
        return await self._preflight_handler(self.request)


def _app_config(request: web.Request) -> Any:
    try:
        return request.app[APP_CONFIG_KEY]
    except (KeyError, TypeError):
        pass
    config_dict = getattr(request, "config_dict", None)
    if isinstance(config_dict, Mapping) and APP_CONFIG_KEY in config_dict:
        return config_dict[APP_CONFIG_KEY]  # a view of a sub-application
    raise ValueError("CORS is not set up: call heron.cors.setup(app) first")


def custom_cors(config: Mapping[str, Any]) -> Callable[[_F], _F]:
    """Give one view method its own ``{origin: ResourceOptions}`` (checked now)."""
    policy = parse_policy(config)

    def decorate(method: _F) -> _F:
        setattr(method, _custom_attribute(method.__name__), policy)
        return method

    return decorate


def view_policy(view: type, method: str) -> Policy | None:
    """The policy a view class declares for ``method`` (None if it declares none)."""
    own = getattr(view, "cors_config", None)
    func = getattr(view, method.lower(), None)
    custom: Policy | None = getattr(func, _custom_attribute(method), None)
    if own is None and custom is None:
        return None
    return merge(parse_policy(own), custom)


def view_has_method(view: type, method: str) -> bool:
    """True if ``view`` answers ``method`` (a ``web.View`` dispatches on the lower-case name)."""
    return callable(getattr(view, method.lower(), None))
