"""The opening handshake (RFC 6455 §4) as pure functions over header mappings."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

__all__ = (
    "HandshakeError",
    "accept_key",
    "check_request",
    "check_response",
    "make_key",
    "select_protocol",
)

_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
VERSION: Final = "13"


class HandshakeError(Exception):
    """The handshake cannot go on; ``status`` is the HTTP answer (400 or 426)."""

    def __init__(self, status: int, reason: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = dict(headers or {})


def _tokens(value: str) -> set[str]:
    """The comma-separated tokens of a header value, ASCII-lowercased (others dropped)."""
    # Only ASCII is case-folded: U+212A KELVIN SIGN lowercases to "k" (GHSA-69f9-5gxw-wvc2).
    return {t.strip().lower() for t in value.split(",") if t.strip().isascii()}


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")


def make_key() -> str:
    """A fresh random ``Sec-WebSocket-Key``."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def check_request(method: str, version: tuple[int, int], headers: Mapping[str, str]) -> str:
    """Validate an upgrade request (case-insensitive ``headers``); return its key."""
    if method != "GET":
        raise HandshakeError(400, f"WebSocket handshake must use GET, not {method}")
    if version < (1, 1):
        raise HandshakeError(400, "WebSocket handshake needs HTTP/1.1")
    upgrade = headers.get("Upgrade", "")
    if "websocket" not in _tokens(upgrade):
        raise HandshakeError(400, f"No WebSocket UPGRADE hdr: {upgrade}")
    connection = headers.get("Connection", "")
    if "upgrade" not in _tokens(connection):
        raise HandshakeError(400, f"No CONNECTION upgrade hdr: {connection}")
    ws_version = headers.get("Sec-WebSocket-Version", "")
    if ws_version.strip() != VERSION:
        raise HandshakeError(
            426,
            f"Unsupported version: {ws_version}",
            {"Sec-WebSocket-Version": VERSION},
        )
    key = headers.get("Sec-WebSocket-Key", "").strip()
    try:
        raw = base64.b64decode(key.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raw = b""
    if len(raw) != 16:
        raise HandshakeError(400, f"Handshake error: {key!r}")
    return key


def select_protocol(header: str | None, supported: Sequence[str]) -> str | None:
    """The first sub-protocol the client asked for that the server supports."""
    if not header:
        return None
    for proto in header.split(","):
        proto = proto.strip()
        if proto in supported:
            return proto
    return None


def check_response(
    status: int, headers: Mapping[str, str], key: str, protocols: Iterable[str]
) -> str | None:
    """Client side: validate a handshake response; return the agreed sub-protocol."""
    if status != 101:
        raise HandshakeError(status, f"Invalid response status {status}")
    if "websocket" not in _tokens(headers.get("Upgrade", "")):
        raise HandshakeError(status, "Invalid upgrade header")
    if "upgrade" not in _tokens(headers.get("Connection", "")):
        raise HandshakeError(status, "Invalid connection header")
    if headers.get("Sec-WebSocket-Accept", "") != accept_key(key):
        raise HandshakeError(status, "Invalid challenge response")
    proto = headers.get("Sec-WebSocket-Protocol")
    if proto is not None and proto not in protocols:
        raise HandshakeError(status, f"Server chose a sub-protocol not offered: {proto!r}")
    return proto
