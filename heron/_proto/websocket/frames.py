"""The frame layer: bytes to frame chunks and frames to bytes (RFC 6455 §5.2).

``FrameDecoder`` checks what a frame header alone can tell (masking direction,
reserved bits 2 and 3, control-frame rules, 63-bit lengths) and hands data-frame
payloads upward in chunks as they arrive, so the message layer can enforce its
size limit and validate text before a frame is complete.  A control frame
(at most 125 bytes) is handed up whole.
"""

from __future__ import annotations

import os
from struct import Struct
from typing import Final

from .mask import apply_mask
from .models import WebSocketError, WSCloseCode

__all__ = ("SMALL_HEADS", "FrameChunk", "FrameDecoder", "encode_frame")

OP_CONT: Final = 0x0
OP_TEXT: Final = 0x1
OP_BINARY: Final = 0x2
OP_CLOSE: Final = 0x8
OP_PING: Final = 0x9
OP_PONG: Final = 0xA

_U16: Final = Struct("!BBH")
_U64: Final = Struct("!BBQ")
_MAX_CONTROL: Final = 125

#: PERF: ws-echo: the header of an unmasked final frame with a payload under 126 bytes,
#: ready-made: ``SMALL_HEADS[opcode | rsv][length]`` (``rsv`` 0 or 0x40, RSV1).  A server
#: frames a small message with one lookup and one concatenation.
SMALL_HEADS: Final = {
    first: tuple(bytes((0x80 | first, n)) for n in range(126))
    for opcode in (OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG)
    for first in (opcode, opcode | 0x40)
}


def encode_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv1: bool = False,
    mask: bool = False,
) -> bytes:
    """One frame; ``mask=True`` (clients) masks the payload with a random key."""
    first = opcode | (0x80 if fin else 0) | (0x40 if rsv1 else 0)
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head = bytes((first, bit | n))
    elif n < 65536:
        head = _U16.pack(first, bit | 126, n)
    else:
        head = _U64.pack(first, bit | 127, n)
    if mask:
        key = os.urandom(4)
        return head + key + apply_mask(key, payload)
    return head + payload


class FrameChunk:
    """A whole frame, or a piece of a data frame's payload (``first``/``last`` say which)."""

    __slots__ = ("data", "fin", "first", "last", "length", "opcode", "rsv1")

    def __init__(
        self,
        opcode: int,
        fin: bool,
        rsv1: bool,
        length: int,
        data: bytes,
        first: bool,
        last: bool,
    ) -> None:
        self.opcode = opcode
        self.fin = fin
        self.rsv1 = rsv1
        #: The whole frame's payload length (known from the header).
        self.length = length
        self.data = data
        self.first = first
        self.last = last


def _fail(reason: str) -> WebSocketError:
    return WebSocketError(WSCloseCode.PROTOCOL_ERROR, reason)


class FrameDecoder:
    """Incremental frame parser for one direction of a connection."""

    __slots__ = (
        "_buf",
        "_fin",
        "_length",
        "_mask",
        "_masked_in",
        "_offset",
        "_opcode",
        "_remaining",
        "_rsv1",
    )

    def __init__(self, *, masked: bool) -> None:
        #: Whether incoming frames must be masked (True on a server).
        self._masked_in = masked
        self._buf = bytearray()
        # The data frame whose payload is being streamed (``_remaining`` > 0), if any.
        self._remaining = 0
        self._opcode = 0
        self._fin = False
        self._rsv1 = False
        self._length = 0
        self._offset = 0
        self._mask: bytes | None = None

    @property
    def masked(self) -> bool:
        """Whether incoming frames must be masked."""
        return self._masked_in

    @property
    def pending(self) -> bool:
        """True while part of a frame has been received and the rest has not."""
        return bool(self._buf) or bool(self._remaining)

    def feed(self, data: bytes) -> list[FrameChunk]:
        """Parse ``data``; return the frames and payload chunks it completes.

        Raises :class:`WebSocketError` at the first invalid frame header.
        """
        out: list[FrameChunk] = []
        self.feed_into(data, out)
        return out

    def feed_into(self, data: bytes, out: list[FrameChunk]) -> None:
        """Like :meth:`feed`, appending to ``out``: what came before an error stays there."""
        buf = self._buf
        # PERF: with nothing left over from the last call, parse ``data`` in place
        # (slices of bytes are bytes: one copy per payload, not two).
        src: bytes | bytearray
        if buf:
            buf += data
            src = buf
        else:
            src = data
        pos = 0
        end = len(src)
        while pos < end or self._remaining:
            if self._remaining:
                # Streaming a data frame's payload: hand up what has arrived.
                take = min(self._remaining, end - pos)
                if not take:
                    break
                chunk = bytes(src[pos : pos + take])
                if self._mask is not None:
                    chunk = apply_mask(self._mask, chunk, self._offset)
                self._offset += take
                self._remaining -= take
                pos += take
                out.append(
                    FrameChunk(
                        self._opcode,
                        self._fin,
                        self._rsv1,
                        self._length,
                        chunk,
                        False,
                        not self._remaining,
                    )
                )
                continue
            if end - pos < 2:
                break
            b0 = src[pos]
            b1 = src[pos + 1]
            if b0 & 0x30:
                raise _fail("Reserved bits 2 and 3 must be 0")
            opcode = b0 & 0x0F
            length = b1 & 0x7F
            masked = bool(b1 & 0x80)
            if masked is not self._masked_in:
                raise _fail("Frames from a client must be masked, from a server must not")
            size = 2 + (4 if masked else 0) + (2 if length == 126 else 8 if length == 127 else 0)
            if end - pos < size:
                break
            if length == 126:
                length = int.from_bytes(src[pos + 2 : pos + 4], "big")
            elif length == 127:
                length = int.from_bytes(src[pos + 2 : pos + 10], "big")
                if length >> 63:
                    raise _fail("Frame length has its most significant bit set")
            fin = bool(b0 & 0x80)
            rsv1 = bool(b0 & 0x40)
            mask = bytes(src[pos + size - 4 : pos + size]) if masked else None
            if opcode & 0x8:
                if not fin:
                    raise _fail("Control frames must not be fragmented")
                if length > _MAX_CONTROL:
                    raise _fail("Control frame payload longer than 125 bytes")
                if end - pos < size + length:
                    break  # PERF: wait for the whole (small) control frame.
                start = pos + size
                payload = bytes(src[start : start + length])
                if mask is not None:
                    payload = apply_mask(mask, payload)
                pos = start + length
                out.append(FrameChunk(opcode, fin, rsv1, length, payload, True, True))
                continue
            pos += size
            if end - pos >= length:
                # PERF: the common case, a data frame already complete in the buffer.
                payload = bytes(src[pos : pos + length])
                if mask is not None:
                    payload = apply_mask(mask, payload)
                pos += length
                out.append(FrameChunk(opcode, fin, rsv1, length, payload, True, True))
                continue
            self._opcode = opcode
            self._fin = fin
            self._rsv1 = rsv1
            self._length = length
            self._offset = 0
            self._mask = mask
            self._remaining = length
            # Hand up the first piece now so the message layer can check the length.
            take = end - pos
            chunk = bytes(src[pos:end])
            if mask is not None:
                chunk = apply_mask(mask, chunk)
            self._offset = take
            self._remaining -= take
            pos = end
            out.append(FrameChunk(opcode, fin, rsv1, length, chunk, True, False))
        if src is buf:
            del buf[:pos]
        elif pos < end:
            buf += src[pos:]
