"""WebSocket vocabulary shared by every layer: opcodes, close codes, messages, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import IntEnum
from typing import Any, Final, NamedTuple

__all__ = (
    "WS_CLOSED_MESSAGE",
    "WS_CLOSING_MESSAGE",
    "WSCloseCode",
    "WSMessage",
    "WSMsgType",
    "WebSocketError",
    "is_valid_close_code",
)


class WSCloseCode(IntEnum):
    """Close status codes (RFC 6455 §7.4 and the IANA registry)."""

    OK = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    ABNORMAL_CLOSURE = 1006
    INVALID_TEXT = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014


class WSMsgType(IntEnum):
    """Message kinds: the wire opcodes plus three local states (CLOSING, CLOSED, ERROR)."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    PING = 0x9
    PONG = 0xA
    CLOSE = 0x8
    CLOSING = 0x100
    CLOSED = 0x101
    ERROR = 0x102

    text = TEXT
    binary = BINARY
    ping = PING
    pong = PONG
    close = CLOSE
    closing = CLOSING
    closed = CLOSED
    error = ERROR


class WSMessage(NamedTuple):
    """One received message: TEXT/BINARY data, PING/PONG payload, or CLOSE (code, reason)."""

    type: WSMsgType
    data: Any
    extra: str | None

    def json(self, *, loads: Callable[[Any], Any] = json.loads) -> Any:
        """The data decoded as JSON."""
        return loads(self.data)


# PERF: tuple.__new__ skips NamedTuple's Python-level __new__ (one call per message).
_new = tuple.__new__
WS_CLOSED_MESSAGE: Final = _new(WSMessage, (WSMsgType.CLOSED, None, None))
WS_CLOSING_MESSAGE: Final = _new(WSMessage, (WSMsgType.CLOSING, None, None))


class WebSocketError(Exception):
    """The peer broke the protocol; ``code`` is the close code to answer with."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(code, message)

    def __str__(self) -> str:
        return str(self.args[1])


# Codes a peer may send in a Close frame (RFC 6455 §7.4.1/§7.4.2): the registered
# ones below 3000, anything in 3000-4999 (libraries, frameworks, applications).
_ALLOWED_LOW: Final = frozenset(int(code) for code in WSCloseCode) - {1006}


def is_valid_close_code(code: int) -> bool:
    """True for a status code that may appear in a Close frame."""
    return code in _ALLOWED_LOW or 3000 <= code <= 4999
