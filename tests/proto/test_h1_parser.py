"""The sans-IO request parser: bytes in, events out."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heron._proto.errors import ProtocolError
from heron._proto.h1 import RequestHead, RequestParser


class Recorder:
    """A RequestSink that records what it is told, as plain tuples."""

    def __init__(self) -> None:
        self.events: list[tuple[object, ...]] = []

    def on_request_head(self, head: RequestHead) -> None:
        self.events.append(
            (
                "head",
                head.method,
                head.target,
                head.path,
                tuple(head.version),
                tuple(head.raw_headers),
                head.keep_alive,
                head.chunked,
                head.content_length,
            )
        )

    def on_request_body(self, data: bytes) -> None:
        # Body events may be split differently; merge adjacent ones.
        if self.events and self.events[-1][0] == "body":
            self.events[-1] = ("body", self.events[-1][1] + data)  # type: ignore[operator]
        else:
            self.events.append(("body", data))

    def on_request_end(self, head: RequestHead) -> None:
        self.events.append(("end", tuple(head.trailers)))


def parse(data: bytes, **limits: int) -> list[tuple[object, ...]]:
    rec = Recorder()
    RequestParser(rec, **limits).feed(data)
    return rec.events


def error_of(data: bytes, **limits: int) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        parse(data, **limits)
    return info.value


def test_simple_get() -> None:
    events = parse(b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert events == [
        ("head", "GET", "/a?b=1", "/a?b=1", (1, 1), ((b"Host", b"x"),), True, False, None),
        ("end", ()),
    ]


def test_keep_alive_rules() -> None:
    assert parse(b"GET / HTTP/1.0\r\n\r\n")[0][6] is False
    assert parse(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")[0][6] is True
    assert parse(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[0][6] is False


def test_content_length_body() -> None:
    events = parse(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
    assert events[1] == ("body", b"hello")
    assert events[2] == ("end", ())


def test_chunked_body_with_trailers() -> None:
    data = (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n"
    )
    events = parse(data)
    assert events[0][7] is True
    assert events[1] == ("body", b"hello world")
    assert events[2] == ("end", ((b"X-Sum", b"1"),))


def test_pipelined_requests_in_order() -> None:
    data = b"".join(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(5))
    heads = [e[2] for e in parse(data) if e[0] == "head"]
    assert heads == [f"/{i}" for i in range(5)]


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        # RFC 9112 §6.1 / smuggling: CL together with TE.
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
            400,
        ),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", 400),  # bare LF
        (b"GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", 400),  # bare CR
        (b"GET / HTTP/1.1\nHost: x\n\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n", 400),  # control character
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", 400),  # NUL
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400),  # obs-fold
        (b"GET / HTTP/1.1\r\nHost: x\r\nX : y\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked123\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \uff13\r\n\r\nabc".encode(), 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 without Host
        # RFC 9112 §3.2: a Host that is not uri-host [":" port] gets a 400.
        (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: user@x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x:8o\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x:65536\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x:000080\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x/y\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: b\u00fccher.de\r\n\r\n".encode(), 400),
        (b"GET / HTTP/1.0\r\nHost: x%zz\r\n\r\n", 400),
        # RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing.
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        (b"GET /\r\n\r\n", 400),  # HTTP/0.9
        (b"get / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET http://evil/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),  # authority != Host
        (b"GET ftp://x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3;a=b\nabc\r\n0\r\n\r\n",
            400,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            b"Content-Length: 3\r\n\r\nabc",
            400,
        ),
    ],
)
def test_malformed_requests(raw: bytes, status: int) -> None:
    assert error_of(raw).status == status


@pytest.mark.parametrize(
    "host",
    [
        b"",
        b"x",
        b"example.com:8080",
        b"127.0.0.1:80",
        b"x:65535",
        b"[::1]:8080",
        b"[v1.fe]",
        b"my_svc:",
        b"xn--bcher-kva.de",
        b"a%41b",
        b"a-b.c~d!$&'()*+,;=",
    ],
)
def test_valid_hosts_are_accepted(host: bytes) -> None:
    events = parse(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    assert events[0][5] == ((b"Host", host),)


def test_host_is_checked_on_every_request_of_a_connection() -> None:
    rec = Recorder()
    parser = RequestParser(rec)
    parser.feed(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
    with pytest.raises(ProtocolError) as info:
        parser.feed(b"GET /3 HTTP/1.1\r\nHost: x y\r\n\r\n")
    assert info.value.status == 400
    assert [e[2] for e in rec.events if e[0] == "head"] == ["/1", "/2"]


def test_absolute_form_routes_on_path_only() -> None:
    events = parse(b"GET http://x/a/b?q=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert events[0][2:4] == ("http://x/a/b?q=1", "/a/b?q=1")


def test_request_line_limit_414() -> None:
    assert error_of(b"GET /" + b"a" * 100 + b" HTTP/1.1\r\n", max_line_size=50).status == 414


def test_request_line_limit_across_fragments() -> None:
    rec = Recorder()
    parser = RequestParser(rec, max_line_size=50)
    parser.feed(b"GET /")
    with pytest.raises(ProtocolError) as info:
        for _ in range(60):
            parser.feed(b"a")
    assert info.value.status == 414


def test_field_size_limit_431() -> None:
    raw = b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"v" * 100 + b"\r\n\r\n"
    assert error_of(raw, max_field_size=50).status == 431


def test_header_count_limit_431() -> None:
    raw = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X%d: v\r\n" % i for i in range(10))
    assert error_of(raw + b"\r\n", max_headers=5).status == 431


def test_trailer_count_limit_431() -> None:
    raw = (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
        + b"".join(b"T%d: v\r\n" % i for i in range(10))
        + b"\r\n"
    )
    assert error_of(raw, max_headers=5).status == 431


def test_dribbled_field_is_bounded() -> None:
    """A field that never ends is refused once it passes the bound, however it is split."""
    rec = Recorder()
    parser = RequestParser(rec, max_line_size=100, max_field_size=100)
    parser.feed(b"GET / HTTP/1.1\r\nHost: x\r\nX: ")
    with pytest.raises(ProtocolError) as info:
        for _ in range(10_000):
            parser.feed(b"v" * 10)
    assert info.value.status == 431


def test_upgrade_returns_following_bytes() -> None:
    rec = Recorder()
    parser = RequestParser(rec)
    tail = parser.feed(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nFRAME"
    )
    assert tail == b"FRAME"
    assert rec.events[0][1] == "GET"


H2C = b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQ\r\n"


def test_unswitched_upgrade_is_plain_http() -> None:
    """An Upgrade heron never switches to (curl's h2c): the body is read, parsing goes on."""
    rec = Recorder()
    parser = RequestParser(rec)
    tail = parser.feed(
        b"POST /a HTTP/1.1\r\nHost: x\r\n" + H2C + b"Content-Length: 4\r\n\r\nTest"
        b"GET /b HTTP/1.1\r\nHost: x\r\n" + H2C + b"\r\n"
        b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    assert tail is None
    assert [e[0] for e in rec.events] == ["head", "body", "end", "head", "end", "head", "end"]
    assert rec.events[1] == ("body", b"Test")
    assert [e[2] for e in rec.events if e[0] == "head"] == ["/a", "/b", "/c"]


def test_unswitched_upgrade_chunked_body_split_anywhere() -> None:
    data = (
        b"PUT /a HTTP/1.1\r\nHost: x\r\n" + H2C + b"Transfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n"
        b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    whole = parse(data)
    assert whole[1:3] == [("body", b"abcde"), ("end", ((b"X-T", b"1"),))]
    assert whole[3][2] == "/b"
    for cut in range(1, len(data)):
        rec = Recorder()
        parser = RequestParser(rec)
        assert parser.feed(data[:cut]) is None
        assert parser.feed(data[cut:]) is None
        assert rec.events == whole, cut


def test_unswitched_upgrade_with_connection_close_takes_nothing_after() -> None:
    rec = Recorder()
    parser = RequestParser(rec)
    parser.feed(
        b"POST /a HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, close\r\nUpgrade: h2c\r\n"
        b"Content-Length: 2\r\n\r\nab"
    )
    assert rec.events[0][6] is False  # keep_alive
    assert rec.events[1:] == [("body", b"ab"), ("end", ())]
    with pytest.raises(ProtocolError):
        parser.feed(b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n")


def test_unswitched_upgrades_pipelined_in_one_read() -> None:
    # One read holding thousands of them: a loop, not a recursion per request.
    one = b"POST / HTTP/1.1\r\nHost: x\r\n" + H2C + b"Content-Length: 1\r\n\r\nx"
    events = parse(one * 3000)
    assert len(events) == 9000


@pytest.mark.parametrize("upgrade", [b"websocket", b"WebSocket", b"h2c, websocket"])
def test_websocket_upgrade_with_body_refused(upgrade: bytes) -> None:
    raw = (
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: " + upgrade + b"\r\n"
        b"Content-Length: 3\r\n\r\nabc"
    )
    assert error_of(raw).status == 400


# --------------------------------------------------------------------------- properties

VALID_STREAM = (
    b"GET /a HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"
    b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"
    b"PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabc\r\n4\r\ndefg\r\n0\r\nX-T: 1\r\n\r\n"
    b"GET /d?x=%20 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(VALID_STREAM)), max_size=20))
def test_any_split_gives_the_same_events(cuts: list[int]) -> None:
    expected = parse(VALID_STREAM)
    points = sorted(set(cuts))
    rec = Recorder()
    parser = RequestParser(rec)
    start = 0
    for point in [*points, len(VALID_STREAM)]:
        parser.feed(VALID_STREAM[start:point])
        start = point
    assert rec.events == expected


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_gives_only_protocol_errors(data: bytes) -> None:
    rec = Recorder()
    try:
        RequestParser(rec, max_line_size=64, max_field_size=64, max_headers=4).feed(data)
    except ProtocolError as exc:
        assert 400 <= exc.status < 600


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(min_value=1, max_value=7))
def test_garbage_after_valid_prefix(data: bytes, step: int) -> None:
    rec = Recorder()
    parser = RequestParser(rec)
    stream = b"GET / HTTP/1.1\r\nHost: x\r\n" + data
    try:
        for i in range(0, len(stream), step):
            parser.feed(stream[i : i + step])
    except ProtocolError as exc:
        assert 400 <= exc.status < 600


def test_valid_request_line_split_anywhere_still_parsed() -> None:
    """The early check of a request line (no version yet is not HTTP/0.9) waits for a
    line still arriving: see tests/engine/test_request_lines.py for the refused ones."""
    request = b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n"
    for cut in range(1, len(request)):
        for cut2 in range(cut, len(request)):
            rec = Recorder()
            parser = RequestParser(rec)
            for piece in (request[:cut], request[cut:cut2], request[cut2:]):
                parser.feed(piece)
            targets = [event[2] for event in rec.events if event[0] == "head"]
            assert targets == ["/x"], (cut, cut2)
