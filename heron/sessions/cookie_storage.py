"""``EncryptedCookieStorage``: the whole session, encrypted with Fernet, in the cookie.

Needs the ``cryptography`` package (``pip install heron[sessions]``).
"""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from .. import web
from ._session import Session
from ._storage import AbstractStorage

__all__ = ("CookieTooLargeError", "EncryptedCookieStorage")

log = logging.getLogger("heron.sessions")

SecretKey = str | bytes | bytearray | Fernet | MultiFernet
"""One key: 32 raw bytes, a url-safe base64 Fernet key (44 characters) or a Fernet."""

DEFAULT_MAX_COOKIE_SIZE = 4096


class CookieTooLargeError(ValueError):
    """The encrypted session does not fit in a cookie that browsers would keep."""


def _fernet(key: SecretKey) -> Fernet | MultiFernet:
    if isinstance(key, (Fernet, MultiFernet)):
        return key
    if isinstance(key, (bytes, bytearray)) and len(key) == 32:
        return Fernet(base64.urlsafe_b64encode(bytes(key)))
    try:
        return Fernet(bytes(key) if isinstance(key, bytearray) else key)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ValueError(
            "A session secret key is 32 random bytes or a url-safe base64-encoded Fernet key "
            "(cryptography.fernet.Fernet.generate_key())"
        ) from exc


def _keys(secret_key: SecretKey | Sequence[SecretKey]) -> list[Fernet | MultiFernet]:
    if isinstance(secret_key, (str, bytes, bytearray, Fernet, MultiFernet)):
        return [_fernet(secret_key)]
    keys = [_fernet(key) for key in secret_key]
    if not keys:
        raise ValueError("At least one secret key is needed")
    return keys


class EncryptedCookieStorage(AbstractStorage):
    """Stores the session in the cookie, encrypted and authenticated with Fernet.

    ``secret_key`` is one key or a list of keys: the first encrypts, every one decrypts.
    To rotate, put the new key first and keep the old ones until sessions written with
    them have expired; a session read with an old key is re-encrypted with the new one.

    The payload carries its own expiry (``max_age`` seconds after it was written), checked
    on every request: a copied or replayed cookie stops working when it expires even if the
    client keeps sending it.  ``max_cookie_size`` bounds ``name=value``; a session too large
    for it raises :class:`CookieTooLargeError` instead of a cookie browsers silently drop.
    """

    def __init__(
        self,
        secret_key: SecretKey | Sequence[SecretKey],
        *,
        cookie_name: str = "AIOHTTP_SESSION",
        max_cookie_size: int = DEFAULT_MAX_COOKIE_SIZE,
        **kwargs: Any,
    ) -> None:
        super().__init__(cookie_name=cookie_name, **kwargs)
        self._fernets = _keys(secret_key)
        self._max_cookie_size = max_cookie_size

    @property
    def max_cookie_size(self) -> int:
        """The largest ``name=value`` (in bytes) this storage writes."""
        return self._max_cookie_size

    async def load_session(self, request: web.Request) -> Session:
        cookie = self.load_cookie(request)
        if cookie is None:
            return self._new()
        found = self._decrypt(cookie)
        if found is None:
            log.warning("Session cookie could not be decrypted: starting a new session")
            return self._new()
        data, key_index, issued = found
        expires = data.get("expires")
        if not isinstance(expires, (int, float)) and self.max_age is not None:
            # Written without an expiry (by aiohttp_session, or before max_age was set).
            expires = issued + self.max_age
        if isinstance(expires, (int, float)) and self.now() >= expires:
            log.info("Session cookie expired: starting a new session")
            return self._new()
        session = self._loaded(data.get("id") or secrets.token_urlsafe(16), data)
        if key_index:
            session.changed()  # read with an old key: re-encrypt with the current one
        return session

    def _decrypt(self, cookie: str) -> tuple[dict[str, Any], int, int] | None:
        try:
            token = cookie.encode("ascii")
        except UnicodeEncodeError:
            return None
        for index, fernet in enumerate(self._fernets):
            try:
                plain = fernet.decrypt(token)
                issued = fernet.extract_timestamp(token)
            except InvalidToken:
                continue
            try:
                data = self._decoder(plain.decode("utf-8"))
            except ValueError:
                return None
            return (data, index, issued) if isinstance(data, dict) else None
        return None

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        max_age = session.max_age
        if session.empty:
            self.save_cookie(response, "", max_age=max_age)
            return
        if session.identity is None:
            session.set_new_identity(secrets.token_urlsafe(16))
        now = int(self.now())
        payload = session._to_data(now)
        payload["id"] = session.identity
        payload["max_age"] = max_age
        payload["expires"] = now + max_age if max_age is not None else None
        plain = self._encoder(payload).encode("utf-8")
        token = self._fernets[0].encrypt_at_time(plain, now).decode("ascii")
        size = len(self.cookie_name) + 1 + len(token)
        if size > self._max_cookie_size:
            raise CookieTooLargeError(
                f"The encrypted session cookie would be {size} bytes, over the "
                f"{self._max_cookie_size}-byte limit (browsers drop larger cookies): keep less "
                "in the session, or use a server-side storage such as RedisStorage"
            )
        self.save_cookie(response, token, max_age=max_age)
