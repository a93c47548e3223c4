"""``Session``: the per-request mapping a storage loads and saves."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

__all__ = ("Session",)


class Session(MutableMapping[str, Any]):
    """A user's session: a dict of JSON-able values plus bookkeeping for its storage.

    Writing or deleting a key marks the session changed, so the middleware saves it after
    the handler.  Mutating a nested value in place (``session["cart"].append(x)``) is not
    seen: call :meth:`changed` afterwards.

    ``data`` is what a storage decoded: ``{"created": <unix time>, "session": {...}}``.
    """

    __slots__ = ("_changed", "_created", "_identity", "_mapping", "_max_age", "_new")

    def __init__(
        self,
        identity: Any,
        *,
        data: Mapping[str, Any] | None,
        new: bool,
        max_age: int | None = None,
    ) -> None:
        self._identity = identity
        self._new = new
        self._changed = False
        self._max_age = max_age
        created = data.get("created") if data else None
        stored = data.get("session") if data else None
        self._created = int(created) if isinstance(created, (int, float)) else int(time.time())
        self._mapping: dict[str, Any] = dict(stored) if isinstance(stored, Mapping) else {}

    def __repr__(self) -> str:
        state = "new" if self._new else "loaded"
        return f"<{type(self).__name__} [{state}, changed={self._changed}] {self._mapping!r}>"

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
        """When the session was first created (Unix time, seconds)."""
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
        """Drop every key; the storage then deletes the session (and its cookie)."""
        self._changed = True
        self._mapping = {}

    def set_new_identity(self, identity: Any) -> None:
        """Give a new session its storage key (storages call this when first saving it)."""
        if not self._new:
            raise RuntimeError("Cannot change the identity of a session that is not new")
        self._identity = identity

    def _mark_saved(self) -> None:
        self._changed = False

    def _to_data(self) -> dict[str, Any]:
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

    def __delitem__(self, key: str) -> None:
        del self._mapping[key]
        self._changed = True
