"""The message layer: frame chunks to messages (RFC 6455 §5.4-§5.6, RFC 7692).

It assembles fragmented messages while control frames interleave, inflates
compressed ones, validates text as UTF-8 as it arrives (failing on the first
byte that can never be valid), validates Close frames, and enforces
``max_msg_size`` on the assembled (and inflated) message before buffering past
it.  A protocol violation becomes the decoder's ``error``, a :class:`WebSocketError`
with the close code to answer with (1002, 1007 or 1009); the messages completed
before it are still returned, and after it the decoder takes no more input.
"""

from __future__ import annotations

import codecs
import zlib
from typing import Final

from .deflate import Decompressor, bad_data
from .frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameChunk,
    FrameDecoder,
)
from .mask import apply_mask
from .models import WebSocketError, WSCloseCode, WSMessage, WSMsgType, is_valid_close_code

__all__ = ("MessageDecoder",)

_new = tuple.__new__
_TEXT: Final = WSMsgType.TEXT
_BINARY: Final = WSMsgType.BINARY
_Utf8Decoder = codecs.getincrementaldecoder("utf-8")
_TRAILER: Final = b"\x00\x00\xff\xff"
# PERF: ws-echo: unmasking a small payload is one XOR of big integers.  ``y``, the
# masking key and the n-byte payload read as one big-endian integer, has the key in its
# top 32 bits: ``(y >> _BITS[n]) * _REPEAT[n]`` repeats the key over whole 4-byte
# blocks and ``>> _ALIGN[n]`` drops the bytes past the payload's end, so XOR-ing that
# with ``y`` clears the key and unmasks the payload (no key-stream bytes are built).
_BITS: Final = tuple(8 * n for n in range(126))
_REPEAT: Final = tuple(
    int.from_bytes(b"\x00\x00\x00\x01" * ((n + 7) >> 2), "big") for n in range(126)
)
_ALIGN: Final = tuple(8 * (((n + 7) >> 2 << 2) - n - 4) for n in range(126))


def _too_big(limit: int) -> WebSocketError:
    return WebSocketError(WSCloseCode.MESSAGE_TOO_BIG, f"Message exceeds limit {limit}")


def _bad_text() -> WebSocketError:
    return WebSocketError(WSCloseCode.INVALID_TEXT, "Invalid UTF-8 text message")


def _protocol_error(reason: str) -> WebSocketError:
    return WebSocketError(WSCloseCode.PROTOCOL_ERROR, reason)


