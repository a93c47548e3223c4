"""``AbstractStorage``: where sessions live, and how their cookie is written."""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

from .. import web
from ._session import Session

__all__ = ("AbstractStorage", "Clock", "Decoder", "Encoder")

Encoder = Callable[[Any], str]
Decoder = Callable[[str], Any]
Clock = Callable[[], float]

DEFAULT_COOKIE_NAME = "AIOHTTP_SESSION"


class AbstractStorage(ABC):
    """Base of session storages: cookie settings plus ``load_session``/``save_session``.

    ``max_age`` (seconds) is the default lifetime of a session: the cookie's ``Max-Age``
    and, in every heron storage, an expiry enforced by the server as well.  ``None`` makes
    a browser-session cookie.  ``clock`` returns the current Unix time (tests inject one).
    """

    def __init__(
        self,
        *,
        cookie_name: str = DEFAULT_COOKIE_NAME,
        domain: str | None = None,
        max_age: int | None = None,
        path: str = "/",
        secure: bool | None = None,
        httponly: bool = True,
        samesite: str | None = None,
        encoder: Encoder = json.dumps,
        decoder: Decoder = json.loads,
        clock: Clock = time.time,
    ) -> None:
        if max_age is not None and max_age <= 0:
            raise ValueError("max_age must be a positive number of seconds (or None)")
        self._cookie_name = cookie_name
        self._max_age = max_age
        self._cookie_params: dict[str, Any] = {
            "domain": domain,
            "max_age": max_age,
            "path": path,
            "secure": secure,
            "httponly": httponly,
            "samesite": samesite,
        }
        self._encoder = encoder
        self._decoder = decoder
        self._clock = clock

    @property
    def cookie_name(self) -> str:
        """Name of the session cookie."""
        return self._cookie_name

    @property
    def max_age(self) -> int | None:
        """Default session lifetime in seconds (``None``: until the browser closes)."""
        return self._max_age

    @property
    def cookie_params(self) -> dict[str, Any]:
        """The cookie attributes (domain, max_age, path, secure, httponly, samesite)."""
        return dict(self._cookie_params)

    def now(self) -> float:
        """The current Unix time according to this storage's clock."""
        return self._clock()

    def _new(self, identity: Any = None) -> Session:
        data = {"created": int(self._clock()), "session": {}}
        return Session(identity, data=data, new=True, max_age=self._max_age)

    async def new_session(self) -> Session:
        """A fresh, empty session (no identity until it is saved)."""
        return self._new()

    @abstractmethod
    async def load_session(self, request: web.Request) -> Session:
        """The request's session, or a new one if it has none (or an invalid one)."""

    @abstractmethod
    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        """Store ``session`` and set (or delete) its cookie on ``response``."""

    def load_cookie(self, request: web.Request) -> str | None:
        """The raw value of the session cookie sent with ``request``."""
        return request.cookies.get(self._cookie_name)

    def save_cookie(
        self, response: web.StreamResponse, cookie_data: str, *, max_age: int | None = None
    ) -> None:
        """Set the session cookie to ``cookie_data``; an empty value deletes it."""
        params = dict(self._cookie_params)
        if not cookie_data:
            response.del_cookie(
                self._cookie_name,
                domain=params["domain"],
                path=params["path"],
                secure=params["secure"],
                httponly=params["httponly"],
                samesite=params["samesite"],
            )
            return
        if max_age is not None:
            params["max_age"] = max_age
            params["expires"] = formatdate(self._clock() + max_age, usegmt=True)
        elif params["max_age"] is not None:
            params["expires"] = formatdate(self._clock() + params["max_age"], usegmt=True)
        response.set_cookie(self._cookie_name, cookie_data, **params)
