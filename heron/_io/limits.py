"""The in-flight request limit: a 503 with ``Retry-After`` instead of an unbounded queue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._proto.errors import ProtocolError
from .._proto.serialize import build_error_response

if TYPE_CHECKING:
    from .._proto.h1 import RequestHead
    from .protocol import Handle, HttpProtocol
    from .streams import StreamReader

__all__ = ("ConcurrencyLimit",)


class ConcurrencyLimit:
    """Wraps a server's ``handle``: at most ``limit`` handlers run at once.

    Installed only when ``max_concurrent_requests`` is set, so a server without the limit
    runs its ``handle`` directly and pays nothing for it.  A request past the limit gets a
    ``503 Service Unavailable`` with ``Retry-After`` without its handler ever starting; the
    connection stays usable (its unread body is discarded as after any response) unless the
    request asked to close it.
    """

    __slots__ = ("_handle", "_limit", "_refusal", "running")

    def __init__(self, handle: Handle, limit: int, retry_after: int) -> None:
        if limit < 1:
            raise ValueError("max_concurrent_requests must be at least 1")
        self._handle = handle
        self._limit = limit
        self._refusal = ProtocolError(
            503,
            "Too many requests in flight, try again later",
            (("Retry-After", str(retry_after)),),
        )
        #: Handlers running now.
        self.running = 0

    async def __call__(
        self, protocol: HttpProtocol, head: RequestHead, payload: StreamReader
    ) -> bool:
        if self.running >= self._limit:
            return self._refuse(protocol, head)
        self.running += 1
        try:
            return await self._handle(protocol, head, payload)
        finally:
            self.running -= 1

    def _refuse(self, protocol: HttpProtocol, head: RequestHead) -> bool:
        transport = protocol.transport
        if transport is None or transport.is_closing():
            return False
        keep_alive = head.keep_alive
        protocol.write_response(
            build_error_response(
                self._refusal,
                protocol.config.server_header,
                protocol.date(),
                close=not keep_alive,
                head_only=head.method == "HEAD",
            )
        )
        return keep_alive
