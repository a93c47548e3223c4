"""The sans-IO WebSocket core: frames, messages, limits, errors (bytes in, messages out)."""

from __future__ import annotations

import os
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heron._proto.websocket.decoder import MessageDecoder
from heron._proto.websocket.deflate import Compressor
from heron._proto.websocket.frames import FrameDecoder, encode_frame
from heron._proto.websocket.mask import apply_mask
from heron._proto.websocket.models import WSMsgType

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def client_frame(opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False) -> bytes:
    return encode_frame(opcode, payload, fin=fin, rsv1=rsv1, mask=True)


def server_decoder(**kwargs: object) -> MessageDecoder:
    return MessageDecoder(is_server=True, **kwargs)  # type: ignore[arg-type]


def feed_all(decoder: MessageDecoder, data: bytes, cuts: list[int]) -> list[tuple[int, object]]:
    out = []
    prev = 0
    for cut in [*sorted(c % (len(data) + 1) for c in cuts), len(data)]:
        for msg in decoder.feed(data[prev:cut]) if cut > prev else ():
            out.append((int(msg.type), msg.data))
        prev = max(prev, cut)
    return out


def expect_error(decoder: MessageDecoder, data: bytes, code: int) -> None:
    assert decoder.feed(data) == []
    assert decoder.error is not None
    assert decoder.error.code == code
    # A failed decoder stays failed: it takes nothing more.
    error = decoder.error
    assert decoder.feed(b"\x81\x80" + b"\x00" * 4) == []
    assert decoder.error is error


# ---------------------------------------------------------------------- masking


@given(st.binary(min_size=4, max_size=4), st.binary(max_size=300), st.integers(0, 7))
def test_mask_is_an_involution_with_offsets(key: bytes, data: bytes, split: int) -> None:
    masked = apply_mask(key, data)
    assert apply_mask(key, masked) == data
    assert masked == bytes(b ^ key[i % 4] for i, b in enumerate(data))
    # Masking in two pieces (offset carried over) equals masking at once.
    split = min(split, len(data))
    assert apply_mask(key, data[:split]) + apply_mask(key, data[split:], split) == masked


# ---------------------------------------------------------------------- round trips


messages = st.lists(
    st.one_of(
        st.tuples(st.just(TEXT), st.text(max_size=300).map(lambda s: s.encode())),
        st.tuples(st.just(BINARY), st.binary(max_size=70000)),
        st.tuples(st.sampled_from([PING, PONG]), st.binary(max_size=125)),
    ),
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(messages, st.lists(st.integers(0, 200000), max_size=8), st.booleans())
def test_frames_round_trip_across_any_split(
    msgs: list[tuple[int, bytes]], cuts: list[int], to_server: bool
) -> None:
    stream = b"".join(encode_frame(op, p, mask=to_server) for op, p in msgs)
    decoder = MessageDecoder(is_server=to_server, max_msg_size=0)
    got = feed_all(decoder, stream, cuts)
    want = [(op, p.decode() if op == TEXT else p) for op, p in msgs]
    assert got == want


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.binary(max_size=2000), min_size=1, max_size=5),
    st.lists(st.integers(0, 20000), max_size=6),
    st.binary(max_size=50),
)
def test_fragmented_message_with_interleaved_control_frames(
    fragments: list[bytes], cuts: list[int], ping: bytes
) -> None:
    parts = []
    for i, fragment in enumerate(fragments):
        opcode = BINARY if i == 0 else 0
        parts.append(client_frame(opcode, fragment, fin=i == len(fragments) - 1))
        parts.append(client_frame(PING, ping))
    got = feed_all(server_decoder(max_msg_size=0), b"".join(parts), cuts)
    pings = [(PING, ping)] * len(fragments)
    assert got == [*pings[:-1], (BINARY, b"".join(fragments)), pings[-1]]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(max_size=500), min_size=1, max_size=4),
    st.sampled_from([9, 12, 15]),
    st.booleans(),
    st.lists(st.integers(0, 5000), max_size=5),
)
def test_compressed_messages_round_trip(
    texts: list[str], bits: int, no_takeover: bool, cuts: list[int]
) -> None:
    compressor = Compressor(bits, no_context_takeover=no_takeover)
    stream = b"".join(client_frame(TEXT, compressor.compress(t.encode()), rsv1=True) for t in texts)
    got = feed_all(server_decoder(compress=True), stream, cuts)
    assert got == [(TEXT, t) for t in texts]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.booleans(), st.booleans())
def test_arbitrary_bytes_give_messages_or_a_close_code(
    data: bytes, is_server: bool, compress: bool
) -> None:
    decoder = MessageDecoder(is_server=is_server, max_msg_size=64, compress=compress)
    for msg in decoder.feed(data):
        assert msg.type in set(WSMsgType)
    if decoder.error is not None:
        assert decoder.error.code in (1002, 1007, 1009)


# ---------------------------------------------------------------------- frame rules


