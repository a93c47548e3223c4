"""Middlewares: the ``@middleware`` marker, ``normalize_path_middleware`` and how a
handler chain is built.

A chain is built once per route (and once per application stack for 404/405)
and reused for every request: no per-request wrapping, no extra tasks.
"""

from __future__ import annotations

import functools
import re
import sys
import warnings
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final, TypeVar

from .exceptions import AIOHTTP_EXCEPTIONS, HTTPMove, HTTPPermanentRedirect, from_aiohttp
from .routes import SystemRoute

__all__ = ("build_chain", "middleware", "normalize_path_middleware")

_Handler = Callable[[Any], Awaitable[Any]]
F = TypeVar("F", bound=Callable[..., Any])

_SLASHES: Final = re.compile(r"//+")


def middleware(f: F) -> F:
    """Mark ``async def mw(request, handler)`` as a new-style middleware."""
    f.__middleware_version__ = 1  # type: ignore[attr-defined]
    return f


def is_new_style(mw: Any) -> bool:
    """Whether ``mw`` was marked with :func:`middleware`."""
    return getattr(mw, "__middleware_version__", None) == 1


def warn_old_style(mw: Any) -> None:
    """aiohttp's warning for ``async def factory(app, handler)`` middlewares."""
    warnings.warn(
        f'old-style middleware "{mw!r}" deprecated, see #2252',
        DeprecationWarning,
        stacklevel=3,
    )


def build_chain(handler: _Handler, stack: Iterable[tuple[Any, Iterable[Any]]]) -> _Handler:
    """Wrap ``handler`` in the middlewares of each ``(app, middlewares)`` of ``stack``.

    ``stack`` runs outermost app first; within an app the first middleware in
    its list is the outermost.  New-style middlewares are bound with
    ``functools.partial`` and take the wrapped handler's attributes, as in
    aiohttp, so a middleware can inspect ``handler`` markers.

    While an app's middlewares run, ``request.match_info.current_app`` (and so
    ``request.app``) is that app; the handler sees the innermost app.  The
    match info starts with the innermost app as ``current_app``, so a switch
    is only inserted where the app changes.
    """
    layers = [(app, list(mws)) for app, mws in stack]
    if not any(mws for _, mws in layers):
        # PERF: "plaintext": no middleware anywhere, the handler is the chain.
        return handler
    innermost = layers[-1][0]
    # Outside in: which layers need a switch of current_app in front of them.
    switch: list[bool] = []
    current = innermost
    for index, (app, mws) in enumerate(layers):
        runs = bool(mws) or index == len(layers) - 1
        needed = runs and app is not current
        switch.append(needed)
        if needed:
            current = app
    wrapped = handler
    if AIOHTTP_EXCEPTIONS in sys.modules:
        # PERF: "middleware": only where aiohttp's server side is loaded when the route
        # first runs (otherwise no aiohttp exception can be raised yet, and one raised
        # later is still answered right, by the server, past the middlewares).
        wrapped = _answering_aiohttp(handler)
    for (app, mws), needed in zip(reversed(layers), reversed(switch)):  # noqa: B905
        for mw in reversed(mws):
            if is_new_style(mw):
                wrapped = functools.update_wrapper(_bind(mw, wrapped), wrapped)
            else:
                wrapped = _OldStyle(mw, app, wrapped)
        if needed:
            wrapped = _current_app(app, wrapped)
    return wrapped


def _answering_aiohttp(handler: _Handler) -> _Handler:
    """``handler`` raising heron's equal of an ``aiohttp.web`` HTTPException it raises.

    Code written for aiohttp.web (aiohttp-security's ``check_permission``) raises aiohttp's
    classes; the middlewares around it catch ``web.HTTPException`` (heron.sessions saves
    into a raised redirect), so they get heron's.
    """

    async def answering_aiohttp(request: Any) -> Any:
        try:
            return await handler(request)
        except Exception as exc:
            answer = from_aiohttp(exc)
            if answer is None:
                raise
            raise answer from None

    return functools.update_wrapper(answering_aiohttp, handler)


