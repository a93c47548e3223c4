"""Differential test of heron's request parser against aiohttp's pure-Python parser and h11.

Hypothesis builds request streams from parts (request line, fields, framing, body,
pipelining), valid and invalid, each invalid choice named.  The same bytes go to
heron's ``RequestParser``, to aiohttp's ``HttpRequestParserPy`` and to h11.  Each parser
accepts the stream (no error while feeding it) or rejects it; when all three accept,
the requests they completed must be the same (method, target, version, fields, body).

A disagreement must be one of the explicit allowances below, each naming why:

* ``HERON_STRICTER``: heron refuses what another parser takes; every entry is a line of
  docs/design.md's "Stricter than aiohttp" section;
* ``OTHERS_STRICTER``: h11 or aiohttp refuses what heron (and RFC 9112) takes.

Anything else fails the test with the stream that shows it: a bug to fix, or a
strictness to document first.  The default run is short; ``make fuzz`` runs the
``slow`` variant with ``HERON_FUZZ_EXAMPLES`` examples.
"""

from __future__ import annotations

import asyncio
import collections
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import h11
import pytest
from aiohttp.base_protocol import BaseProtocol
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.http_parser import HttpRequestParserPy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heron._proto.errors import ProtocolError
from heron._proto.h1 import RequestHead, RequestParser

LONG = int(os.environ.get("HERON_FUZZ_EXAMPLES", "20000"))

# One request: (method, target, version, fields, body), all as bytes/str tuples.
Parsed = tuple[str, str, str, tuple[tuple[str, str], ...], bytes]


@dataclass
class Verdict:
    """What one parser made of a stream: the requests it completed, and whether it failed."""

    requests: list[Parsed] = field(default_factory=list)
    error: str | None = None

    @property
    def accepted(self) -> bool:
        return self.error is None


# --------------------------------------------------------------------------- parsers


class _HeronSink:
    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        self.body = b""

    def on_request_head(self, head: RequestHead) -> None:
        self.body = b""

    def on_request_body(self, data: bytes) -> None:
        self.body += data

    def on_request_end(self, head: RequestHead) -> None:
        fields = tuple(
            (n.decode("latin-1").lower(), v.decode("latin-1")) for n, v in head.raw_headers
        )
        version = f"{head.version[0]}.{head.version[1]}"
        self.verdict.requests.append((head.method, head.target, version, fields, self.body))


def parse_heron(data: bytes) -> Verdict:
    verdict = Verdict()
    parser = RequestParser(_HeronSink(verdict))
    try:
        tail = parser.feed(data)
    except ProtocolError as exc:
        verdict.error = f"{exc.status} {exc.reason}"
        return verdict
    if tail is not None:
        verdict.error = "upgrade"  # never generated: the streams offer no upgrade
    return verdict


_LOOP = asyncio.new_event_loop()


def parse_aiohttp(data: bytes) -> Verdict:
    verdict = Verdict()
    parser = HttpRequestParserPy(
        BaseProtocol(_LOOP), _LOOP, 2**16, max_line_size=8190, max_headers=128, max_field_size=8190
    )
    try:
        messages, _, _ = parser.feed_data(data)
    except HttpProcessingError as exc:
        verdict.error = f"{exc.code} {type(exc).__name__}"
        return verdict
    for message, payload in messages:
        failure = payload.exception()
        if failure is not None:
            verdict.error = f"payload {type(failure).__name__}"
            return verdict
        if not payload.is_eof():
            break  # its body is still arriving
        fields = tuple(
            (n.decode("latin-1").lower(), v.decode("latin-1")) for n, v in message.raw_headers
        )
        body = b"".join(getattr(payload, "_buffer", ()))
        version = f"{message.version[0]}.{message.version[1]}"
        verdict.requests.append((message.method, message.path, version, fields, body))
    return verdict


