"""Signals and the cleanup context: lists of callbacks that freeze at start-up."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from .app import Application

__all__ = ("CleanupContext", "CleanupError", "FrozenList", "Signal")

T = TypeVar("T")


class FrozenList(list[T], Generic[T]):
    """A list that refuses changes once ``freeze()`` was called."""

    __slots__ = ("_frozen",)

    def __init__(self, items: Iterable[T] = ()) -> None:
        super().__init__(items)
        self._frozen = False

    @property
    def frozen(self) -> bool:
        return self._frozen

    def freeze(self) -> None:
        self._frozen = True

    def _check(self) -> None:
        if self._frozen:
            raise RuntimeError("Cannot modify frozen list.")

    def append(self, item: T) -> None:
        self._check()
        super().append(item)

    def extend(self, items: Iterable[T]) -> None:
        self._check()
        super().extend(items)

    def insert(self, index: Any, item: T) -> None:
        self._check()
        super().insert(index, item)

    def remove(self, item: T) -> None:
        self._check()
        super().remove(item)

    def pop(self, index: Any = -1) -> T:
        self._check()
        return super().pop(index)

    def clear(self) -> None:
        self._check()
        super().clear()

    def __setitem__(self, index: Any, value: Any) -> None:
        self._check()
        super().__setitem__(index, value)

    def __delitem__(self, index: Any) -> None:
        self._check()
        super().__delitem__(index)

    def __iadd__(self, items: Iterable[T]) -> FrozenList[T]:  # type: ignore[override,misc]
        self._check()
        super().__iadd__(items)
        return self

    def __hash__(self) -> int:  # type: ignore[override]
        if not self._frozen:
            raise RuntimeError("Cannot hash unfrozen list.")
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"<{type(self).__name__}(frozen={self._frozen}, {list.__repr__(self)})>"


class Signal(FrozenList[Callable[..., Any]]):
    """Callbacks awaited in order by ``send`` (``on_startup``, ``on_cleanup``…)."""

    __slots__ = ("_owner",)

    def __init__(self, owner: object = None) -> None:
        super().__init__()
        self._owner = owner

    async def send(self, *args: Any, **kwargs: Any) -> None:
        if not self._frozen:
            raise RuntimeError("Cannot send non-frozen signal.")
        for receiver in self:
            await receiver(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Signal owner={self._owner!r}, frozen={self._frozen}, {list.__repr__(self)}>"


class CleanupError(RuntimeError):
    """One or more cleanup callbacks failed; ``exceptions`` lists them."""

    @property
    def exceptions(self) -> list[BaseException]:
        result: list[BaseException] = self.args[1]
        return result


class CleanupContext(FrozenList[Callable[["Application"], Any]]):
    """``app.cleanup_ctx``: async generators (or async context managers) per app.

    The code before ``yield`` runs at start-up, the code after it at cleanup,
    in reverse order of registration.
    """

    __slots__ = ("_exits",)

    def __init__(self) -> None:
        super().__init__()
        self._exits: list[AsyncIterator[None] | contextlib.AbstractAsyncContextManager[Any]] = []

    async def _on_startup(self, app: Application) -> None:
        for factory in self:
            ctx = factory(app)
            if hasattr(ctx, "__anext__"):
                await ctx.__anext__()
            elif hasattr(ctx, "__aenter__"):
                await ctx.__aenter__()
            else:
                raise TypeError(
                    f"cleanup_ctx entries must be async generators or async context managers, "
                    f"got {ctx!r}"
                )
            self._exits.append(ctx)

    async def _on_cleanup(self, app: Application) -> None:
        errors: list[BaseException] = []
        for ctx in reversed(self._exits):
            try:
                if hasattr(ctx, "__anext__"):
                    try:
                        await ctx.__anext__()
                    except StopAsyncIteration:
                        pass
                    else:
                        errors.append(RuntimeError(f"{ctx!r} has more than one 'yield'"))
                else:
                    await ctx.__aexit__(None, None, None)
            except (Exception, asyncio.CancelledError) as exc:
                # As aiohttp: a cancelled or failing context does not stop the others.
                errors.append(exc)
        self._exits.clear()
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise CleanupError("Multiple errors on cleanup stage", errors)
