"""Protocol errors raised by the sans-IO core.

Each error carries the HTTP status the server should answer with (the
``status`` hint, after h11's ``error_status_hint``) and a short, client-safe
reason.  The I/O layer turns one into a response and closes the connection.
"""

from __future__ import annotations

__all__ = ("PayloadAccessError", "ProtocolError", "RequestPayloadError")


class ProtocolError(Exception):
    """The peer broke HTTP/1.1 (or a limit refuses it): answer ``status`` with ``reason``.

    ``headers`` are added to the answer (``Retry-After`` on a 503).
    """

    __slots__ = ("headers", "reason", "status")

    def __init__(self, status: int, reason: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason
        self.headers = headers

    def __str__(self) -> str:
        return f"{self.status}: {self.reason}"


class RequestPayloadError(Exception):
    """The request body could not be read to its end (bad framing, peer gone)."""


class PayloadAccessError(Exception):
    """The request body was accessed in a way that is no longer possible."""
