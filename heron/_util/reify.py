"""``reify``: a lazily computed attribute, stored on the instance after first use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

__all__ = ("reify",)

T = TypeVar("T")


class reify(Generic[T]):
    """Like ``functools.cached_property`` without its lock (the event loop is one thread).

    A non-data descriptor: after the first access the value lives in the
    instance's ``__dict__`` and this descriptor is no longer consulted.
    """

    __slots__ = ("__dict__", "name", "wrapped")

    def __init__(self, wrapped: Callable[[Any], T]) -> None:
        self.wrapped = wrapped
        self.name = wrapped.__name__
        self.__doc__ = wrapped.__doc__

    @overload
    def __get__(self, inst: None, owner: type[Any]) -> reify[T]: ...

    @overload
    def __get__(self, inst: object, owner: type[Any]) -> T: ...

    def __get__(self, inst: object | None, owner: type[Any]) -> T | reify[T]:
        if inst is None:
            return self
        value = self.wrapped(inst)
        inst.__dict__[self.name] = value
        return value