def parse_h11(data: bytes) -> Verdict:
    verdict = Verdict()
    conn = h11.Connection(h11.SERVER)
    if not data:  # (b"" would tell h11 the peer closed)
        return verdict
    conn.receive_data(data)
    request: h11.Request | None = None
    body = b""
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                closing = event is h11.PAUSED and conn.their_state is h11.MUST_CLOSE
                if closing and conn.trailing_data[0]:
                    # A request said it is the last one: bytes after it are refused.
                    verdict.error = "data after close"
                break
            if isinstance(event, h11.ConnectionClosed):
                break
            if isinstance(event, h11.Request):
                request, body = event, b""
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                assert request is not None
                fields = tuple(
                    (n.decode("latin-1"), v.decode("latin-1"))
                    for n, v in request.headers.raw_items()
                )
                fields = tuple((n.lower(), v) for n, v in fields)
                verdict.requests.append(
                    (
                        request.method.decode(),
                        request.target.decode("latin-1"),
                        request.http_version.decode(),
                        fields,
                        body,
                    )
                )
                conn.send(h11.Response(status_code=200, headers=[("Content-Length", "0")]))
                conn.send(h11.EndOfMessage())
                if conn.our_state is h11.MUST_CLOSE:
                    if conn.trailing_data[0]:
                        verdict.error = "data after close"
                    break
                conn.start_next_cycle()
    except h11.RemoteProtocolError as exc:
        verdict.error = f"{exc.error_status_hint} {exc}"
    return verdict


# --------------------------------------------------------------------------- streams


@dataclass
class Stream:
    """Bytes to parse, and the named invalid (or disputed) choices made building them."""

    data: bytes
    features: set[str]
    #: The stream before it was cut short (``data`` itself when it was not).
    full: bytes = b""


METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]
TARGETS: dict[str, str | None] = {
    "/": None,
    "/a/b?x=1&y=%20z": None,
    "/%7Euser/": None,
    "//double//slash": None,
    "/a;p=1": None,
    "http://x/abs": None,
    "http://other/abs": None,  # (tagged against the Host drawn)
    "*": "asterisk",
    "/a\x7fb": "bad_target",
    "/a b": "bad_target",
}
VERSIONS: dict[str, str | None] = {
    "HTTP/1.1": None,
    "HTTP/1.0": "http10",
    "HTTP/2.0": "version",
    "HTTP/0.9": "version",
    "HTTP/1.x": "bad_version",
    "http/1.1": "bad_version",
    "": "version",
}
HOSTS: dict[str, str | None] = {
    "Host: x": None,
    "": "missing_host",
    "Host: x\r\nHost: x": "duplicate_singleton",
    "Host: a b": "bad_host",
    "Host: x:99999": "bad_host",
    "Host: u@x": "bad_host",
    "Host: [::1]:80": None,
}
FIELDS: dict[str, str | None] = {
    "User-Agent: t/1.0": None,
    "Accept: */*": None,
    "X-Empty:": None,
    "X-Ows:   padded   ": None,
    "X-Tab: a\tb": None,
    "X-Latin: caf\xe9": None,
    "Cookie: a=1; b=2": None,
    "X-Dup: 1\r\nX-Dup: 2": None,
    "Content-Type: a/b\r\nContent-Type: c/d": "duplicate_singleton",
    "X-Bad : v": "bad_field",
    "X-Fold: a\r\n b": "obs_fold",
    "X-Ctl: a\x01b": "bad_field",
    "X-Nul: a\x00b": "bad_field",
    "Bad\x7fName: v": "bad_field",
    ": v": "bad_field",
    "Connection: close": "close",
    "Connection: keep-alive": None,
    "Expect: 100-continue": None,
}
#: Fields a request may carry once (heron's list, which holds aiohttp's).
SINGLETONS = {
    "host", "content-length", "content-type", "content-range", "content-location",
    "transfer-encoding", "authorization", "proxy-authorization", "max-forwards",
    "if-modified-since", "if-unmodified-since", "if-range", "range", "expect",
    "etag", "server", "user-agent",
}  # fmt: skip
CHUNK_CORRUPTIONS: dict[str, bytes] = {
    "size_nonhex": b"zz\r\nabc\r\n",
    "size_empty": b"\r\nabc\r\n",
    "size_overflow": b"1" + b"0" * 16 + b"\r\nabc\r\n",
    "size_bare_lf": b"3\nabc\r\n",
    "data_missing_crlf": b"3\r\nabcX",
    "data_bare_lf": b"3\r\nabc\n",
    "ext_control_char": b"3;\x01\r\nabc\r\n",
    "ext_bare_lf": b"3;a=b\nabc\r\n",
    "trailer_malformed": b"0\r\nbad trailer\r\n\r\n",
}


