"""``AbstractStorage``: where sessions live, and how their cookie is written."""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from .. import web
from ._session import Session, SessionData, system_time

__all__ = ("AbstractStorage", "Clock", "Decoder", "Encoder")

Encoder = Callable[[Any], str]
Decoder = Callable[[str], Any]
Clock = Callable[[], float]

DEFAULT_COOKIE_NAME = "AIOHTTP_SESSION"

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _cookie_date(when: float) -> str:
    """``Thu, 01-Jan-1970 00:00:10 GMT``: the Expires format aiohttp_session writes (RFC 6265
    parses it like RFC 1123's); built by hand so no locale changes the names."""
    t = time.gmtime(when)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d}-{_MONTHS[t.tm_mon - 1]}-{t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


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
        clock: Clock = system_time,
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
        return Session(identity, data=None, new=True, max_age=self._max_age, now=self._clock())

    def _loaded(self, identity: Any, data: Any) -> Session:
        """A session over decoded ``data``; its own stored ``max_age`` wins over the storage's."""
        if not isinstance(data, dict):
            data = None
        max_age = data.get("max_age", self._max_age) if data else self._max_age
        if not isinstance(max_age, int) or isinstance(max_age, bool):
            max_age = self._max_age
        return Session(identity, data=data, new=False, max_age=max_age, now=self._clock())

    def _get_session_data(self, session: Session) -> SessionData:
        """What aiohttp_session's storages store: ``{}`` for an empty session."""
        if session.empty:
            return {}
        return {"created": session.created, "session": session._mapping}

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
            # Secure and SameSite kept: a browser may refuse to overwrite a Secure cookie
            # (a __Secure- name) with one that lacks it.
            response.del_cookie(
                self._cookie_name,
                domain=params["domain"],
                path=params["path"],
                secure=params["secure"],
                samesite=params["samesite"],
            )
            return
        if max_age is None:
            max_age = params["max_age"]
        if max_age is not None:
            params["max_age"] = max_age
            params["expires"] = _cookie_date(self._clock() + max_age)
        response.set_cookie(self._cookie_name, cookie_data, **params)
