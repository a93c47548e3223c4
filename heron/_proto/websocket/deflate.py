"""permessage-deflate (RFC 7692): negotiation as pure functions, and the codec.

The server accepts the first offer whose parameters it understands and echoes
what it agreed to.  Window sizes: heron's decompressor always uses a 32 KiB
window (enough for any peer window); its compressor uses the negotiated one,
and for a window of 256 bytes (``max_window_bits=8``, which zlib cannot produce
for raw deflate) it emits Huffman-only blocks, which have no back-references
and so fit any window.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Final

from .models import WebSocketError, WSCloseCode

__all__ = (
    "Compressor",
    "Decompressor",
    "DeflateParams",
    "bad_data",
    "client_offer",
    "negotiate",
    "parse_extensions",
    "parse_response",
)

EXTENSION: Final = "permessage-deflate"
_TRAILER: Final = b"\x00\x00\xff\xff"
_FLAGS: Final = ("server_no_context_takeover", "client_no_context_takeover")
_WINDOWS: Final = ("server_max_window_bits", "client_max_window_bits")

Params = list[tuple[str, str | None]]


@dataclass(frozen=True, slots=True)
class DeflateParams:
    """The agreed parameters, named from the server's point of view as in RFC 7692."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15
    #: Which window parameters appear in the agreement (and so in the response header).
    explicit_windows: tuple[bool, bool] = (False, False)

    def header(self) -> str:
        """The ``Sec-WebSocket-Extensions`` value that states this agreement."""
        parts = [EXTENSION]
        if self.server_no_context_takeover:
            parts.append("server_no_context_takeover")
        if self.client_no_context_takeover:
            parts.append("client_no_context_takeover")
        if self.explicit_windows[0]:
            parts.append(f"server_max_window_bits={self.server_max_window_bits}")
        if self.explicit_windows[1]:
            parts.append(f"client_max_window_bits={self.client_max_window_bits}")
        return "; ".join(parts)


def parse_extensions(header: str) -> list[tuple[str, Params]]:
    """Split a ``Sec-WebSocket-Extensions`` value into (name, [(param, value)]) offers."""
    offers: list[tuple[str, Params]] = []
    for item in header.split(","):
        pieces = [p.strip() for p in item.split(";")]
        if not pieces[0]:
            continue
        params: Params = []
        for piece in pieces[1:]:
            if not piece:
                continue
            key, sep, value = piece.partition("=")
            val: str | None = value.strip().strip('"') if sep else None
            params.append((key.strip().lower(), val))
        offers.append((pieces[0].lower(), params))
    return offers


def _window(value: str | None) -> int | None:
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 2:
        return None
    bits = int(value)
    return bits if 8 <= bits <= 15 else None


def _accept_offer(params: Params) -> DeflateParams | None:
    """The agreement for one client offer, or None when heron cannot accept it."""
    seen: set[str] = set()
    flags = {name: False for name in _FLAGS}
    windows = {name: 15 for name in _WINDOWS}
    explicit = {name: False for name in _WINDOWS}
    for key, value in params:
        if key in seen:
            return None
        seen.add(key)
        if key in flags:
            if value is not None:
                return None
            flags[key] = True
        elif key == "server_max_window_bits":
            bits = _window(value)
            if bits is None:
                return None
            windows[key] = bits
            explicit[key] = True
        elif key == "client_max_window_bits":
            if value is not None:
                bits = _window(value)
                if bits is None:
                    return None
                # The client may use up to ``bits``; saying so binds it to them.
                windows[key] = bits
                explicit[key] = True
        else:
            return None
    return DeflateParams(
        server_no_context_takeover=flags["server_no_context_takeover"],
        client_no_context_takeover=flags["client_no_context_takeover"],
        server_max_window_bits=windows["server_max_window_bits"],
        client_max_window_bits=windows["client_max_window_bits"],
        explicit_windows=(explicit["server_max_window_bits"], explicit["client_max_window_bits"]),
    )


def negotiate(header: str | None) -> DeflateParams | None:
    """Server side: the agreement for the first acceptable permessage-deflate offer."""
    if not header:
        return None
    for name, params in parse_extensions(header):
        if name == EXTENSION:
            agreed = _accept_offer(params)
            if agreed is not None:
                return agreed
    return None


def client_offer(*, no_context_takeover: bool = False) -> str:
    """Client side: the offer heron's client sends."""
    offer = f"{EXTENSION}; client_max_window_bits"
    if no_context_takeover:
        offer += "; client_no_context_takeover"
    return offer


def parse_response(header: str | None) -> DeflateParams | None:
    """Client side: the server's agreement; raises ValueError on one heron did not offer."""
    if not header:
        return None
    offers = parse_extensions(header)
    if len(offers) != 1 or offers[0][0] != EXTENSION:
        raise ValueError(f"Unexpected Sec-WebSocket-Extensions: {header!r}")
    agreed = _accept_offer(offers[0][1])
    if agreed is None:
        raise ValueError(f"Invalid permessage-deflate parameters: {header!r}")
    return agreed


class Compressor:
    """Compresses whole messages for sending (one per connection and direction)."""

    __slots__ = ("_deflate", "_flush", "_mode")

    def __init__(self, window_bits: int, *, no_context_takeover: bool, level: int = 1) -> None:
        strategy = zlib.Z_DEFAULT_STRATEGY
        if window_bits < 9:
            window_bits, strategy = 9, zlib.Z_HUFFMAN_ONLY
        obj = zlib.compressobj(level, zlib.DEFLATED, -window_bits, 8, strategy)
        # PERF: ws-echo: the bound methods, looked up once.
        self._deflate = obj.compress
        self._flush = obj.flush
        # Z_FULL_FLUSH also forgets the history: "no context takeover" for free.
        self._mode = zlib.Z_FULL_FLUSH if no_context_takeover else zlib.Z_SYNC_FLUSH

    def compress(self, data: bytes) -> bytes:
        """The message's compressed payload (the flush marker removed, §7.2.1)."""
        out = self._deflate(data) + self._flush(self._mode)
        # (A flush with no new input since the last one outputs nothing at all.)
        return out[:-4] if out.endswith(_TRAILER) else out


def bad_data(exc: zlib.error) -> WebSocketError:
    """The error for a message that does not inflate."""
    return WebSocketError(WSCloseCode.INVALID_TEXT, f"Bad compressed data: {exc}")


class Decompressor:
    """Inflates compressed messages piece by piece, never past a size limit."""

    __slots__ = ("inflate",)

    def __init__(self) -> None:
        #: zlib's own ``decompress(data, max_length)`` (raises zlib.error; see bad_data).
        self.inflate = zlib.decompressobj(-zlib.MAX_WBITS).decompress

    def decompress(self, data: bytes, max_length: int) -> bytes:
        """Inflate ``data``; at most ``max_length`` bytes come out (0: no limit)."""
        try:
            return self.inflate(data, max_length)
        except zlib.error as exc:
            raise bad_data(exc) from None

    def finish(self, max_length: int) -> bytes:
        """Inflate the end of a message (the implied flush marker)."""
        return self.decompress(_TRAILER, max_length)