class MessageDecoder:
    """Bytes in, :class:`WSMessage` out, for one side of a connection."""

    __slots__ = (
        "_buffer",
        "_compressed",
        "_decode_text",
        "_frames",
        "_inflater",
        "_mask_bit",
        "_max_size",
        "_opcode",
        "_utf8",
        "_wire_size",
        "data_size",
        "error",
        "only_data",
    )

    def __init__(
        self,
        *,
        is_server: bool,
        max_msg_size: int = 4 * 1024 * 1024,
        compress: bool = False,
        decode_text: bool = True,
    ) -> None:
        self._frames = FrameDecoder(masked=is_server)
        self._mask_bit = 0x80 if is_server else 0
        #: After ``feed``: True when every message it returned is TEXT or BINARY, and
        #: then ``data_size`` is the sum of their ``len(data)`` (the connection's
        #: read-buffer accounting takes them in one step).
        self.only_data = False
        self.data_size = 0
        #: 0 means no limit.
        self._max_size = max_msg_size
        self._decode_text = decode_text
        self._inflater = Decompressor() if compress else None
        #: The first protocol violation found; once set, ``feed`` returns nothing.
        self.error: WebSocketError | None = None
        # The data message being assembled: opcode 0 when none.
        self._opcode = 0
        self._compressed = False
        self._buffer = bytearray()
        self._wire_size = 0
        self._utf8: codecs.IncrementalDecoder | None = None

    @property
    def in_message(self) -> bool:
        """True while a fragmented message is partly received."""
        return self._opcode != 0

    def feed(self, data: bytes) -> list[WSMessage]:
        """Parse ``data``; return the messages it completes, in order.

        A protocol violation sets ``error``; the messages completed before it in ``data``
        are returned all the same (the peer is owed its answers to them before the
        Close frame, RFC 6455 §7.1.7 fails the connection at the violation, not before).
        """
        out: list[WSMessage] = []
        if self.error is not None:
            self.only_data = False
            return out
        try:
            self._feed(data, out)
        except WebSocketError as exc:
            self.error = exc
            self.only_data = False
            self._buffer = bytearray()
        return out

    def _feed(self, data: bytes, out: list[WSMessage]) -> None:
        frames = self._frames
        if self._opcode or frames._buf or frames._remaining:
            self.only_data = False
            self._feed_frames(data, out)
            return
        # PERF: ws-echo: whole unfragmented data frames (one, or several in one read:
        # a client with messages in flight sends them back to back) are decoded by this
        # loop straight from ``data``: no frame objects, one copy per payload, no call
        # per frame.  The first frame it does not handle (control, fragmented, 64-bit
        # length, partial, anything invalid) and all after it go to the general path.
        pos = 0
        end = len(data)
        size = 0
        mask_bit = self._mask_bit
        key_size = 4 if mask_bit else 0
        inflate = self._inflater.inflate if self._inflater is not None else None
        max_size = self._max_size
        limit = max_size or end
        decode_text = self._decode_text
        while end - pos > 1:
            b0 = data[pos]
            if not (b0 == 0x81 or b0 == 0x82 or b0 == 0xC1 or b0 == 0xC2):
                break
            # The mask bit as it must be cleared: > 127 when it is wrong.
            length = data[pos + 1] ^ mask_bit
            if length < 126:
                start = pos + 2 + key_size
            elif length == 126 and end - pos > 3:
                length = data[pos + 2] << 8 | data[pos + 3]
                start = pos + 4 + key_size
            else:
                break
            stop = start + length
            if stop > end or length > limit:
                break
            if not mask_bit:
                payload = data[start:stop]
            elif length < 126:
                # PERF: ws-echo: unmask as one big-integer XOR; see _REPEAT.
                y = int.from_bytes(data[start - 4 : stop], "big")
                payload = (y ^ ((y >> _BITS[length]) * _REPEAT[length] >> _ALIGN[length])).to_bytes(
                    length, "big"
                )
            else:
                payload = apply_mask(data[start - 4 : start], data[start:stop])
            if b0 & 0x40:
                if inflate is None:
                    break  # RSV1 without the extension: the general path fails it.
                # PERF: ws-echo: zlib called here, no method layers (as _inflate_whole).
                try:
                    payload = inflate(payload + _TRAILER, max_size + 1 if max_size else 0)
                except zlib.error as exc:
                    raise bad_data(exc) from None
                if max_size and len(payload) > max_size:
                    raise _too_big(max_size)
            if b0 & 1:  # TEXT
                try:
                    text = payload.decode()  # PERF: ws-echo: UTF-8, without naming it
                except UnicodeDecodeError:
                    raise _bad_text() from None
                if decode_text:
                    size += len(text)
                    out.append(_new(WSMessage, (_TEXT, text, "")))
                else:
                    size += len(payload)
                    out.append(_new(WSMessage, (_TEXT, payload, "")))
            else:
                size += len(payload)
                out.append(_new(WSMessage, (_BINARY, payload, "")))
            pos = stop
        if pos == end:
            self.only_data = True
            self.data_size = size
            return
        self.only_data = False
        self._feed_frames(data[pos:] if pos else data, out)

    def _feed_frames(self, data: bytes, out: list[WSMessage]) -> None:
        chunks: list[FrameChunk] = []
        frame_error: WebSocketError | None = None
        try:
            self._frames.feed_into(data, chunks)
        except WebSocketError as exc:
            # The frames before the bad one are messages still: decode them first.
            frame_error = exc
        for chunk in chunks:
            opcode = chunk.opcode
            if opcode & 0x8:
                out.append(self._control(opcode, chunk.rsv1, chunk.data))
                continue
            if chunk.first:
                self._start_frame(opcode, chunk.fin, chunk.rsv1, chunk.length)
                if chunk.last and chunk.fin and opcode:
                    # PERF: an unfragmented message whose bytes all came at once:
                    # inflate (if compressed) and decode in one call each.
                    self._opcode = 0
                    data = chunk.data
                    if self._compressed:
                        data = self._inflate_whole(data)
                    out.append(self._single(opcode, data))
                    continue
            self._add(chunk.data)
            if chunk.last and chunk.fin:
                out.append(self._finish())
        if frame_error is not None:
            raise frame_error

    # ------------------------------------------------------------------ data messages

    def _start_frame(self, opcode: int, fin: bool, rsv1: bool, length: int) -> None:
        if opcode == OP_CONT:
            if not self._opcode:
                raise _protocol_error("Continuation frame without a message to continue")
            if rsv1:
                raise _protocol_error("RSV1 set on a continuation frame")
        elif opcode in (OP_TEXT, OP_BINARY):
            if self._opcode:
                raise _protocol_error("New data frame while a fragmented message is open")
            if rsv1 and self._inflater is None:
                raise _protocol_error("RSV1 set but no extension negotiated")
            self._opcode = opcode
            self._compressed = rsv1
            self._wire_size = 0
            self._utf8 = None
        else:
            raise _protocol_error(f"Reserved opcode {opcode:#x}")
        limit = self._max_size
        self._wire_size += length
        if limit and self._wire_size > limit:
            raise _too_big(limit)

    def _inflate_whole(self, data: bytes) -> bytes:
        inflater = self._inflater
        assert inflater is not None
        limit = self._max_size
        out = inflater.decompress(data + _TRAILER, limit + 1 if limit else 0)
        if limit and len(out) > limit:
            raise _too_big(limit)
        return out

    def _single(self, opcode: int, payload: bytes) -> WSMessage:
        if opcode == OP_TEXT:
            try:
                text = payload.decode("utf-8")
            except UnicodeDecodeError:
                raise _bad_text() from None
            return _new(WSMessage, (_TEXT, text if self._decode_text else payload, ""))
        return _new(WSMessage, (_BINARY, payload, ""))

    def _add(self, data: bytes) -> None:
        limit = self._max_size
        if self._compressed:
            inflater = self._inflater
            assert inflater is not None
            data = inflater.decompress(data, limit - len(self._buffer) + 1 if limit else 0)
        if not data:
            return
        self._buffer += data
        if limit and len(self._buffer) > limit:
            raise _too_big(limit)
        if self._opcode == OP_TEXT:
            self._check_text(data, final=False)

    def _check_text(self, data: bytes, *, final: bool) -> None:
        utf8 = self._utf8
        if utf8 is None:
            utf8 = self._utf8 = _Utf8Decoder()
        try:
            utf8.decode(data, final)
        except UnicodeDecodeError:
            raise _bad_text() from None

    def _finish(self) -> WSMessage:
        opcode = self._opcode
        limit = self._max_size
        if self._compressed:
            inflater = self._inflater
            assert inflater is not None
            tail = inflater.finish(limit - len(self._buffer) + 1 if limit else 0)
            if tail:
                self._buffer += tail
                if limit and len(self._buffer) > limit:
                    raise _too_big(limit)
                if opcode == OP_TEXT:
                    self._check_text(tail, final=False)
        payload = bytes(self._buffer)
        self._buffer = bytearray()
        self._opcode = 0
        if opcode == OP_TEXT:
            self._check_text(b"", final=True)
            self._utf8 = None
            if self._decode_text:
                return _new(WSMessage, (_TEXT, payload.decode("utf-8"), ""))
            return _new(WSMessage, (_TEXT, payload, ""))
        return _new(WSMessage, (_BINARY, payload, ""))

    # ------------------------------------------------------------------ control frames

    def _control(self, opcode: int, rsv1: bool, payload: bytes) -> WSMessage:
        if rsv1:
            raise _protocol_error("RSV1 set on a control frame")
        if opcode == OP_PING:
            return _new(WSMessage, (WSMsgType.PING, payload, ""))
        if opcode == OP_PONG:
            return _new(WSMessage, (WSMsgType.PONG, payload, ""))
        if opcode == OP_CLOSE:
            return _close_message(payload)
        raise _protocol_error(f"Reserved opcode {opcode:#x}")


def _close_message(payload: bytes) -> WSMessage:
    """A Close frame's message: (CLOSE, code, reason); code 0 when the frame has none."""
    if not payload:
        return _new(WSMessage, (WSMsgType.CLOSE, 0, ""))
    if len(payload) == 1:
        raise _protocol_error("Close frame with a 1-byte payload")
    code = int.from_bytes(payload[:2], "big")
    if not is_valid_close_code(code):
        raise _protocol_error(f"Invalid close code: {code}")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise _bad_text() from None
    return _new(WSMessage, (WSMsgType.CLOSE, code, reason))
