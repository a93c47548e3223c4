"""Middlewares: the ``@middleware`` marker and how a handler chain is built.

A chain is built once per route (and once per application stack for 404/405)
and reused for every request: no per-request wrapping, no extra tasks.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

__all__ = ("build_chain", "middleware")

_Handler = Callable[[Any], Awaitable[Any]]
F = TypeVar("F", bound=Callable[..., Any])


def middleware(f: F) -> F:
    """Mark ``async def mw(request, handler)`` as a new-style middleware."""
    f.__middleware_version__ = 1  # type: ignore[attr-defined]
    return f


def is_new_style(mw: Any) -> bool:
    return getattr(mw, "__middleware_version__", None) == 1


def warn_old_style(mw: Any) -> None:
    """aiohttp's warning for ``async def factory(app, handler)`` middlewares."""
    warnings.warn(
        f"old-style middleware {mw!r} deprecated, see #2252",
        DeprecationWarning,
        stacklevel=3,
    )


def build_chain(handler: _Handler, stack: Iterable[tuple[Any, Iterable[Any]]]) -> _Handler:
    """Wrap ``handler`` in the middlewares of each ``(app, middlewares)`` of ``stack``.

    ``stack`` runs outermost app first; within an app the first middleware in
    its list is the outermost.  New-style middlewares are bound with
    ``functools.partial`` and take the wrapped handler's attributes, as in
    aiohttp, so a middleware can inspect ``handler`` markers.
    """
    layers = [(app, list(mws)) for app, mws in stack]
    wrapped = handler
    for _app, mws in reversed(layers):
        for mw in reversed(mws):
            if is_new_style(mw):
                wrapped = functools.update_wrapper(functools.partial(mw, handler=wrapped), wrapped)
            else:
                wrapped = _OldStyle(mw, _app, wrapped)
    return wrapped


class _OldStyle:
    """An old-style factory ``async def mw(app, handler) -> handler``, called per request."""

    __slots__ = ("_app", "_factory", "_handler")

    def __init__(self, factory: Any, app: Any, handler: _Handler) -> None:
        self._factory = factory
        self._app = app
        self._handler = handler

    async def __call__(self, request: Any) -> Any:
        inner = await self._factory(self._app, self._handler)
        return await inner(request)
