"""The sans-IO multipart parser: bytes in, events out (no sockets, no loop)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heron._proto.multipart import (
    BodyEnd,
    MultipartParseError,
    MultipartParser,
    PartData,
    PartEnd,
    PartStart,
    validate_boundary,
)

BOUNDARY = b"xYz-b0undary"


def build(parts: list[tuple[list[tuple[bytes, bytes]], bytes]], preamble: bytes = b"") -> bytes:
    out = preamble + (b"\r\n" if preamble else b"")
    for headers, data in parts:
        out += b"--" + BOUNDARY + b"\r\n"
        out += b"".join(n + b": " + v + b"\r\n" for n, v in headers) + b"\r\n" + data + b"\r\n"
    return out + b"--" + BOUNDARY + b"--\r\nepilogue"


def run(chunks: list[bytes], **limits: int) -> list[object]:
    """Parse; merge adjacent data; return a comparable list."""
    parser = MultipartParser(BOUNDARY, **limits)
    events = []
    for chunk in chunks:
        events += parser.feed(chunk)
    events += parser.feed_eof()
    out: list[object] = []
    for event in events:
        if isinstance(event, PartData):
            assert event.data  # never empty
            if out and isinstance(out[-1], bytes):
                out[-1] += event.data
            else:
                out.append(event.data)
        elif isinstance(event, PartStart):
            out.append(("start", tuple(event.headers)))
        elif isinstance(event, PartEnd):
            out.append("end")
        else:
            assert isinstance(event, BodyEnd)
            out.append("body-end")
    return out


def test_parts_and_empty_parts() -> None:
    body = build([([(b"Content-Disposition", b'form-data; name="a"')], b"1"), ([], b"")])
    assert run([body]) == [
        ("start", ((b"content-disposition", b'form-data; name="a"'),)),
        b"1",
        "end",
        ("start", ()),
        "end",
        "body-end",
    ]


def test_data_that_looks_like_a_delimiter_is_data() -> None:
    data = b"\r\n--xYz-b0undar\r\n-" + b"--" + BOUNDARY + b"\r\n"
    assert run([build([([], data)])])[1] == data


def test_preamble_and_padding_and_unterminated_close() -> None:
    body = b"preamble\r\n--" + BOUNDARY + b" \t\r\n\r\nx\r\n--" + BOUNDARY + b"--"
    assert run([body]) == [("start", ()), b"x", "end", "body-end"]


@pytest.mark.parametrize(
    ("body", "limits"),
    [
        (b"", {}),
        (b"no boundary at all" * 100, {}),
        (b"--" + BOUNDARY + b"\r\n\r\ntruncated", {}),
        (b"--" + BOUNDARY + b"junk\r\n\r\n", {}),
        (b"--" + BOUNDARY + b"\r\nbad header\r\n\r\n", {}),
        (b"--" + BOUNDARY + b"\r\n folded: x\r\n\r\n", {}),
        (b"--" + BOUNDARY + b"\r\nA: " + b"x" * 200 + b"\r\n\r\n", {"max_header_size": 100}),
        (b"--" + BOUNDARY + b"\r\n" + b"A: b\r\n" * 5 + b"\r\n", {"max_headers": 4}),
        (build([([], b"1")] * 3), {"max_parts": 2}),
        (b"x" * 2000 + b"\r\n" + build([([], b"1")]), {"max_preamble": 1024}),
    ],
)
def test_malformed_or_over_limit(body: bytes, limits: dict[str, int]) -> None:
    with pytest.raises(MultipartParseError) as info:
        run([body], **limits)
    assert info.value.status == 400


@pytest.mark.parametrize("boundary", [b"", b"a" * 71, b'a"b', b"a\r\nb", b"trailing ", b"\xff"])
def test_invalid_boundaries(boundary: bytes) -> None:
    with pytest.raises(MultipartParseError):
        validate_boundary(boundary)


header = st.tuples(
    st.text("abcXYZ-", min_size=1, max_size=8).map(str.encode),
    st.binary(max_size=20).map(lambda b: b.translate(None, b"\r\n\x00").strip(b" \t")),
)
parts = st.lists(
    st.tuples(
        st.lists(header, max_size=3),
        st.one_of(
            st.binary(max_size=200),
            st.sampled_from([b"\r", b"\r\n", b"\r\n-", b"\r\n--", b"\r\n--xYz", b"-" + BOUNDARY]),
        ).filter(lambda d: b"--" + BOUNDARY not in b"\r\n" + d),
    ),
    max_size=5,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    parts=parts,
    preamble=st.binary(max_size=30).map(lambda b: b.replace(b"\r", b"").replace(b"-", b"")),
    data=st.data(),
)
def test_any_split_gives_the_same_parts(parts, preamble, data) -> None:
    body = build(parts, preamble)
    whole = run([body])
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=12)))
    chunks = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    assert run(chunks) == whole
    assert run([body[i : i + 1] for i in range(len(body))]) == whole
    starts = [e for e in whole if isinstance(e, tuple)]
    assert len(starts) == len(parts)
    assert [e for e in whole if isinstance(e, bytes)] == [d for _, d in parts if d]


@settings(max_examples=500, deadline=None)
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.lists(
            st.sampled_from(
                [b"--", BOUNDARY, b"\r\n", b"\r", b"\n", b"A: b", b":", b" ", b"x", b"--\r\n"]
            ),
            max_size=40,
        ).map(b"".join),
    ),
    split=st.integers(0, 300),
)
def test_arbitrary_bytes_give_parts_or_a_multipart_error(body: bytes, split: int) -> None:
    with contextlib.suppress(MultipartParseError):
        run([body[:split], body[split:]], max_header_size=64, max_headers=4, max_parts=5)
