"""StateMapping: the ``obj["key"]`` state that applications, requests and responses carry.

All are mutable mappings over a private dict, yet compare and hash by identity
and are always truthy (an empty state must not make a response falsy).
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any, TypeVar

__all__ = ("StateMapping",)

K = TypeVar("K")


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
