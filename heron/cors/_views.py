"""CORS on class-based views: ``CorsViewMixin.cors_config`` and ``@custom_cors``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ._options import Policy, merge, parse_policy

__all__ = ("CorsViewMixin", "custom_cors", "view_policy")

_F = TypeVar("_F", bound=Callable[..., Any])
_ATTR = "__heron_cors__"


class CorsViewMixin:
    """Mix into a ``web.View``: ``cors_config`` applies to all of its methods.

    As in aiohttp_cors, ``cors_config = {origin: ResourceOptions(...)}``; a method
    decorated with :func:`custom_cors` overrides it origin by origin.  The view's own
    config enables CORS on its route even without ``cors.add()``.
    """

    cors_config: Mapping[str, Any] | None = None


def custom_cors(config: Mapping[str, Any]) -> Callable[[_F], _F]:
    """Give one view method its own ``{origin: ResourceOptions}`` (checked now)."""
    policy = parse_policy(config)

    def decorate(method: _F) -> _F:
        setattr(method, _ATTR, policy)
        return method

    return decorate


def view_policy(view: type, method: str) -> Policy | None:
    """The policy a view class declares for ``method`` (None if it declares none)."""
    own = getattr(view, "cors_config", None)
    func = getattr(view, method.lower(), None)
    custom: Policy | None = getattr(func, _ATTR, None)
    if own is None and custom is None:
        return None
    return merge(parse_policy(own), custom)


def view_has_method(view: type, method: str) -> bool:
    """True if ``view`` answers ``method`` (a ``web.View`` dispatches on the lower-case name)."""
    return callable(getattr(view, method.lower(), None))