@pytest.mark.parametrize(
    "frame",
    [
        encode_frame(TEXT, b"hi"),  # unmasked, from a client
        bytes([0x81 | 0x20, 0x80]) + b"\x00" * 4,  # RSV2
        bytes([0x81 | 0x10, 0x80]) + b"\x00" * 4,  # RSV3
        client_frame(TEXT, b"x", rsv1=True),  # RSV1 without an extension
        client_frame(0x3, b""),  # reserved data opcode
        client_frame(0xB, b""),  # reserved control opcode
        client_frame(PING, b"", fin=False),  # fragmented control frame
        client_frame(PING, b"x" * 126),  # control frame too long
        client_frame(0, b"x"),  # continuation of nothing
        client_frame(TEXT, b"a", fin=False) + client_frame(TEXT, b"b"),  # new message mid-message
        client_frame(CLOSE, b"\x03"),  # 1-byte close payload
        client_frame(CLOSE, (999).to_bytes(2, "big")),
        client_frame(CLOSE, (1005).to_bytes(2, "big")),
        client_frame(CLOSE, (1006).to_bytes(2, "big")),
        client_frame(CLOSE, (2999).to_bytes(2, "big")),
        client_frame(CLOSE, (5000).to_bytes(2, "big")),
        bytes([0x82, 0xFF]) + (1 << 63).to_bytes(8, "big") + b"\x00" * 4,  # 64-bit length MSB
    ],
)
def test_protocol_errors_close_with_1002(frame: bytes) -> None:
    expect_error(server_decoder(), frame, 1002)


def test_server_frames_must_not_be_masked_for_a_client() -> None:
    decoder = MessageDecoder(is_server=False)
    expect_error(decoder, client_frame(TEXT, b"x"), 1002)


@pytest.mark.parametrize("code", [1000, 1001, 1003, 1007, 1011, 1012, 1014, 3000, 4999])
def test_valid_close_codes(code: int) -> None:
    (msg,) = server_decoder().feed(client_frame(CLOSE, code.to_bytes(2, "big") + "é".encode()))
    assert (msg.type, msg.data, msg.extra) == (WSMsgType.CLOSE, code, "é")


def test_empty_close_frame_reports_code_0_like_aiohttp() -> None:
    (msg,) = server_decoder().feed(client_frame(CLOSE, b""))
    assert (msg.type, msg.data) == (WSMsgType.CLOSE, 0)


def test_close_reason_must_be_utf8() -> None:
    expect_error(server_decoder(), client_frame(CLOSE, b"\x03\xe8\xff"), 1007)


# ---------------------------------------------------------------------- UTF-8


def test_invalid_utf8_fails_on_the_first_bad_fragment() -> None:
    decoder = server_decoder()
    assert decoder.feed(client_frame(TEXT, "κόσμε".encode(), fin=False)) == []
    # The message is unfinished, but 0xF5 can never start a character: fail now.
    expect_error(decoder, client_frame(0, b"\xf5", fin=False), 1007)


def test_invalid_utf8_fails_mid_frame_before_the_frame_ends() -> None:
    decoder = server_decoder()
    frame = client_frame(TEXT, b"abc\xed\xa0\x80" + b"x" * 1000)
    assert decoder.feed(frame[:14]) == []  # header, mask and the first bytes of the payload
    assert decoder.error is not None and decoder.error.code == 1007


def test_utf8_split_across_fragments_is_valid() -> None:
    data = "€".encode()
    decoder = server_decoder()
    stream = client_frame(TEXT, data[:1], fin=False) + client_frame(0, data[1:])
    assert [m.data for m in decoder.feed(stream)] == ["€"]


def test_decode_text_false_gives_bytes() -> None:
    (msg,) = server_decoder(decode_text=False).feed(client_frame(TEXT, "é".encode()))
    assert (msg.type, msg.data) == (WSMsgType.TEXT, "é".encode())


def test_text_ending_mid_character_is_invalid() -> None:
    expect_error(server_decoder(), client_frame(TEXT, "€".encode()[:2]), 1007)


# ---------------------------------------------------------------------- size limits


def test_oversized_frame_is_refused_from_its_header() -> None:
    decoder = server_decoder(max_msg_size=1024)
    header = client_frame(BINARY, b"x" * 5000)[:8]  # header + mask: no payload yet
    expect_error(decoder, header, 1009)


def test_fragments_are_limited_as_they_arrive() -> None:
    decoder = server_decoder(max_msg_size=1000)
    assert decoder.feed(client_frame(BINARY, b"x" * 600, fin=False)) == []
    expect_error(decoder, client_frame(0, b"x" * 600, fin=False)[:8], 1009)


def test_partial_frames_never_buffer_past_the_limit() -> None:
    # GHSA-xcgm-r5h9-7989: a frame announced within the limit, sent in pieces.
    decoder = server_decoder(max_msg_size=4096)
    frame = client_frame(BINARY, os.urandom(4096))
    for i in range(0, len(frame), 100):
        decoder.feed(frame[i : i + 100])
        assert len(decoder._frames._buf) <= 14  # only a header is ever held back
        assert len(decoder._buffer) <= 4096


