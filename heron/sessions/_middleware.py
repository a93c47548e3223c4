"""``setup``, ``session_middleware``, ``get_session`` and ``new_session``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .. import web
from ._bridge import bridge_aiohttp_session
from ._session import Session
from ._storage import AbstractStorage

__all__ = (
    "SESSION_KEY",
    "STORAGE_KEY",
    "get_session",
    "new_session",
    "session_middleware",
    "setup",
)

# The request keys aiohttp_session uses, kept so code that peeks at them still works.
SESSION_KEY = "aiohttp_session"
STORAGE_KEY = "aiohttp_session_storage"

log = logging.getLogger("heron.sessions")

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_Middleware = Callable[[web.Request, _Handler], Awaitable[web.StreamResponse]]


def _storage_of(request: web.Request) -> AbstractStorage:
    storage = request.get(STORAGE_KEY)
    if storage is None:
        raise RuntimeError(
            "No session storage for this request: call heron.sessions.setup(app, storage) "
            "or add session_middleware(storage) to the application's middlewares"
        )
    if not isinstance(storage, AbstractStorage):
        raise RuntimeError(f"request[{STORAGE_KEY!r}] is not a session storage: {storage!r}")
    return storage


async def get_session(request: web.Request) -> Session:
    """The request's session: loaded from its storage on first use, then cached."""
    session = request.get(SESSION_KEY)
    if session is None:
        session = await _storage_of(request).load_session(request)
        if not isinstance(session, Session):
            raise RuntimeError(f"Storage returned {session!r} instead of a Session")
        request[SESSION_KEY] = session
    assert isinstance(session, Session)
    return session


async def new_session(request: web.Request) -> Session:
    """Replace the request's session with a fresh one under a new identity.

    Call it when privileges change (log-in, log-out) so an identity an attacker planted
    or learnt before is worthless afterwards (session fixation).  The old session is
    dropped from server-side storage when the new one is saved, and the response always
    carries the new cookie.
    """
    storage = _storage_of(request)
    session = await storage.new_session()
    if not isinstance(session, Session):
        raise RuntimeError(f"Storage returned {session!r} instead of a Session")
    session.changed()
    request[SESSION_KEY] = session
    return session


def session_middleware(storage: AbstractStorage) -> _Middleware:
    """A middleware that gives handlers sessions from ``storage`` and saves changed ones.

    As aiohttp_session's: a changed session is saved into a returned ``web.Response`` (or
    ``json_response``...) or a raised ``web.HTTPException``.  Streamed responses
    (``StreamResponse``, ``FileResponse``, WebSocket) go out without it, since their
    headers may be sent before the session changes: a warning says so.  Returning a
    ``Response`` that was already prepared, or anything that is not a response, is an error.
    """
    if not isinstance(storage, AbstractStorage):
        raise RuntimeError(f"Expected a heron.sessions storage, got {storage!r}")

    @web.middleware
    async def sessions(request: web.Request, handler: _Handler) -> web.StreamResponse:
        bridge_aiohttp_session()  # aiohttp_session may be imported after the app was built
        request[STORAGE_KEY] = storage
        raised: web.HTTPException | None = None
        response: Any
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            # Redirects after a log-in are raised: they must carry the cookie too.
            response = raised = exc
        if not isinstance(response, web.StreamResponse):
            raise RuntimeError(f"Expected a response from the handler, got {type(response)!r}")
        session: Any = request.get(SESSION_KEY)
        if not isinstance(response, web.Response):
            if isinstance(session, Session) and session.is_changed:
                log.warning(
                    "The session changed but %s %s answered with a %s: the session is not "
                    "saved (change it before returning a web.Response instead)",
                    request.method,
                    request.path,
                    type(response).__name__,
                )
            return response
        if response.prepared:
            raise RuntimeError(
                "Cannot save the session into a response that is already prepared (its "
                "headers are sent): return the web.Response unprepared"
            )
        if isinstance(session, Session) and session.is_changed:
            await storage.save_session(request, response, session)
            session._mark_saved()
        if raised is not None:
            raise raised
        return response

    return sessions


def setup(app: web.Application, storage: AbstractStorage) -> None:
    """Install sessions backed by ``storage`` in ``app``."""
    app.middlewares.append(session_middleware(storage))
