"""ResourceOptions and policy parsing: what one origin may do with a resource."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ("Policy", "ResourceOptions", "merge", "parse_policy")

_Names = str | Collection[str]


def _names(value: _Names, what: str, *, upper: bool = False) -> str | tuple[str, ...]:
    if value == "*":
        return "*"
    if isinstance(value, str):
        # A lone name is a common slip for a one-element list: accept it as such.
        value = (value,)
    if not all(isinstance(v, str) and v and v != "*" for v in value):
        raise ValueError(f"{what} must be '*' or a collection of names, got {value!r}")
    seen: dict[str, str] = {}
    for name in value:
        seen.setdefault(name.lower(), name.upper() if upper else name)
    return tuple(seen.values())


@dataclass(frozen=True)
class ResourceOptions:
    """What an origin may do: aiohttp_cors's ``ResourceOptions``, same fields and meaning.

    ``allow_credentials``: the browser may send cookies and read the response.
    ``expose_headers``: response headers the page may read (``"*"``: all of them).
    ``allow_headers``: request headers the page may send (``"*"``: any).
    ``max_age``: seconds the browser may cache a preflight answer.
    ``allow_methods``: methods the page may use (``"*"`` or None: any routed method).
    """

    allow_credentials: bool = False
    expose_headers: _Names = ()
    allow_headers: _Names = ()
    max_age: int | None = None
    allow_methods: _Names | None = None
    _allowed_headers: frozenset[str] | None = field(
        init=False, repr=False, compare=False, default=None
    )

    def __post_init__(self) -> None:
        if not isinstance(self.allow_credentials, bool):
            raise ValueError("allow_credentials must be a bool")
        if self.max_age is not None and (
            isinstance(self.max_age, bool) or not isinstance(self.max_age, int) or self.max_age < 0
        ):
            raise ValueError(f"max_age must be a non-negative int, got {self.max_age!r}")
        expose = _names(self.expose_headers, "expose_headers")
        allow = _names(self.allow_headers, "allow_headers")
        set_ = object.__setattr__
        set_(self, "expose_headers", expose)
        set_(self, "allow_headers", allow)
        if self.allow_methods is not None:
            set_(self, "allow_methods", _names(self.allow_methods, "allow_methods", upper=True))
        if allow != "*":
            set_(self, "_allowed_headers", frozenset(h.lower() for h in allow))

    def allows_method(self, method: str) -> bool:
        """True if ``method`` is allowed (a method no route serves is refused elsewhere)."""
        methods = self.allow_methods
        return methods is None or methods == "*" or method.upper() in methods

    def disallowed_headers(self, requested: Collection[str]) -> list[str]:
        """The lower-cased ``requested`` header names this origin may not send."""
        allowed = self._allowed_headers
        if allowed is None:
            return []
        return [name for name in requested if name not in allowed]


#: Origin (``"*"`` for any) to its options.
Policy = dict[str, ResourceOptions]


def _check_origin(origin: Any) -> str:
    if not isinstance(origin, str) or not origin:
        raise ValueError(f"an origin must be a non-empty str, got {origin!r}")
    if origin in ("*", "null"):
        return origin
    scheme, sep, rest = origin.partition("://")
    if not sep or not scheme or not rest or "/" in rest:
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
