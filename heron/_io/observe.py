"""The server core's observation points, for metrics (off unless something installs one).

The connection layer reports what only it sees: connections opening and closing,
connections taken over by another protocol (WebSockets), and the requests it refuses
itself (a malformed or oversized head, a head that came too slowly, a connection past
``max_connections``).  ``heron.observability.metrics`` installs a :class:`ServerObserver`;
until then :data:`observer` is None and each point costs one attribute read and a None
check, on connection events and errors only (nothing per request).

The observer is process-wide, like the metrics registry it feeds.
"""

from __future__ import annotations

__all__ = ("ServerObserver", "install", "observer")


class ServerObserver:
    """What the connection layer reports.  Override the methods you need."""

    __slots__ = ()

    def connection_opened(self) -> None:
        """A connection joined the server (it will be served)."""

    def connection_closed(self) -> None:
        """A connection that :meth:`connection_opened` reported is gone."""

    def connection_upgraded(self) -> None:
        """A connection was handed to another protocol (a WebSocket) after a 101."""

    def upgraded_closed(self) -> None:
        """A connection :meth:`connection_upgraded` reported is gone."""

    def rejected(self, status: int) -> None:
        """The server answered ``status`` itself and closes: 400, 408, 414, 431, 501, 503, 505."""


#: The installed observer, or None (the default: nothing is observed).
observer: ServerObserver | None = None


def install(new: ServerObserver | None) -> None:
    """Install ``new`` as the process's observer (None removes it)."""
    global observer
    observer = new