def _bind(mw: Any, handler: _Handler) -> _Handler:
    """``mw`` with its ``handler`` argument bound: aiohttp's ``partial(mw, handler=...)``.

    PERF: "middleware": a closure call costs well under half of a keyword
    ``functools.partial`` call (which builds a kwargs dict on every call).
    """

    def bound(request: Any) -> Awaitable[Any]:
        return mw(request, handler=handler)  # type: ignore[no-any-return]

    return bound


def _current_app(app: Any, handler: _Handler) -> _Handler:
    """Makes ``app`` the request's ``current_app`` while ``handler`` (the inner chain) runs.

    Takes the wrapped handler's attributes, like a bound middleware, so that the
    middlewares of an outer application see the route handler's markers too.
    """

    async def with_current_app(request: Any) -> Any:
        match_info = request._match_info
        previous = match_info._current_app
        match_info._current_app = app
        try:
            return await handler(request)
        finally:
            match_info._current_app = previous

    return functools.update_wrapper(with_current_app, handler)


class _OldStyle:
    """An old-style factory ``async def mw(app, handler) -> handler``, called per request
    as in aiohttp (a factory may do per-request work before returning its handler)."""

    __slots__ = ("_app", "_factory", "_handler")

    def __init__(self, factory: Any, app: Any, handler: _Handler) -> None:
        self._factory = factory
        self._app = app
        self._handler = handler

    async def __call__(self, request: Any) -> Any:
        inner = await self._factory(self._app, self._handler)
        return await inner(request)


class _ConflictingSlashes(ValueError, AssertionError):
    """Both ``append_slash`` and ``remove_slash``: a ValueError, and an AssertionError too
    (aiohttp refuses the pair with an ``assert``, so code written for it may catch that)."""


def normalize_path_middleware(
    *,
    append_slash: bool = True,
    remove_slash: bool = False,
    merge_slashes: bool = True,
    redirect_class: type[HTTPMove] = HTTPPermanentRedirect,
) -> Callable[[Any, _Handler], Awaitable[Any]]:
    """A middleware that redirects a request the router could not match to a normalised
    path that it can match.

    Candidates, tried in this order, the first that resolves wins: slashes merged
    (``merge_slashes``), a trailing slash added (``append_slash``) or removed
    (``remove_slash``), then both.  ``append_slash`` and ``remove_slash`` exclude each
    other.  The query string is kept.

    Stricter than aiohttp (CVE-2021-21330): a redirect target never starts with ``//``
    or ``/\\``, which browsers read as another host, whatever the candidate.
    """
    if append_slash and remove_slash:
        raise _ConflictingSlashes("Cannot both remove and append slash")

    def candidates(path: str, ends_with_slash: bool) -> list[str]:
        out: list[str] = []
        merged = _SLASHES.sub("/", path)
        if merge_slashes:
            out.append(merged)
        if append_slash and not ends_with_slash:
            out.append(path + "/")
        if remove_slash and ends_with_slash:
            out.append(path[:-1])
        if merge_slashes and append_slash:
            out.append(_SLASHES.sub("/", path + "/"))
        if merge_slashes and remove_slash and merged.endswith("/"):
            out.append(merged[:-1])
        return out

    @middleware
    async def impl(request: Any, handler: _Handler) -> Any:
        if isinstance(request.match_info.route, SystemRoute):
            path, sep, query = request.raw_path.partition("#")[0].partition("?")
            for candidate in candidates(path, request.path.endswith("/")):
                # SECURITY: GHSA-v6wp-4m6f-gcjg; never send the client to "//host".
                candidate = "/" + candidate.lstrip("/\\")
                if candidate == path:
                    continue
                alt = request.clone(rel_url=candidate)
                match_info = await request.app.router.resolve(alt)
                if match_info.http_exception is None:
                    raise redirect_class(candidate + sep + query)
        return await handler(request)

    return impl
