"""WebSocket protocol core, sans-IO: frames, messages, handshake, permessage-deflate.

Layers, each small: :mod:`.frames` (bytes ↔ frames) → :mod:`.decoder` (frames →
messages) → the I/O layer's connection.  Nothing here touches asyncio.
"""

from .decoder import MessageDecoder
from .deflate import Compressor, Decompressor, DeflateParams
from .frames import FrameDecoder, encode_frame
from .handshake import HandshakeError
from .models import (
    WS_CLOSED_MESSAGE,
    WS_CLOSING_MESSAGE,
    WebSocketError,
    WSCloseCode,
    WSMessage,
    WSMsgType,
)

__all__ = (
    "WS_CLOSED_MESSAGE",
    "WS_CLOSING_MESSAGE",
    "Compressor",
    "Decompressor",
    "DeflateParams",
    "FrameDecoder",
    "HandshakeError",
    "MessageDecoder",
    "WSCloseCode",
    "WSMessage",
    "WSMsgType",
    "WebSocketError",
    "encode_frame",
)
