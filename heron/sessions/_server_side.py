"""``ServerSideStorage``: sessions kept by a key-value server; the cookie carries only a key.

The shared logic of ``RedisStorage`` and ``MemcachedStorage``: a subclass says how to get,
set (with expiry) and delete one value.
"""

from __future__ import annotations

import re
import secrets
from abc import abstractmethod
from collections.abc import Callable
from typing import Any

from .. import web
from ._session import Session
from ._storage import AbstractStorage

__all__ = ("ServerSideStorage", "random_key")

# What a key made by a sane key factory looks like; anything else is ignored unread (and
# never reaches the server: memcached refuses keys with spaces or control characters).
_KEY_SHAPE = re.compile(r"[A-Za-z0-9_\-]{8,128}")


def random_key() -> str:
    """256 random bits, url-safe: the default session key."""
    return secrets.token_urlsafe(32)


class ServerSideStorage(AbstractStorage):
    """Keeps each session under ``"<cookie_name>_<key>"`` on a server, with its ``max_age`` as
    the server's expiry.  A key the server does not know is never adopted: the session saved
    for that client gets a fresh one.  When :func:`heron.sessions.new_session` rotates a
    session, its old key is deleted from the server; an invalidated session's key keeps
    ``{}`` (aiohttp_session's way), which never loads as a session again.
    """

    def __init__(
        self,
        *,
        cookie_name: str = "AIOHTTP_SESSION",
        key_factory: Callable[[], str] = random_key,
        **kwargs: Any,
    ) -> None:
        super().__init__(cookie_name=cookie_name, **kwargs)
        self._key_factory = key_factory

    @abstractmethod
    async def _get(self, key: str) -> bytes | str | None:
        """The stored value of ``key`` (None: unknown or expired)."""

    @abstractmethod
    async def _set(self, key: str, value: str, max_age: int | None) -> None:
        """Store ``value`` under ``key``, forgotten after ``max_age`` seconds (None: never)."""

    @abstractmethod
    async def _delete(self, key: str) -> None:
        """Forget ``key``."""

    def _server_key(self, key: str) -> str:
        return f"{self.cookie_name}_{key}"

    def _cookie_key(self, request: web.Request) -> str | None:
        key = self.load_cookie(request)
        if key is None or not _KEY_SHAPE.fullmatch(key):
            return None
        return key

    async def load_session(self, request: web.Request) -> Session:
        key = self._cookie_key(request)
        if key is None:
            return self._new()
        raw = await self._get(self._server_key(key))
        if raw is None:
            return self._new()  # expired, deleted, or made up by the client
        try:
            data = self._decoder(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
        except ValueError:
            data = None  # a key this server wrote, with unreadable data: an empty session
        return self._loaded(key, data)

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        previous = self._cookie_key(request)
        max_age = session.max_age
        key = None if session.identity is None else str(session.identity)
        if session.empty:
            if key is not None:
                # As aiohttp_session: the key now holds "{}", which loads as no session
                # (new, without the key), so the key is never used again.
                await self._set(self._server_key(key), self._encoder({}), max_age)
            if previous is not None and previous != key:
                await self._delete(self._server_key(previous))
            self.save_cookie(response, "", max_age=max_age)
            return
        if key is None:
            key = self._key_factory()
            session.set_new_identity(key)
        if previous is not None and previous != key:
            await self._delete(self._server_key(previous))
        payload = session._to_data(self.now())
        payload["max_age"] = max_age
        await self._set(self._server_key(key), self._encoder(payload), max_age)
        self.save_cookie(response, key, max_age=max_age)
