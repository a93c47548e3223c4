"""``RedisStorage``: sessions kept in Redis; the cookie carries only a random key.

Needs the ``redis`` package (``pip install heron[redis]``) and its asyncio client.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from .. import web
from ._session import Session
from ._storage import AbstractStorage

__all__ = ("RedisStorage",)

# What a key made by a sane key factory looks like; anything else is ignored unread.
_KEY_SHAPE = re.compile(r"[A-Za-z0-9_\-]{8,128}")


def _random_key() -> str:
    return secrets.token_urlsafe(32)


class RedisStorage(AbstractStorage):
    """Keeps sessions in Redis under ``"<cookie_name>_<key>"``.

    Each saved session gets Redis expiry (``EX``) of its ``max_age``, so the server forgets
    it when the cookie would have expired.  Keys come from ``key_factory`` (256 random bits
    by default); a key the client sends that Redis does not know is never adopted: the
    session saved for that client gets a fresh key.  When :func:`heron.sessions.new_session`
    rotates a session, the old key is deleted from Redis as the new one is written.
    """

    def __init__(
        self,
        redis_pool: Redis,
        *,
        cookie_name: str = "AIOHTTP_SESSION",
        key_factory: Callable[[], str] = _random_key,
        **kwargs: Any,
    ) -> None:
        super().__init__(cookie_name=cookie_name, **kwargs)
        if not isinstance(redis_pool, Redis):
            raise TypeError(f"Expected redis.asyncio.Redis, got {type(redis_pool).__name__}")
        self._redis = redis_pool
        self._key_factory = key_factory

    def _redis_key(self, key: str) -> str:
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
        raw = await self._redis.get(self._redis_key(key))
        if raw is None:
            return self._new()  # expired, deleted, or made up by the client
        text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        try:
            data = self._decoder(text)
        except ValueError:
            return self._new()
        if not isinstance(data, dict):
            return self._new()
        max_age = data.get("max_age", self.max_age)
        return Session(
            key,
            data=data,
            new=False,
            max_age=max_age if isinstance(max_age, int) else self.max_age,
        )

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        previous = self._cookie_key(request)
        if session.identity is None:
            session.set_new_identity(self._key_factory())
        key = str(session.identity)
        if previous is not None and previous != key:
            await self._redis.delete(self._redis_key(previous))
        max_age = session.max_age
        if session.empty:
            await self._redis.delete(self._redis_key(key))
            self.save_cookie(response, "", max_age=max_age)
            return
        payload = session._to_data()
        payload["max_age"] = max_age
        await self._redis.set(self._redis_key(key), self._encoder(payload), ex=max_age)
        self.save_cookie(response, key, max_age=max_age)
