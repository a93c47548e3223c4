"""``NaClCookieStorage``: the whole session in the cookie, sealed with NaCl's SecretBox.

Needs the ``PyNaCl`` package (``pip install heron[nacl]``).  The cookie format is
aiohttp_session's: cookies it wrote with the same key are read here, and the other way round.
"""

from __future__ import annotations

import binascii
import logging
from typing import Any

import nacl.exceptions
import nacl.secret
import nacl.utils
from nacl.encoding import Base64Encoder

from .. import web
from ._session import Session
from ._storage import AbstractStorage

__all__ = ("NaClCookieStorage",)

log = logging.getLogger("heron.sessions")


class NaClCookieStorage(AbstractStorage):
    """Stores the session in the cookie, encrypted and authenticated with XSalsa20-Poly1305.

    ``secret_key`` is 32 random bytes (``nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE)``).
    With ``max_age`` set, a session whose data is older than that is not loaded, whatever
    cookie the client replays.
    """

    def __init__(
        self, secret_key: bytes, *, cookie_name: str = "AIOHTTP_SESSION", **kwargs: Any
    ) -> None:
        super().__init__(cookie_name=cookie_name, **kwargs)
        try:
            self._secretbox = nacl.secret.SecretBox(secret_key)
        except (TypeError, nacl.exceptions.CryptoError) as exc:
            raise ValueError(
                f"A NaCl session key is {nacl.secret.SecretBox.KEY_SIZE} random bytes"
            ) from exc

    def empty_session(self) -> Session:
        """A new, empty session."""
        return self._new()

    async def load_session(self, request: web.Request) -> Session:
        cookie = self.load_cookie(request)
        if cookie is None:
            return self._new()
        try:
            plain = self._secretbox.decrypt(cookie.encode("utf-8"), encoder=Base64Encoder)
            data = self._decoder(plain.decode("utf-8"))
        except (binascii.Error, nacl.exceptions.CryptoError, UnicodeError, ValueError):
            log.warning("Session cookie could not be decrypted: starting a new session")
            return self._new()
        return self._loaded(None, data) if isinstance(data, dict) else self._new()

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        if session.empty:
            self.save_cookie(response, "", max_age=session.max_age)
            return
        payload = session._to_data(self.now())
        payload["max_age"] = session.max_age
        plain = self._encoder(payload).encode("utf-8")
        nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
        sealed = self._secretbox.encrypt(plain, nonce, encoder=Base64Encoder)
        self.save_cookie(response, sealed.decode("ascii"), max_age=session.max_age)
