"""``RedisStorage``: sessions kept in Redis; the cookie carries only a random key.

Needs the ``redis`` package (``pip install heron[redis]``) and its asyncio client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._server_side import ServerSideStorage

if TYPE_CHECKING:
    from redis.asyncio import Redis

try:
    from redis import VERSION as REDIS_VERSION
    from redis import asyncio as aioredis
except ImportError:  # the error is raised when a RedisStorage is made, with what to install
    aioredis = None  # type: ignore[assignment]
    REDIS_VERSION = (0,)

__all__ = ("RedisStorage",)


class RedisStorage(ServerSideStorage):
    """Keeps sessions in Redis under ``"<cookie_name>_<key>"``, with Redis expiry (``EX``) of
    the session's ``max_age``.  ``redis_pool`` is a ``redis.asyncio.Redis`` client."""

    def __init__(self, redis_pool: Redis, **kwargs: Any) -> None:
        if aioredis is None:
            raise RuntimeError("RedisStorage needs the redis package: pip install 'heron[redis]'")
        if REDIS_VERSION < (4, 3):
            raise RuntimeError(f"RedisStorage needs redis>=4.3, found {REDIS_VERSION}")
        super().__init__(**kwargs)
        if not isinstance(redis_pool, aioredis.Redis):
            raise TypeError(f"Expected redis.asyncio.Redis, got {type(redis_pool).__name__}")
        self._redis = redis_pool

    async def _get(self, key: str) -> bytes | str | None:
        value: bytes | str | None = await self._redis.get(key)
        return value

    async def _set(self, key: str, value: str, max_age: int | None) -> None:
        await self._redis.set(key, value, ex=max_age)

    async def _delete(self, key: str) -> None:
        await self._redis.delete(key)
