"""``Session``: the per-request mapping a storage loads and saves."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, TypedDict

__all__ = ("Session", "SessionData", "system_time")


class SessionData(TypedDict, total=False):
    """What a storage keeps for a session: when it was last written and its keys."""

    created: int
    session: dict[str, Any]


def system_time() -> float:
    """``time.time()``, looked up on every call: a test that patches it moves sessions too."""
    return time.time()


class Session(MutableMapping[str, Any]):
    """A user's session: a dict of JSON-able values plus bookkeeping for its storage.

    Writing or deleting a key marks the session changed, so the middleware saves it after
    the handler.  Mutating a nested value in place (``session["cart"].append(x)``) is not
    seen: call :meth:`changed` afterwards.

    ``data`` is what a storage decoded (:class:`SessionData`).  As in aiohttp_session,
    ``data={}`` means "nothing usable was stored": the session is new and has no identity;
    and with ``max_age`` set, data whose ``created`` is more than ``max_age`` seconds old
    is dropped (every write moves ``created`` forward, so the expiry slides).  ``now`` is
    the current Unix time (storages pass their clock's; default ``time.time()``).
    """

    __slots__ = ("_changed", "_created", "_identity", "_mapping", "_max_age", "_new")

    def __init__(
        self,
        identity: Any,
        *,
        data: Mapping[str, Any] | None,
        new: bool,
        max_age: int | None = None,
        now: float | None = None,
    ) -> None:
        current = int(system_time() if now is None else now)
        nothing = data is not None and not data
        self._identity = None if nothing else identity
        self._new = True if nothing else new
        self._changed = False
        self._max_age = max_age
        created = data.get("created") if data else None
        stored = data.get("session") if data else None
        if not isinstance(created, (int, float)) or isinstance(created, bool):
            created = None
        if max_age is not None and current - (created or 0) > max_age:
            stored = None  # expired (or undated) data is not loaded
        self._created = current if self._new or created is None else int(created)
        self._mapping: dict[str, Any] = dict(stored) if isinstance(stored, Mapping) else {}

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} [new:{self._new}, changed:{self._changed}, "
            f"created:{self._created}] {self._mapping!r}>"
        )

    # ------------------------------------------------------------------ bookkeeping

    @property
    def new(self) -> bool:
        """True for a session created during this request (nothing was loaded)."""
        return self._new

    @property
    def identity(self) -> Any:
        """The storage's key for this session (``None`` until a new one is first saved)."""
        return self._identity

    @property
    def created(self) -> int:
        """When the session was created or last written (Unix time, seconds)."""
        return self._created

    @property
    def empty(self) -> bool:
        """True when the session holds no keys."""
        return not self._mapping

    @property
    def max_age(self) -> int | None:
        """Lifetime in seconds for the cookie and the server-side expiry (``None``: browser
        session cookie)."""
        return self._max_age

    @max_age.setter
    def max_age(self, value: int | None) -> None:
        self._max_age = value
        self._changed = True

    @property
    def is_changed(self) -> bool:
        """Whether the session must be saved at the end of the request."""
        return self._changed

    def changed(self) -> None:
        """Mark the session as changed (after mutating a nested value in place)."""
        self._changed = True

    def invalidate(self) -> None:
        """Drop every key; the storage then forgets the session (and deletes its cookie)."""
        self._changed = True
        self._mapping = {}

    def set_new_identity(self, identity: Any) -> None:
        """Give a new session its storage key (storages call this when first saving it)."""
        if not self._new:
            raise RuntimeError("Cannot change the identity of a session that is not new")
        self._identity = identity

    def _mark_saved(self) -> None:
        self._changed = False

    def _to_data(self, now: float | None = None) -> dict[str, Any]:
        """The stored form; saving at ``now`` dates the data (the sliding expiry)."""
        if now is not None:
            self._created = int(now)
        return {"created": self._created, "session": self._mapping}

    # ------------------------------------------------------------------ mapping

    def __len__(self) -> int:
        return len(self._mapping)

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping)

    def __contains__(self, key: object) -> bool:
        return key in self._mapping

    def __getitem__(self, key: str) -> Any:
        return self._mapping[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._mapping[key] = value
        self._changed = True
        self._created = int(system_time())

    def __delitem__(self, key: str) -> None:
        del self._mapping[key]
        self._changed = True
        self._created = int(system_time())
