"""The limits and timeouts of a server's connections, in one place."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

__all__ = ("ServerConfig",)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Per-connection limits and timeouts (seconds); see docs/design.md for each.

    Names and defaults follow aiohttp's ``RequestHandler`` where it has one.
    """

    #: Longest request-target accepted; longer gets 414.
    max_line_size: int = 8190
    #: Longest header name or value; longer gets 431.
    max_field_size: int = 8190
    #: Most header (and, separately, trailer) fields; more gets 431.
    max_headers: int = 128
    #: Idle time allowed between requests on a keep-alive connection.
    keepalive_timeout: float = 75.0
    #: Time allowed from the first byte of a request head to its end (slowloris guard).
    head_timeout: float = 20.0
    #: Longest wait for more request-body bytes while a handler reads the body.
    body_timeout: float = 60.0
    #: Longest wait for the peer to take written bytes off a full transport buffer.
    write_timeout: float = 60.0
    #: Body bytes buffered per request before reading from the socket pauses.
    read_bufsize: int = 2**16
    #: Parsed requests waiting behind the one being handled before reading pauses.
    max_pipelined: int = 16
    #: Time spent reading and discarding an unread request body before reuse.
    lingering_time: float = 10.0
    #: Bytes of unread request body discarded at most before the connection is closed.
    lingering_limit: int = 2**20
    #: Decode request bodies sent with a ``Content-Encoding`` (gzip, deflate, br, zstd).
    auto_decompress: bool = True
    #: Cancel the handler when its client disconnects (aiohttp 3.9+ default: no).
    handler_cancellation: bool = False
    #: Enable TCP keep-alive probes on accepted sockets.
    tcp_keepalive: bool = True
    #: The ``Server`` response header.
    server_header: str = "heron"
    #: Most connections open at once (None: no limit).  A connection accepted past it
    #: is answered ``503`` with ``Connection: close`` at once, without reading its request.
    max_connections: int | None = None
    #: How long a connection refused by ``max_connections`` may stay open, after its ``503``,
    #: for the peer to read the answer and close first (its request bytes are discarded).
    reject_linger: float = 1.0
    #: Most requests whose handlers run at once, over all connections (None: no limit).  A
    #: request past it is answered ``503`` at once, its handler never started; the
    #: connection stays usable.  An open WebSocket counts until it closes.
    max_concurrent_requests: int | None = None
    #: The ``Retry-After`` (seconds) of the ``503`` answers of both limits.
    retry_after: int = 1
    #: Every connection starts with a PROXY protocol (v1 or v2) header from a TCP load
    #: balancer, naming the client's address (see heron/_io/proxy_protocol.py).
    proxy_protocol: bool = False
    #: The server's logger, also ``request.protocol.logger`` (aiohttp's ``RequestHandler``).
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("aiohttp.server"))
