"""``ClientTimeout``: the bounds on every wait a request makes."""

from __future__ import annotations

import dataclasses

__all__ = ("DEFAULT_TIMEOUT", "ClientTimeout")


@dataclasses.dataclass(frozen=True)
class ClientTimeout:
    """Timeouts in seconds (``None`` means unbounded).

    ``total`` bounds the whole request, from acquiring a connection to the last byte
    of the body; ``connect`` bounds acquiring a connection (waiting for a free pool
    slot included); ``sock_connect`` bounds opening one socket (and its TLS
    handshake); ``sock_read`` bounds every silence between two reads from the server.
    """

    total: float | None = None
    connect: float | None = None
    sock_read: float | None = None
    sock_connect: float | None = None
    ceil_threshold: float = 5


DEFAULT_TIMEOUT = ClientTimeout(total=5 * 60, sock_connect=30)
