"""StateMapping: the ``obj["key"]`` state that applications, requests and responses carry.

All are mutable mappings over a private dict, yet compare and hash by identity
and are always truthy (an empty state must not make a response falsy).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, MutableMapping
from typing import Any, TypeVar

__all__ = ("NotAppKeyWarning", "StateMapping", "warn_str_key")

K = TypeVar("K")


class NotAppKeyWarning(UserWarning):
    """A plain ``str`` was used as a key in an application's, request's or response's state."""


def warn_str_key(key: str, seen: set[str], key_class: str, anchor: str) -> None:
    """Warn that a plain ``str`` state key was used, and remember it in ``seen``.

    Callers warn once per key: they call this only for a ``str`` key not yet in ``seen``
    (checked inline: ``__setitem__`` is on the "middleware" bench path).  ``key_class`` names
    the typed key to use instead (``RequestKey``...) and ``anchor`` the section of aiohttp's
    documentation that explains it.
    """
    seen.add(key)
    warnings.warn(
        f"It is recommended to use web.{key_class} instances for keys.\n"
        f"https://docs.aiohttp.org/en/stable/web_advanced.html#{anchor}",
        NotAppKeyWarning,
        stacklevel=3,
    )


class StateMapping(MutableMapping[K, Any]):
    """A mapping over ``self._state``; equality and hashing are by identity."""

    __slots__ = ()

    _state: dict[K, Any]

    def __getitem__(self, key: K) -> Any:
        return self._state[key]

    def __setitem__(self, key: K, value: Any) -> None:
        self._state[key] = value

    def __delitem__(self, key: K) -> None:
        del self._state[key]

    def __len__(self) -> int:
        return len(self._state)

    def __iter__(self) -> Iterator[K]:
        return iter(self._state)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __bool__(self) -> bool:
        return True