def test_decompression_bomb_is_stopped_at_the_limit() -> None:
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = bomb.compress(b"\x00" * (50 * 1024 * 1024)) + bomb.flush(zlib.Z_SYNC_FLUSH)[:-4]
    assert len(payload) < 100_000
    decoder = server_decoder(compress=True, max_msg_size=1024 * 1024)
    expect_error(decoder, client_frame(BINARY, payload, rsv1=True), 1009)
    assert len(decoder._buffer) == 0


def test_compressed_message_at_the_limit_is_accepted() -> None:
    compressor = Compressor(15, no_context_takeover=False)
    data = b"a" * 1000
    frame = client_frame(BINARY, compressor.compress(data), rsv1=True)
    (msg,) = server_decoder(compress=True, max_msg_size=1000).feed(frame)
    assert msg.data == data
    compressor = Compressor(15, no_context_takeover=False)
    frame = client_frame(BINARY, compressor.compress(data + b"b"), rsv1=True)
    expect_error(server_decoder(compress=True, max_msg_size=1000), frame, 1009)


def test_huffman_only_compressor_for_256_byte_windows() -> None:
    compressor = Compressor(8, no_context_takeover=False)
    data = b"abcabcabc" * 100
    out = compressor.compress(data)
    # Decodable with the smallest window zlib's inflater accepts.
    assert zlib.decompressobj(-9).decompress(out + b"\x00\x00\xff\xff") == data


def test_frame_decoder_streams_data_frame_chunks() -> None:
    decoder = FrameDecoder(masked=False)
    frame = encode_frame(BINARY, b"abcdef")
    first = decoder.feed(frame[:4])
    rest = decoder.feed(frame[4:])
    assert [(c.first, c.last, c.data, c.length) for c in first + rest] == [
        (True, False, b"ab", 6),
        (False, True, b"cdef", 6),
    ]


# ---------------------------------------------------------------------- the multi-frame fast path


# Without context takeover each compressed message stands alone: drawing one is repeatable.
_STANDALONE = Compressor(15, no_context_takeover=True)
_text = st.text(max_size=200).map(lambda s: s.encode())
_frames = st.one_of(
    st.builds(lambda p: client_frame(TEXT, p), _text),
    st.builds(lambda p: client_frame(BINARY, p), st.binary(max_size=70000)),
    st.builds(lambda n: client_frame(BINARY, b"x" * n), st.integers(0, 1100)),  # sizes
    st.builds(lambda n: client_frame(TEXT, "é".encode() * n), st.integers(0, 600)),
    st.builds(lambda p: client_frame(TEXT, p), st.binary(max_size=20)),  # maybe bad UTF-8
    st.builds(lambda p: client_frame(TEXT, _STANDALONE.compress(p), rsv1=True), _text),
    st.builds(lambda p: client_frame(BINARY, p, rsv1=True), st.binary(max_size=20)),  # bad
    st.builds(lambda p: client_frame(PING, p), st.binary(max_size=125)),
    st.builds(lambda p: client_frame(TEXT, p, fin=False), _text),
    st.builds(lambda p: client_frame(0, p), _text),
    st.builds(lambda p: encode_frame(BINARY, p), st.binary(max_size=10)),  # unmasked
    st.builds(lambda p: client_frame(0x3, p), st.binary(max_size=10)),  # reserved opcode
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_frames, max_size=6), st.booleans(), st.booleans(), st.sampled_from([0, 100, 1000]))
def test_whole_reads_decode_like_the_general_path(
    frames: list[bytes], compress: bool, decode_text: bool, limit: int
) -> None:
    # Several frames in one read (the fast path) give what the same bytes fed one at a
    # time (the general path) give: the same messages, then the same error (the first
    # violation in the stream) or none.
    stream = b"".join(frames)

    def decoder() -> MessageDecoder:
        return MessageDecoder(
            is_server=True, compress=compress, decode_text=decode_text, max_msg_size=limit
        )

    def run(pieces: list[bytes]) -> tuple[list[tuple[int, object]], int | None]:
        dec = decoder()
        out: list[tuple[int, object]] = []
        for piece in pieces:
            msgs = dec.feed(piece)
            if dec.only_data:
                assert dec.error is None
                assert all(m.type in (WSMsgType.TEXT, WSMsgType.BINARY) for m in msgs)
                assert dec.data_size == sum(len(m.data) for m in msgs)
            out += [(int(m.type), m.data) for m in msgs]
            if dec.error is not None:
                return out, dec.error.code
        return out, None

    whole, whole_error = run([stream])
    split, split_error = run([stream[i : i + 1] for i in range(len(stream))])
    assert whole == split
    assert whole_error == split_error