def _pick(draw: Any, table: dict[str, str | None], features: set[str]) -> str:
    key: str = draw(st.sampled_from(sorted(table)))
    feature = table[key]
    if feature is not None:
        features.add(feature)
    return key


@st.composite
def chunked_body(draw: Any, features: set[str]) -> tuple[bytes, bytes]:
    """(wire bytes, decoded body)."""
    chunks = draw(st.lists(st.binary(min_size=1, max_size=20), max_size=3))
    out = b""
    for chunk in chunks:
        ext = draw(st.sampled_from([b"", b";a=b", b';q="x y"']))
        if ext:
            features.add("chunk_ext")
        out += b"%x%s\r\n%s\r\n" % (len(chunk), ext, chunk)
    corruption = draw(st.sampled_from(["", *sorted(CHUNK_CORRUPTIONS)]))
    if corruption:
        features.add("chunk_" + corruption)
        return out + CHUNK_CORRUPTIONS[corruption], b""
    trailer = draw(st.sampled_from([b"", b"X-T: 1\r\n"]))
    return out + b"0\r\n" + trailer + b"\r\n", b"".join(chunks)


@st.composite
def one_request(draw: Any, features: set[str]) -> bytes:
    method = draw(st.sampled_from(METHODS))
    target = _pick(draw, TARGETS, features)
    version = _pick(draw, VERSIONS, features)
    lines = [f"{method} {target} {version}".rstrip() if version else f"{method} {target}"]
    host = _pick(draw, HOSTS, features)
    if host:
        lines.append(host)
    if target.startswith("http://") and target[7:].partition("/")[0] != host[6:]:
        features.add("absolute_form_mismatch")  # the authority must be the Host
    for _ in range(draw(st.integers(0, 3))):
        lines.append(_pick(draw, FIELDS, features))
    framing = draw(st.sampled_from(["none", "length", "chunked", "both", "length_bad", "te_other"]))
    body = draw(st.binary(max_size=30)) if framing != "none" else b""
    wire = body
    if framing == "length":
        lines.append(f"Content-Length: {len(body)}")
    elif framing == "length_bad":
        features.add("bad_length")
        lines.append(
            draw(
                st.sampled_from(
                    [f"Content-Length: +{len(body)}", "Content-Length: 1, 1", "Content-Length: x"]
                )
            )
        )
    elif framing in ("chunked", "both", "te_other"):
        wire, _ = draw(chunked_body(features))
        if framing == "chunked":
            lines.append("Transfer-Encoding: chunked")
            features.add("chunked")
        elif framing == "both":
            features.add("te_and_length")
            lines.extend(["Transfer-Encoding: chunked", f"Content-Length: {len(wire)}"])
        else:
            features.add("te_other")
            lines.append(
                draw(
                    st.sampled_from(
                        ["Transfer-Encoding: gzip, chunked", "Transfer-Encoding: identity"]
                    )
                )
            )
    names = [line.partition(":")[0].lower() for field in lines[1:] for line in field.split("\r\n")]
    if any(names.count(n) > 1 for n in SINGLETONS):
        features.add("duplicate_singleton")
    eol = "\r\n"
    if draw(st.integers(0, 19)) == 0:
        features.add("bare_lf")
        eol = "\n"
    head = eol.join(lines) + "\r\n\r\n"
    return head.encode("latin-1") + wire


@st.composite
def streams(draw: Any) -> Stream:
    features: set[str] = set()
    count = draw(st.integers(1, 3))
    if count > 1:
        features.add("pipelined")
    data = b"".join(draw(one_request(features)) for _ in range(count))
    full = data
    if draw(st.integers(0, 4)) == 0:
        features.add("cut")
        data = data[: draw(st.integers(0, len(data)))]
    return Stream(data, features, full)


