"""``setup``, ``session_middleware``, ``get_session`` and ``new_session``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .. import web
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
    """A middleware that gives handlers sessions from ``storage`` and saves changed ones."""
    if not isinstance(storage, AbstractStorage):
        raise RuntimeError(f"Expected a heron.sessions storage, got {storage!r}")

    @web.middleware
    async def sessions(request: web.Request, handler: _Handler) -> web.StreamResponse:
        request[STORAGE_KEY] = storage
        raised: web.HTTPException | None = None
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            # Redirects after a log-in are raised: they must carry the cookie too.
            raised = exc
            response = exc
        session: Any = request.get(SESSION_KEY)
        if isinstance(session, Session) and session.is_changed:
            if response.prepared:
                raise RuntimeError(
                    "The session changed after the response was prepared (its headers are "
                    "sent): change the session before response.prepare() or streaming"
                )
            await storage.save_session(request, response, session)
            session._mark_saved()
        if raised is not None:
            raise raised
        return response

    return sessions


def setup(app: web.Application, storage: AbstractStorage) -> None:
    """Install sessions backed by ``storage`` in ``app``."""
    app.middlewares.append(session_middleware(storage))
