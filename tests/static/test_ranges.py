"""Range requests on file responses, checked against RFC 9110 §14 (and §13.1.5 If-Range).

Each test names the section it checks. ``data.bin`` holds 1024 bytes: 0..255 four times.
"""

from __future__ import annotations

import email.parser
import email.policy
import os
from pathlib import Path

import pytest

from heron import web
from heron._proto.ranges import MAX_RANGES, parse_range

from .conftest import Serve, fetch

DATA = bytes(range(256)) * 4
SIZE = len(DATA)


@pytest.fixture
async def port(serve: Serve, tree: Path) -> int:
    os.utime(tree / "public" / "data.bin", (1_600_000_000, 1_600_000_000))
    app = web.Application()
    app.router.add_static("/static", tree / "public")
    return await serve(app)


def _ranges(reply_body: bytes, content_type: str) -> list[tuple[str, str, bytes]]:
    """Parse a multipart/byteranges body with the stdlib's MIME parser."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + reply_body
    )
    assert message.is_multipart()
    parts = []
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        parts.append((str(part["Content-Type"]), str(part["Content-Range"]), payload))
    return parts


@pytest.mark.parametrize(
    ("spec", "start", "stop"),
    [
        ("bytes=0-99", 0, 100),  # int-range
        ("bytes=1000-", 1000, SIZE),  # int-range without last-pos
        ("bytes=-24", SIZE - 24, SIZE),  # suffix-range
        ("bytes=-5000", 0, SIZE),  # a suffix longer than the file is the whole file
        ("bytes=1000-99999", 1000, SIZE),  # last-pos past the end is clipped
        ("Bytes=5-5", 5, 6),  # range units are case-insensitive (§14.1)
        ("bytes=0-0,", 0, 1),  # empty list elements are allowed (§5.6.1.2)
    ],
)
async def test_single_range_is_206(port: int, spec: str, start: int, stop: int) -> None:
    # §14.1.2 (byte ranges), §14.4 (Content-Range), §15.3.7 (206).
    reply = await fetch(port, "/static/data.bin", [("Range", spec)])
    assert reply.status == 206
    assert reply.header("content-range") == f"bytes {start}-{stop - 1}/{SIZE}"
    assert reply.header("content-length") == str(stop - start)
    assert reply.body == DATA[start:stop]
    assert reply.header("etag") is not None  # §15.3.7: validators as in a 200


@pytest.mark.parametrize(
    "spec",
    [
        "bytes=1024-",  # first-pos at the end
        "bytes=5000-6000",
        "bytes=-0",  # a zero suffix-length selects nothing (§14.1.1)
        "bytes=2000-,3000-4000",
    ],
)
async def test_unsatisfiable_is_416_with_the_size(port: int, spec: str) -> None:
    # §14.1.1 (satisfiable), §15.5.17: 416 with Content-Range: bytes */complete-length.
    reply = await fetch(port, "/static/data.bin", [("Range", spec)])
    assert reply.status == 416
    assert reply.header("content-range") == f"bytes */{SIZE}"
    assert reply.body == b""


@pytest.mark.parametrize(
    "spec",
    [
        "bytes=abc",
        "bytes=5-1",  # last-pos before first-pos is invalid (§14.1.1)
        "bytes=--1",
        "bytes=1-2-3",
        "bytes",
        "bytes=\u0661-\u0662",  # ARABIC-INDIC digits are not DIGIT (GHSA-mqqc-3gqh-h2x8)
        "bytes=\uff11-\uff12",  # FULLWIDTH digits
        "bytes=1-" + "9" * 5000,  # far more digits than int() takes by default
    ],
)
async def test_malformed_range_is_416(port: int, spec: str) -> None:
    # §14.2: a server MAY reject an invalid ranges-specifier; aiohttp answers 416.
    reply = await fetch(port, "/static/data.bin", [("Range", spec)])
    if spec.endswith("9" * 5000):
        # A satisfiable range after all: huge last-pos is clipped.
        assert reply.status == 206 and reply.body == DATA[1:]
        return
    assert reply.status == 416, spec
    assert reply.header("content-range") == f"bytes */{SIZE}"


async def test_unknown_unit_and_non_get_ignore_range(port: int) -> None:
    # §14.2: a Range with an unknown unit is ignored; range handling is defined for GET only.
    reply = await fetch(port, "/static/data.bin", [("Range", "items=0-5")])
    assert reply.status == 200 and reply.body == DATA
    reply = await fetch(port, "/static/data.bin", [("Range", "bytes=0-5")], method="HEAD")
    assert reply.status == 200
    assert reply.header("content-length") == str(SIZE)
    assert reply.header("content-range") is None


async def test_multiple_ranges_are_multipart_byteranges(port: int) -> None:
    # §14.6: multipart/byteranges, one part per range with Content-Type and Content-Range,
    # parts in the order asked for (§14.6: "SHOULD send the parts in the same order").
    reply = await fetch(port, "/static/data.bin", [("Range", "bytes=900-909, 0-9, -4")])
    assert reply.status == 206
    content_type = reply.header("content-type") or ""
    assert content_type.startswith("multipart/byteranges; boundary=")
    assert reply.header("content-range") is None
    assert reply.header("content-length") == str(len(reply.body))
    parts = _ranges(reply.body, content_type)
    assert parts == [
        ("application/octet-stream", f"bytes 900-909/{SIZE}", DATA[900:910]),
        ("application/octet-stream", f"bytes 0-9/{SIZE}", DATA[0:10]),
        ("application/octet-stream", f"bytes 1020-1023/{SIZE}", DATA[1020:]),
    ]


async def test_overlapping_ranges_are_coalesced(port: int) -> None:
    # §14.6: a server MAY coalesce overlapping ranges (or ones separated by a small gap);
    # a single resulting range is sent as a plain 206, never as multipart (§15.3.7.2).
    reply = await fetch(port, "/static/data.bin", [("Range", "bytes=0-99,50-149,100-120")])
    assert reply.status == 206
    assert reply.header("content-range") == f"bytes 0-149/{SIZE}"
    assert reply.body == DATA[:150]
    reply = await fetch(port, "/static/data.bin", [("Range", "bytes=0-9,500-509,5-600")])
    assert reply.header("content-range") == f"bytes 0-600/{SIZE}"
    reply = await fetch(port, "/static/data.bin", [("Range", "bytes=0-9,600-609,5-15")])
    parts = _ranges(reply.body, reply.header("content-type") or "")
    assert [p[1] for p in parts] == [f"bytes 0-15/{SIZE}", f"bytes 600-609/{SIZE}"]


async def test_too_many_ranges_are_ignored(port: int) -> None:
    # §14.2: a server MAY ignore a Range with many small ranges (a DoS sign): bounded count.
    many = ",".join(f"{i * 30}-{i * 30 + 1}" for i in range(MAX_RANGES + 1))
    reply = await fetch(port, "/static/data.bin", [("Range", f"bytes={many}")])
    assert reply.status == 200 and reply.body == DATA
    enough = ",".join(f"{i * 30}-{i * 30 + 1}" for i in range(MAX_RANGES))
    reply = await fetch(port, "/static/data.bin", [("Range", f"bytes={enough}")])
    assert reply.status == 206


async def test_if_range(port: int) -> None:
    # §13.1.5: with a matching strong entity-tag or the exact Last-Modified date the range
    # is sent; otherwise (other tag, weak tag, other date, garbage) the whole file is.
    head = await fetch(port, "/static/data.bin")
    etag, last_modified = head.header("etag") or "", head.header("last-modified") or ""
    for value in (etag, last_modified):
        reply = await fetch(port, "/static/data.bin", [("Range", "bytes=0-1"), ("If-Range", value)])
        assert reply.status == 206, value
    for value in ('"other"', f"W/{etag}", "Thu, 01 Jan 2004 00:00:00 GMT", "garbage"):
        reply = await fetch(port, "/static/data.bin", [("Range", "bytes=0-1"), ("If-Range", value)])
        assert reply.status == 200, value
        assert reply.body == DATA


async def test_if_range_date_of_a_just_modified_file_is_weak(port: int, tree: Path) -> None:
    # §13.1.5 needs a strong validator; §8.8.2.2: Last-Modified is only strong once it is
    # at least a second older than the response's Date.
    (tree / "public" / "data.bin").write_bytes(DATA)
    head = await fetch(port, "/static/data.bin")
    if head.header("last-modified") != head.header("date"):
        pytest.skip("the second changed between the write and the request")
    value = head.header("last-modified") or ""
    reply = await fetch(port, "/static/data.bin", [("Range", "bytes=0-1"), ("If-Range", value)])
    assert reply.status == 200


async def test_empty_file_ranges(serve: Serve, tree: Path) -> None:
    # §14.1.1: for a zero-length representation only a suffix range is satisfiable, and it
    # selects nothing a 206 can describe: the (empty) whole is sent.
    (tree / "public" / "empty").write_bytes(b"")
    app = web.Application()
    app.router.add_static("/static", tree / "public")
    port = await serve(app)
    assert (await fetch(port, "/static/empty", [("Range", "bytes=0-")])).status == 416
    reply = await fetch(port, "/static/empty", [("Range", "bytes=-5")])
    assert reply.status == 200 and reply.body == b""


def test_parse_range_orders_and_merges() -> None:
    assert parse_range("bytes=500-599,0-4", 1000).ranges == ((500, 600), (0, 5))
    assert parse_range("bytes=10-19,0-4", 100).ranges == ((0, 20),)  # a small gap
    assert parse_range("bytes=0-4,3-10", 100).ranges == ((0, 11),)
    assert parse_range("bytes=500-509,0-9,505-700", 1000).ranges == ((500, 701), (0, 10))
    assert parse_range("bytes = 0-1", 100).status == 416  # no whitespace around "="
    assert parse_range("bytes=0-1", 0).status == 416
