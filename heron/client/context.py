"""The object ``session.get(...)`` and ``session.ws_connect(...)`` return.

Await it for the response (or WebSocket), or use it with ``async with``: the
response's own ``__aexit__`` then runs at the end of the block (releasing a
response, closing a WebSocket).  It is a coroutine object itself (as aiohttp's
request context managers are), so ``asyncio.create_task(session.get(url))`` and
``asyncio.gather(...)`` accept it.
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

__all__ = ("AwaitableContext",)


class _AsyncExit(Protocol):
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


T = TypeVar("T", bound=_AsyncExit)


class AwaitableContext(Coroutine[Any, Any, T], Generic[T]):
    """Awaitable for the result of ``coro``; as an async context manager, it exits the
    result's own context at the end of the block.  The coroutine protocol (``send``,
    ``throw``, ``close``) is ``coro``'s own."""

    __slots__ = ("_coro", "_result")

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        self._coro = coro
        self._result: T | None = None

    def send(self, value: Any, /) -> Any:
        return self._coro.send(value)

    def throw(
        self,
        typ: type[BaseException] | BaseException,
        val: object = None,
        tb: TracebackType | None = None,
        /,
    ) -> Any:
        if val is None and tb is None:
            return self._coro.throw(typ)
        return self._coro.throw(typ, val, tb)  # type: ignore[arg-type]

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, T]:
        return self._coro.__await__()

    async def __aenter__(self) -> T:
        self._result = await self._coro
        return self._result

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._result is not None:
            await self._result.__aexit__(exc_type, exc, tb)
