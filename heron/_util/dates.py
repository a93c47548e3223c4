"""The HTTP ``Date`` header value, formatted at most once a second."""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import formatdate

__all__ = ("DateCache", "http_date")


def http_date(timestamp: float | None = None) -> str:
    """An IMF-fixdate (RFC 9110 §5.6.7) for ``timestamp`` (now by default)."""
    return formatdate(timestamp, usegmt=True)


class DateCache:
    """Holds the current ``Date`` value; ``get()`` reformats only when the second changes.

    ``clock`` is injectable so tests can drive time.
    """

    __slots__ = ("_clock", "_second", "_value")

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._second = -1
        self._value = ""

    def get(self) -> str:
        now = self._clock()
        second = int(now)
        if second != self._second:
            # PERF: the Date header is formatted once per second ("plaintext").
            self._second = second
            self._value = http_date(second)
        return self._value
