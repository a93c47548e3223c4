"""``MemcachedStorage``: sessions kept in memcached; the cookie carries only a random key.

Needs the ``aiomcache`` package (``pip install heron[memcached]``).
"""

from __future__ import annotations

from typing import Any

import aiomcache

from ._server_side import ServerSideStorage

__all__ = ("MemcachedStorage",)

# memcached reads an expiry over 30 days as an absolute Unix time, not a duration.
_LONGEST_RELATIVE_EXPIRY = 30 * 24 * 3600


class MemcachedStorage(ServerSideStorage):
    """Keeps sessions in memcached under ``"<cookie_name>_<key>"``, expiring after the
    session's ``max_age``.  ``memcached_conn`` is an ``aiomcache.Client``."""

    def __init__(self, memcached_conn: aiomcache.Client, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(memcached_conn, aiomcache.Client):
            raise TypeError(f"Expected aiomcache.Client, got {type(memcached_conn).__name__}")
        self.conn = memcached_conn

    async def _get(self, key: str) -> bytes | None:
        value: bytes | None = await self.conn.get(key.encode("utf-8"))
        return value

    async def _set(self, key: str, value: str, max_age: int | None) -> None:
        if max_age is None:
            expire = 0  # never
        elif max_age > _LONGEST_RELATIVE_EXPIRY:
            expire = int(self.now()) + max_age
        else:
            expire = max_age
        await self.conn.set(key.encode("utf-8"), value.encode("utf-8"), exptime=expire)

    async def _delete(self, key: str) -> None:
        await self.conn.delete(key.encode("utf-8"))
