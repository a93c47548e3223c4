"""``SimpleCookieStorage``: the session as plain JSON in the cookie.  Tests only."""

from __future__ import annotations

import warnings
from typing import Any

from .. import web
from ._session import Session
from ._storage import AbstractStorage

__all__ = ("InsecureStorageWarning", "SimpleCookieStorage")


class InsecureStorageWarning(UserWarning):
    """A storage that must not be used in production was created."""


class SimpleCookieStorage(AbstractStorage):
    """Keeps the session as unencrypted, unsigned JSON in the cookie.  FOR TESTS ONLY.

    Anyone can read and forge such a cookie (and make it live forever), so creating one
    warns with :class:`InsecureStorageWarning`.  Use ``EncryptedCookieStorage`` or
    ``RedisStorage`` in real applications.
    """

    def __init__(self, *, cookie_name: str = "AIOHTTP_SESSION", **kwargs: Any) -> None:
        warnings.warn(
            "SimpleCookieStorage keeps sessions as plain, forgeable JSON: use it in tests "
            "only (EncryptedCookieStorage or RedisStorage in production)",
            InsecureStorageWarning,
            stacklevel=2,
        )
        super().__init__(cookie_name=cookie_name, **kwargs)

    async def load_session(self, request: web.Request) -> Session:
        cookie = self.load_cookie(request)
        if cookie is None:
            return self._new()
        try:
            data = self._decoder(cookie)
        except ValueError:
            return self._new()
        return self._loaded(None, data) if isinstance(data, dict) else self._new()

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        # As aiohttp_session: an invalidated session is written as "{}", not deleted.
        data = {} if session.empty else session._to_data(self.now())
        self.save_cookie(response, self._encoder(data), max_age=session.max_age)
