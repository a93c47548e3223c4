"""Sans-IO body decoders: any split gives the same output; output comes in bounded pieces."""

from __future__ import annotations

import base64
import binascii
import gzip
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heron._proto.decoding import (
    CONTENT_CODINGS,
    ContentDecodingError,
    make_content_decoder,
    make_transfer_decoder,
)


def encoders() -> dict[str, object]:
    out: dict[str, object] = {
        "gzip": gzip.compress,
        "deflate": zlib.compress,
        "base64": base64.encodebytes,
        "quoted-printable": lambda d: binascii.b2a_qp(d, istext=False),
    }
    if "br" in CONTENT_CODINGS:
        import brotli

        out["br"] = brotli.compress
    if "zstd" in CONTENT_CODINGS:
        from heron._proto.decoding import _zstd

        out["zstd"] = _zstd.compress
    return out


def decoder(name: str):
    return make_content_decoder(name) or make_transfer_decoder(name)


def decode(name: str, chunks: list[bytes], step: int = 1000) -> bytes:
    dec = decoder(name)
    out = b""
    for chunk in chunks:
        dec.feed(chunk)
        while piece := dec.read(step):
            assert len(piece) <= step * 2  # brotli treats the bound as a hint
            out += piece
    dec.finish()
    while piece := dec.read(step):
        out += piece
    return out


@pytest.mark.parametrize("name", sorted(encoders()))
@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=5000), cuts=st.lists(st.integers(0, 6000), max_size=8))
def test_any_split_decodes_the_same(name, data, cuts) -> None:
    encoded = encoders()[name](data)
    cuts = sorted(c for c in cuts if c <= len(encoded))
    chunks = [encoded[a:b] for a, b in zip([0, *cuts], [*cuts, len(encoded)], strict=True)]
    assert decode(name, chunks) == data


@pytest.mark.parametrize("name", sorted(set(encoders()) - {"base64", "quoted-printable"}))
def test_bomb_inflates_only_as_far_as_it_is_read(name) -> None:
    bomb = encoders()[name](bytes(20_000_000))
    dec = decoder(name)
    dec.feed(bomb)
    assert 0 < len(dec.read(65536)) <= 2 * 65536


@pytest.mark.parametrize("name", sorted(set(encoders()) - {"quoted-printable"}))
def test_truncated_or_corrupt_input_is_a_decoding_error(name) -> None:
    encoded = encoders()[name](b"hello world" * 100)
    with pytest.raises(ContentDecodingError):
        decode(name, [encoded[: len(encoded) // 2] + (b"!" if name == "base64" else b"")])


def test_concatenated_gzip_members() -> None:
    assert decode("gzip", [gzip.compress(b"ab") + gzip.compress(b"cd")]) == b"abcd"


def test_gzip_member_ending_a_read_does_not_hide_the_next() -> None:
    """A member that ends a read without output, the next already fed: it is decoded.

    (It was left unread, and finish() took the ended member for the whole body, so a
    corrupt or truncated second member passed as a good body.)
    """
    first, second = gzip.compress(b"one "), gzip.compress(b"two")
    for cut in range(len(first) - 8, len(first) + 1):  # the member's last bytes, then its end
        assert decode("gzip", [first[:cut], first[cut:] + second]) == b"one two"
        with pytest.raises(ContentDecodingError):
            decode("gzip", [first[:cut], first[cut:] + second[:-4]])


def test_many_empty_gzip_members_are_skipped_without_recursion() -> None:
    """Thousands of empty members (60 KB of body) before the data: decoded, not a
    RecursionError (a 500 and a logged traceback for a small request)."""
    body = gzip.compress(b"") * 3000 + gzip.compress(b"data")
    assert decode("gzip", [body]) == b"data"
    with pytest.raises(ContentDecodingError):
        decode("gzip", [body[:-4]])


@pytest.mark.skipif("zstd" not in CONTENT_CODINGS, reason="no zstd module")
def test_zstd_frame_ending_without_output_does_not_hide_the_next() -> None:
    """An empty frame, then a truncated one, in one read: the truncation is an error
    (finish() took the ended empty frame for the whole body and the rest passed)."""
    from heron._proto.decoding import _zstd

    body = _zstd.compress(b"") * 3 + _zstd.compress(b"data")
    assert decode("zstd", [body]) == b"data"
    with pytest.raises(ContentDecodingError):
        decode("zstd", [body[:-3]])