# --------------------------------------------------------------------------- allowances

#: Heron refuses, another parser accepts: each is in docs/design.md, "Stricter than aiohttp".
HERON_STRICTER = {
    "duplicate_singleton": "a repeated singleton field (Host, Content-Type, ...) is a 400",
    "missing_host": "an HTTP/1.1 request without Host is a 400",
    "bad_host": "a Host that is not uri-host [: port] is a 400",
    "absolute_form_mismatch": "an absolute-form target must name the Host",
    "version": "only HTTP/1.0 and HTTP/1.1 (0.9 is a 400, others a 505)",
    "te_other": "a Transfer-Encoding other than exactly chunked is a 501",
    "te_http10": "Transfer-Encoding in an HTTP/1.0 request is a 400",
    "te_and_length": "Content-Length with Transfer-Encoding is a 400, whatever the version",
    "close": "nothing is parsed after a request that closes the connection",
    "bad_field": "control characters and NUL in fields are refused",
    "chunk_ext_bare_lf": "a chunk extension with bare LF is refused",
    "chunk_ext_control_char": "a chunk extension must be RFC 9112 7.1.1 tokens or quoted strings",
    "chunk_size_overflow": "a chunk size of 2**64 or more is refused (llhttp's limit)",
    "bare_lf": "a bare LF line ending is refused (h11 takes it)",
    "obs_fold": "obs-fold is refused (h11 unfolds it)",
    "bad_length": "Content-Length must be one decimal number (h11 takes a list of equal ones)",
    "asterisk": "an asterisk-form target is only for OPTIONS (RFC 9112 3.2.4; h11 takes any)",
}
#: Heron refuses a broken line as soon as the offending byte arrives; another parser
#: waits for the line's end: on the whole stream it refuses too.
EARLY = "heron refuses a bad line before its end"
#: Another parser refuses what heron takes (none found so far).
OTHERS_STRICTER: dict[str, str] = {}


def features_of(stream: Stream) -> set[str]:
    features = set(stream.features)
    if "chunked" in features and "http10" in features:
        features.add("te_http10")
    return features


#: Which allowances explained a disagreement, and how often (reported by the long run).
USED: collections.Counter[str] = collections.Counter()


def disagreement(heron: Verdict, others: dict[str, Verdict], stream: Stream) -> Iterator[str]:
    """Why the parsers disagree, if they do and no allowance covers it."""
    features = features_of(stream)
    for name, other in others.items():
        if heron.accepted == other.accepted:
            continue
        if not heron.accepted:
            allowed = sorted(features & HERON_STRICTER.keys())
            if allowed:
                USED.update(f"heron stricter than {name}: {a}" for a in allowed)
                continue
            if "cut" in features and not PARSERS[name](stream.full).accepted:
                USED[f"{name}: {EARLY}"] += 1
                continue
            yield f"heron refused ({heron.error}) what {name} accepted"
        else:
            allowed = sorted(features & OTHERS_STRICTER.keys())
            if allowed:
                USED.update(f"{name} stricter than heron: {a}" for a in allowed)
                continue
            yield f"{name} refused ({other.error}) what heron accepted"
    if heron.accepted and all(o.accepted for o in others.values()):
        for name, other in others.items():
            if other.requests != heron.requests:
                yield f"{name} parsed {other.requests!r}, heron {heron.requests!r}"


PARSERS = {"aiohttp": parse_aiohttp, "h11": parse_h11}


def check(stream: Stream) -> None:
    heron = parse_heron(stream.data)
    others = {name: parse(stream.data) for name, parse in PARSERS.items()}
    problems = list(disagreement(heron, others, stream))
    assert not problems, (stream.data, sorted(stream.features), problems)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_parsers_agree_short(stream: Stream) -> None:
    check(stream)


@pytest.mark.slow
@settings(max_examples=LONG, deadline=None, suppress_health_check=list(HealthCheck))
@given(streams())
def test_parsers_agree_long(stream: Stream) -> None:
    check(stream)
