"""Protocol errors raised by the sans-IO core.

Each error carries the HTTP status the server should answer with (the
``status`` hint, after h11's ``error_status_hint``) and a short, client-safe
reason.  The I/O layer turns one into a response and closes the connection.
"""

from __future__ import annotations

__all__ = (
    "ContentEncodingError",
    "ContentLengthError",
    "PayloadAccessError",
    "PayloadEncodingError",
    "ProtocolError",
    "RequestPayloadError",
    "TransferEncodingError",
)


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


class PayloadEncodingError(RequestPayloadError):
    """The client framed or encoded the body badly: its fault, answered with ``status``.

    The subclasses carry the names of the errors aiohttp's parser finds in a body
    (``aiohttp.http_exceptions``); on both servers a handler's read raises a
    ``RequestPayloadError``, so ``except web.RequestPayloadError`` catches them all.
    """

    status = 400

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status

    @property
    def reason(self) -> str:
        """The short, client-safe reason a 4xx answer carries."""
        return str(self.args[0]) if self.args else "Bad request body"


class TransferEncodingError(PayloadEncodingError):
    """Broken chunked framing: chunk size, line ending, extension, trailer, early end."""


class ContentLengthError(PayloadEncodingError):
    """The body ended before ``Content-Length`` bytes had arrived."""


class ContentEncodingError(PayloadEncodingError):
    """The body is not valid data in its ``Content-Encoding`` (corrupt or truncated)."""


class PayloadAccessError(Exception):
    """The request body was accessed in a way that is no longer possible."""
