"""ResourceOptions and policy parsing: what one origin may do with a resource."""

from __future__ import annotations

import warnings
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ("OriginWarning", "Policy", "ResourceOptions", "merge", "parse_policy")

_Names = str | Collection[str]


def _names(value: _Names, what: str, *, upper: bool = False) -> str | frozenset[str]:
    if value == "*":
        return "*"
    if isinstance(value, str) or not isinstance(value, Collection):
        # A lone name is refused (as aiohttp_cors does): "GET" is not ["GET"].
        raise ValueError(f"{what} must be '*' or a collection of names, got {value!r}")
    if not all(isinstance(v, str) and v and v != "*" for v in value):
        raise ValueError(f"{what} must be '*' or a collection of names, got {value!r}")
    return frozenset(name.upper() if upper else name for name in value)


@dataclass(frozen=True)
class ResourceOptions:
    """What an origin may do: aiohttp_cors's ``ResourceOptions``, same fields and meaning.

    ``allow_credentials``: the browser may send cookies and read the response.
    ``expose_headers``: response headers the page may read (``"*"``: all of them).
    ``allow_headers``: request headers the page may send (``"*"``: any); kept upper-case.
    ``max_age``: seconds the browser may cache a preflight answer.
    ``allow_methods``: methods a preflight may ask for.  ``None``: any method a route with
    CORS serves; ``"*"`` or a list: those, even where no route serves them.

    The collections are normalised to frozensets, as aiohttp_cors's are.
    """

    allow_credentials: bool = False
    expose_headers: _Names = frozenset()
    allow_headers: _Names = frozenset()
    max_age: int | None = None
    allow_methods: _Names | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.allow_credentials, bool):
            raise ValueError("allow_credentials must be a bool")
        if self.max_age is not None and (
            isinstance(self.max_age, bool) or not isinstance(self.max_age, int) or self.max_age < 0
        ):
            raise ValueError(f"max_age must be a non-negative int, got {self.max_age!r}")
        set_ = object.__setattr__
        set_(self, "expose_headers", _names(self.expose_headers, "expose_headers"))
        set_(self, "allow_headers", _names(self.allow_headers, "allow_headers", upper=True))
        if self.allow_methods is not None:
            set_(self, "allow_methods", _names(self.allow_methods, "allow_methods", upper=True))

    def is_method_allowed(self, method: str) -> bool:
        """Whether ``allow_methods`` names ``method`` (aiohttp_cors's test: None names none)."""
        methods = self.allow_methods
        return methods == "*" or (methods is not None and method.upper() in methods)

    def allows_method(self, method: str, *, routed: bool) -> bool:
        """Whether a preflight may ask for ``method``; ``routed``: a route with CORS serves it."""
        return (routed and self.allow_methods is None) or self.is_method_allowed(method)

    def disallowed_headers(self, requested: Collection[str]) -> list[str]:
        """The ``requested`` header names (upper-case) this origin may not send."""
        allowed = self.allow_headers
        if allowed == "*":
            return []
        return [name for name in requested if name.upper() not in allowed]


#: Origin (``"*"`` for any) to its options.
Policy = dict[str, ResourceOptions]


class OriginWarning(UserWarning):
    """A configured origin can never match the ``Origin`` header a browser sends."""


def _check_origin(origin: Any) -> str:
    if not isinstance(origin, str) or not origin:
        raise ValueError(f"an origin must be a non-empty str, got {origin!r}")
    if origin in ("*", "null"):
        return origin
    scheme, sep, rest = origin.partition("://")
    if not sep:
        # aiohttp_cors takes it silently; it matches nothing, since browsers send a scheme.
        warnings.warn(
            f"CORS origin {origin!r} has no scheme, so it matches no browser's Origin header: "
            f"write it as 'https://{origin}'",
            OriginWarning,
            stacklevel=4,
        )
        return origin
    if not scheme or not rest or "/" in rest:
        raise ValueError(
            f"origin {origin!r} must look like 'https://example.com[:port]' (no path), or '*'"
        )
    return origin


def parse_policy(config: Mapping[str, Any] | None) -> Policy:
    """``{origin: ResourceOptions or a mapping of its fields}`` checked and normalised."""
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise TypeError(f"CORS config must be a mapping of origin to options, got {config!r}")
    policy: Policy = {}
    for origin, options in config.items():
        if isinstance(options, Mapping):
            options = ResourceOptions(**options)
        elif not isinstance(options, ResourceOptions):
            raise TypeError(f"options for {origin!r} must be ResourceOptions, got {options!r}")
        policy[_check_origin(origin)] = options
    return policy


def merge(*policies: Policy | None) -> Policy:
    """Later policies override earlier ones, origin by origin."""
    merged: Policy = {}
    for policy in policies:
        if policy:
            merged.update(policy)
    return merged
