"""Fuzzing the sans-IO parsers: HTTP/1.1 requests, multipart bodies, WebSocket frames.

Each target is driven by Hypothesis from a seed corpus (``corpus/``) that holds the
request-smuggling and DoS shapes of aiohttp's published advisories, mutated byte by
byte, plus purely random bytes.  Every target checks the same three properties:

* only the parser's own error type escapes (``ProtocolError`` / ``MultipartParseError``
  / ``WebSocketError``): never an ``IndexError``, ``UnicodeDecodeError``, ``zlib.error``…;
* the outcome does not depend on how the bytes are split into reads (the property that
  request smuggling breaks: two parsers, or two fragmentations, disagreeing on framing);
* what comes out respects the configured limits.

Corpus files named ``reject_*`` must be refused and ``accept_*`` accepted, exactly;
``incomplete_*`` ones (a body the peer cut short) are accepted so far, their last request
unfinished.  The ``coding`` corpus holds corrupt content-coded bodies for the decoders.

The default run is short (a few seconds); ``make fuzz`` runs the ``slow`` variants with
many more examples (``HERON_FUZZ_EXAMPLES``, default 20000 per target).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heron._proto.decoding import CONTENT_CODINGS, ContentDecodingError, make_content_decoder
from heron._proto.errors import ProtocolError
from heron._proto.h1 import RequestHead, RequestParser
from heron._proto.multipart import (
    MultipartParseError,
    MultipartParser,
    PartData,
    PartEnd,
    PartStart,
    validate_boundary,
)
from heron._proto.websocket import MessageDecoder

CORPUS = Path(__file__).parent / "corpus"
LONG = int(os.environ.get("HERON_FUZZ_EXAMPLES", "20000"))


def _load(kind: str) -> dict[str, bytes]:
    return {p.stem: p.read_bytes() for p in sorted((CORPUS / kind).iterdir())}


H1 = _load("h1")
MULTIPART = _load("multipart")
WS = _load("ws")

INTERESTING = [
    b"\r",
    b"\n",
    b"\r\n",
    b"\x00",
    b" ",
    b"\t",
    b":",
    b";",
    b",",
    b"0",
    b"\xff",
    b"\r\n\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Content-Length: 5\r\n",
    b"Host: y\r\n",
    b"\r\n--BOUNDARY",
    b"--",
    b"\x80",
    b"\x7e\x00\x10",
]


@st.composite
def mutated(draw: Any, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.integers(0, 3))
        pos = draw(st.integers(0, len(data)))
        if op == 0 and data:
            data[min(pos, len(data) - 1)] = draw(st.integers(0, 255))
        elif op == 1:
            data[pos:pos] = draw(st.sampled_from(INTERESTING))
        elif op == 2:
            del data[pos : pos + draw(st.integers(1, 16))]
        else:
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 32))]
    return bytes(data)


def inputs(corpus: dict[str, bytes]) -> Any:
    return st.one_of(mutated(list(corpus.values())), st.binary(max_size=512))


def splits(data: bytes) -> Any:
    return st.lists(st.integers(0, len(data)), max_size=8).map(sorted)


def consistent(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> bool:
    """One event list is a prefix of the other (a last ``body``/``data`` event may be cut).

    After an error, each parser drops the events it completed earlier in the same
    ``feed()`` call (body bytes are flushed once per feed, multipart and WebSocket events
    are returned, not raised), so reads split differently may show more or fewer events
    before the same error: never different ones.
    """
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    for i, event in enumerate(short):
        other = long[i]
        if event == other:
            continue
        if i == len(short) - 1 and event[0] == other[0] and event[0] in ("body", "data"):
            x, y = sorted((event[1], other[1]), key=len)
            return bool(y.startswith(x))
        return False
    return True


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


# --------------------------------------------------------------------------- HTTP/1.1


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def on_request_head(self, head: RequestHead) -> None:
        assert not (head.chunked and head.content_length is not None)
        self.events.append(
            (
                "head",
                head.method,
                head.target,
                head.path,
                tuple(head.version),
                tuple(head.raw_headers),
                head.keep_alive,
                head.upgrade,
                head.chunked,
                head.content_length,
            )
        )

    def on_request_body(self, data: bytes) -> None:
        assert self.events and self.events[-1][0] in ("head", "body")
        if self.events[-1][0] == "body":
            self.events[-1] = ("body", self.events[-1][1] + data)
        else:
            self.events.append(("body", bytes(data)))

    def on_request_end(self, head: RequestHead) -> None:
        self.events.append(("end",))


#: The reason of the parser's early refusal of a request line without a version.
EARLY_VERSION_REFUSAL = "Bad HTTP version"


def parse_h1(
    pieces: list[bytes], reasons: list[str] | None = None
) -> tuple[list[tuple[Any, ...]], tuple[Any, ...]]:
    sink = Recorder()
    parser = RequestParser(sink, max_line_size=8190, max_field_size=8190, max_headers=128)
    for i, piece in enumerate(pieces):
        try:
            tail = parser.feed(piece)
        except ProtocolError as exc:
            assert exc.status in (400, 408, 413, 414, 431, 501, 505), exc
            if reasons is not None:
                reasons.append(exc.reason)
            return sink.events, ("error", exc.status)
        if tail is not None:
            return sink.events, ("upgrade", tail + b"".join(pieces[i + 1 :]))
    return sink.events, ("ok",)


def check_h1(data: bytes, cuts: list[int]) -> None:
    whole_events, whole = parse_h1([data])
    reasons: list[str] = []
    events, outcome = parse_h1(chunks(data, cuts), reasons)
    if outcome != whole and reasons == [EARLY_VERSION_REFUSAL] and whole[0] in ("ok", "error"):
        # The one allowed difference: a read that ends right after a request line without
        # a version (HTTP/0.9) is refused at once; when more bytes came in the same read,
        # the parser is still in that head (or refuses it later, for what follows).
        assert consistent(events, whole_events), (events, whole_events)
        return
    # Reads split anywhere: the same requests, bodies and verdict.
    assert outcome == whole
    if whole[0] == "error":
        assert consistent(events, whole_events), (events, whole_events)
    else:
        assert events == whole_events
    # Framing is consistent: a Content-Length body is exactly that long.
    for i, event in enumerate(events):
        if event[0] == "head" and event[9] is not None and ("end",) in events[i + 1 :]:
            body = events[i + 1] if events[i + 1][0] == "body" else ("body", b"")
            assert len(body[1]) == event[9]


@pytest.mark.parametrize("name", sorted(H1))
def test_h1_corpus_verdicts(name: str) -> None:
    events, outcome = parse_h1([H1[name]])
    if name.startswith("reject_"):
        assert outcome[0] == "error", (name, events)
    else:
        assert outcome[0] != "error", (name, outcome)
        assert events and events[0][0] == "head"
        if name.startswith("incomplete_"):
            heads = sum(e[0] == "head" for e in events)
            assert events.count(("end",)) == heads - 1, (name, events)
    # Byte at a time: the same verdict (fragmented-field limits, GHSA-63hw-fmq6-xxg2).
    data = H1[name]
    bytewise, bytewise_outcome = parse_h1([data[i : i + 1] for i in range(len(data))])
    assert bytewise_outcome == outcome
    assert consistent(bytewise, events) if outcome[0] == "error" else bytewise == events


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_h1_fuzz_short(data: Any) -> None:
    raw = data.draw(inputs(H1))
    check_h1(raw, data.draw(splits(raw)))


@pytest.mark.slow
@settings(max_examples=LONG, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_h1_fuzz_long(data: Any) -> None:
    raw = data.draw(inputs(H1))
    check_h1(raw, data.draw(splits(raw)))


# --------------------------------------------------------------------------- multipart


def parse_multipart(pieces: list[bytes]) -> tuple[list[tuple[Any, ...]], tuple[Any, ...]]:
    parser = MultipartParser(b"BOUNDARY", max_header_size=1024, max_headers=16, max_parts=8)
    out: list[tuple[Any, ...]] = []

    def take(events: list[Any]) -> None:
        for ev in events:
            if isinstance(ev, PartData):
                assert out and out[-1][0] in ("start", "data")
                if out[-1][0] == "data":
                    out[-1] = ("data", out[-1][1] + ev.data)
                else:
                    out.append(("data", bytes(ev.data)))
            elif isinstance(ev, PartStart):
                assert sum(len(k) + len(v) for k, v in ev.headers) <= 1024
                assert len(ev.headers) <= 16
                out.append(("start", tuple(ev.headers)))
            elif isinstance(ev, PartEnd):
                out.append(("end",))
            else:
                out.append(("body_end",))

    try:
        for piece in pieces:
            take(parser.feed(piece))
        take(parser.feed_eof())
    except MultipartParseError as exc:
        assert exc.status == 400
        return out, ("error",)
    assert parser.parts <= 8
    return out, ("ok",)


def check_multipart(data: bytes, cuts: list[int]) -> None:
    whole = parse_multipart([data])
    split_events, split_outcome = parse_multipart(chunks(data, cuts))
    events, outcome = whole
    assert split_outcome == outcome
    if outcome == ("error",):
        assert consistent(split_events, events), (split_events, events)
    else:
        assert split_events == events
    if outcome == ("ok",):
        assert events[-1] == ("body_end",)
        assert sum(e[0] == "start" for e in events) == sum(e[0] == "end" for e in events)


@pytest.mark.parametrize("name", sorted(MULTIPART))
def test_multipart_corpus_verdicts(name: str) -> None:
    events, outcome = parse_multipart([MULTIPART[name]])
    assert outcome == (("error",) if name.startswith("reject_") else ("ok",)), (name, events)
    data = MULTIPART[name]
    bytewise, bytewise_outcome = parse_multipart([data[i : i + 1] for i in range(len(data))])
    assert bytewise_outcome == outcome
    assert consistent(bytewise, events)


@pytest.mark.parametrize(
    "boundary",
    [b"", b"a" * 71, b"bad\r\nboundary", b"trailing-space ", b"nul\x00", b"semi;colon", b'q"'],
)
def test_bad_boundaries_refused(boundary: bytes) -> None:
    with pytest.raises(ProtocolError):
        validate_boundary(boundary)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_multipart_fuzz_short(data: Any) -> None:
    raw = data.draw(inputs(MULTIPART))
    check_multipart(raw, data.draw(splits(raw)))


@pytest.mark.slow
@settings(max_examples=LONG, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_multipart_fuzz_long(data: Any) -> None:
    raw = data.draw(inputs(MULTIPART))
    check_multipart(raw, data.draw(splits(raw)))


# --------------------------------------------------------------------------- WebSocket


def parse_ws(pieces: list[bytes], compress: bool) -> tuple[list[tuple[Any, ...]], tuple[Any, ...]]:
    decoder = MessageDecoder(is_server=True, max_msg_size=1024, compress=compress)
    out: list[tuple[Any, ...]] = []
    for piece in pieces:
        for msg in decoder.feed(piece):
            if isinstance(msg.data, (bytes, str)):
                assert len(msg.data) <= 1024
            out.append((int(msg.type), msg.data, msg.extra))
        if decoder.error is not None:
            assert 1000 <= decoder.error.code < 5000
            return out, ("error", decoder.error.code)
    return out, ("ok",)


def check_ws(data: bytes, cuts: list[int], compress: bool) -> None:
    whole_msgs, whole = parse_ws([data], compress)
    msgs, outcome = parse_ws(chunks(data, cuts), compress)
    # However the reads split: the same messages (those before a violation included),
    # then the same verdict and close code (the first violation in the stream).
    assert outcome == whole
    assert msgs == whole_msgs


@pytest.mark.parametrize("name", sorted(WS))
def test_ws_corpus_verdicts(name: str) -> None:
    msgs, outcome = parse_ws([WS[name]], compress=False)
    assert outcome[0] == ("error" if name.startswith("reject_") else "ok"), (name, msgs)
    data = WS[name]
    bytewise, bytewise_outcome = parse_ws([data[i : i + 1] for i in range(len(data))], False)
    assert bytewise_outcome[0] == outcome[0]
    assert consistent(bytewise, msgs)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.booleans())
def test_ws_fuzz_short(data: Any, compress: bool) -> None:
    raw = data.draw(inputs(WS))
    check_ws(raw, data.draw(splits(raw)), compress)


@pytest.mark.slow
@settings(max_examples=LONG, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data(), st.booleans())
def test_ws_fuzz_long(data: Any, compress: bool) -> None:
    raw = data.draw(inputs(WS))
    check_ws(raw, data.draw(splits(raw)), compress)


# --------------------------------------------------------------------------- content codings

CODING = _load("coding")
#: A read asks for at most this much.  brotli treats the limit as a hint: its pieces
#: have been seen up to 3.3 times as large (still bounded; the bomb test in
#: tests/bodies/test_decoding.py holds a 20 MB bomb to 2 pieces' worth).
STEP = 4096
SLACK = {"br": 8}


def decode(coding: str, pieces: list[bytes]) -> tuple[bytes, tuple[Any, ...]]:
    decoder = make_content_decoder(coding)
    assert decoder is not None
    out = b""
    try:
        for piece in [*pieces, b""]:
            if piece:
                decoder.feed(piece)
            else:
                decoder.finish()
            while chunk := decoder.read(STEP):
                assert len(chunk) <= SLACK.get(coding, 2) * STEP
                out += chunk
                assert len(out) <= 1 << 22, "a bounded corpus never inflates this far"
    except ContentDecodingError:
        return out, ("error",)
    return out, ("ok",)


def check_coding(coding: str, data: bytes, cuts: list[int]) -> None:
    whole_out, whole = decode(coding, [data])
    out, outcome = decode(coding, chunks(data, cuts))
    # Only ContentDecodingError escapes, and the verdict does not depend on the reads.
    assert outcome == whole
    shorter, longer = sorted((out, whole_out), key=len)
    assert longer.startswith(shorter)
    if outcome == ("ok",):
        assert out == whole_out


def _coding_of(name: str) -> str:
    return name.partition("_")[0].replace("xgzip", "x-gzip")


@pytest.mark.parametrize("name", sorted(CODING))
def test_coding_corpus_verdicts(name: str) -> None:
    coding = _coding_of(name)
    if coding not in CONTENT_CODINGS:
        pytest.skip(f"{coding} is not available here")
    _, outcome = decode(coding, [CODING[name]])
    assert outcome == (("error",) if "_corrupt" in name else ("ok",)), name


@st.composite
def coded(draw: Any) -> tuple[str, bytes]:
    names = [n for n in sorted(CODING) if _coding_of(n) in CONTENT_CODINGS]
    name = draw(st.sampled_from(names))
    return _coding_of(name), draw(mutated([CODING[name]]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_coding_fuzz_short(data: Any) -> None:
    coding, raw = data.draw(coded())
    check_coding(coding, raw, data.draw(splits(raw)))


@pytest.mark.slow
@settings(max_examples=LONG, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_coding_fuzz_long(data: Any) -> None:
    coding, raw = data.draw(coded())
    check_coding(coding, raw, data.draw(splits(raw)))
