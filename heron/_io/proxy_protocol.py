"""The PROXY protocol (v1 text, v2 binary) ahead of HTTP, for TCP load balancers.

A load balancer that forwards TCP (HAProxy ``send-proxy``, nginx's ``stream`` module with
``proxy_protocol on``, cloud NLBs) writes one header naming the client's address before the
client's bytes.  With ``proxy_protocol=True`` every connection must start with one: it is
read (bounded in size and by ``head_timeout``), the connection's ``peername`` / ``sockname``
become the addresses it names (so ``request.remote``, the access log and ``heron.remotes``
see the client), and the rest of the bytes go to HTTP.  A connection without a valid header
is closed without an answer (nothing HTTP can be said to a peer that does not speak it).
``LOCAL`` (v2) and ``UNKNOWN`` (v1) headers, which balancers send for health checks, keep the
connection's own addresses.

Off by default; the server then never builds this wrapper.  Only a load balancer may reach a
port that takes the header: it is believed as it is.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import struct
from typing import Any, cast

from .protocol import HttpProtocol

__all__ = ("ProxyProtocolReceiver", "parse_proxy_header")

log = logging.getLogger("aiohttp.server")

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
_V1_PREFIX = b"PROXY "
_V1_MAX = 107  # the longest v1 line, CRLF included (the specification's bound)
_V2_MAX_ADDRESSES = 4096  # the addresses plus TLVs heron accepts after the 16-byte header

Address = tuple[str, int]


class ProxyHeaderError(Exception):
    """The connection did not start with a valid PROXY protocol header."""


def parse_proxy_header(data: bytes) -> tuple[int, Address | None, Address | None] | None:
    """Parse a header at the start of ``data``.

    Returns ``(length, source, destination)`` (the addresses None for ``LOCAL``/``UNKNOWN``),
    or None when more bytes are needed.  Raises :class:`ProxyHeaderError` when it is not one.
    """
    if data[:1] == b"P":
        return _parse_v1(data)
    if data[:1] == b"\r":
        return _parse_v2(data)
    if data:
        raise ProxyHeaderError("no PROXY protocol header")
    return None


def _parse_v1(data: bytes) -> tuple[int, Address | None, Address | None] | None:
    if not _V1_PREFIX.startswith(data[:6]):
        raise ProxyHeaderError("not a PROXY v1 header")
    end = data.find(b"\r\n", 0, _V1_MAX)
    if end < 0:
        if len(data) >= _V1_MAX:
            raise ProxyHeaderError("PROXY v1 header too long")
        return None
    parts = data[:end].decode("ascii", "replace").split(" ")
    if len(parts) >= 2 and parts[1] == "UNKNOWN":
        return end + 2, None, None
    if len(parts) != 6 or parts[1] not in ("TCP4", "TCP6"):
        raise ProxyHeaderError("malformed PROXY v1 header")
    version = 4 if parts[1] == "TCP4" else 6
    source = _address(parts[2], parts[4], version)
    destination = _address(parts[3], parts[5], version)
    return end + 2, source, destination


def _address(host: str, port: str, version: int) -> Address:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ProxyHeaderError("bad address in PROXY header") from None
    if ip.version != version or not port.isdigit() or (port != "0" and port[0] == "0"):
        raise ProxyHeaderError("bad address in PROXY header")
    number = int(port)
    if number > 65535:
        raise ProxyHeaderError("bad port in PROXY header")
    return str(ip), number


def _parse_v2(data: bytes) -> tuple[int, Address | None, Address | None] | None:
    if not V2_SIGNATURE.startswith(data[:12]):
        raise ProxyHeaderError("not a PROXY v2 header")
    if len(data) < 16:
        return None
    version_command, family, length = struct.unpack_from("!BBH", data, 12)
    if version_command >> 4 != 2:
        raise ProxyHeaderError("unsupported PROXY protocol version")
    if length > _V2_MAX_ADDRESSES:
        raise ProxyHeaderError("PROXY v2 header too long")
    if len(data) < 16 + length:
        return None
    total = 16 + length
    command = version_command & 0x0F
    if command == 0:  # LOCAL: the balancer's own connection (health check)
        return total, None, None
    if command != 1:
        raise ProxyHeaderError("unknown PROXY v2 command")
    body = data[16:total]
    if family == 0x11 and length >= 12:  # TCP over IPv4
        src, dst, sport, dport = struct.unpack_from("!4s4sHH", body)
        return total, (_ip(src), sport), (_ip(dst), dport)
    if family == 0x21 and length >= 36:  # TCP over IPv6
        src, dst, sport, dport = struct.unpack_from("!16s16sHH", body)
        return total, (_ip(src), sport), (_ip(dst), dport)
    if family == 0x00:  # UNSPEC
        return total, None, None
    raise ProxyHeaderError("unsupported PROXY v2 address family")


def _ip(packed: bytes) -> str:
    return str(ipaddress.ip_address(packed))


class _ProxiedTransport:
    """The connection's transport, with the addresses the PROXY header named."""

    __slots__ = ("_extra", "_transport")

    def __init__(self, transport: asyncio.Transport, extra: dict[str, Any]) -> None:
        self._transport = transport
        self._extra = extra

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name in self._extra:
            return self._extra[name]
        return self._transport.get_extra_info(name, default)

    def write(self, data: bytes) -> None:
        self._transport.write(data)

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class ProxyProtocolReceiver(asyncio.Protocol):
    """Reads the PROXY header, then hands the connection to its :class:`HttpProtocol`.

    The transport is then switched to the HTTP protocol (``set_protocol``), so the bytes
    that follow reach it without passing through here.
    """

    __slots__ = ("_buffer", "_http", "_loop", "_timeout", "_timer", "_transport")

    def __init__(self, http: HttpProtocol, timeout: float, loop: asyncio.AbstractEventLoop) -> None:
        self._http = http
        self._buffer = b""
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timeout = timeout
        self._loop = loop

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._timer = self._loop.call_later(self._timeout, self._give_up, "timed out")

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        self._buffer += data
        try:
            parsed = parse_proxy_header(self._buffer)
        except ProxyHeaderError as exc:
            self._give_up(str(exc))
            return
        if parsed is None:
            return
        length, source, destination = parsed
        rest = self._buffer[length:]
        self._buffer = b""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        http = self._http
        if source is None:
            http_transport: asyncio.BaseTransport = transport
        else:
            extra = {"peername": source, "sockname": destination}
            http_transport = cast(asyncio.Transport, _ProxiedTransport(transport, extra))
        transport.set_protocol(http)
        http.connection_made(http_transport)
        if rest and not transport.is_closing():
            http.data_received(rest)

    def eof_received(self) -> bool:
        self._give_up("closed before the header")
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _give_up(self, reason: str) -> None:
        log.debug("Closing a connection without a PROXY protocol header: %s", reason)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._transport.abort()
