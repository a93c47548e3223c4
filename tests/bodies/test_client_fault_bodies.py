"""A body the client framed or encoded badly is the client's fault, wherever it is noticed.

Real sockets, raw bytes.  Each malformed body (chunked framing broken in every way
llhttp knows, a body cut short by the peer's EOF, a body past ``client_max_size``,
undecodable ``Content-Encoding`` data) is read by a handler in each way aiohttp offers.
Every time:

* the answer is a 4xx with a short reason and ``Connection: close``, and the connection
  closes after it;
* a marker request pipelined after the bad body is never answered;
* the handler's read raised ``web.RequestPayloadError`` (what aiohttp raises there), or the
  413 for a body past the limit;
* nothing is logged at ERROR level (no "Error handling request", no traceback).

The bad bytes are sent once the handler is reading (the error reaches a waiting read)
or with the head (the parser finds it before the handler runs).
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import socket
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from heron import web
from heron._proto.decoding import CONTENT_CODINGS

from ..engine.conftest import Started, started

__all__ = ("started",)

MARKER = b"GET /marker HTTP/1.1\r\nHost: x\r\n\r\n"
B = "b0undary"
CONTENT_TYPES = {
    "post": "application/x-www-form-urlencoded",
    "multipart": f"multipart/form-data; boundary={B}",
}
GOOD_START = {
    # The first, well-formed piece of each body (a chunk of it, when chunked).
    "post": b"a=1&b=",
    "multipart": f'--{B}\r\nContent-Disposition: form-data; name="f"\r\n\r\nxyz'.encode(),
}
LIMIT = 1024

# Broken chunked framing: what follows a first good chunk.
CHUNKED: dict[str, bytes] = {
    "size_nonhex": b"zz\r\nabc\r\n0\r\n\r\n",
    "size_empty": b"\r\nabc\r\n0\r\n\r\n",
    "size_negative": b"-3\r\nabc\r\n0\r\n\r\n",
    "size_overflow": b"1" + b"0" * 16 + b"\r\nabc\r\n0\r\n\r\n",
    "size_bare_lf": b"3\nabc\r\n0\r\n\r\n",
    "size_bare_cr": b"3\rabc\r\n0\r\n\r\n",
    "data_bare_lf": b"3\r\nabc\n0\r\n\r\n",
    "data_bare_cr": b"3\r\nabc\r0\r\n\r\n",
    "data_missing_crlf": b"3\r\nabcX0\r\n\r\n",
    "ext_control_char": b"3;\x01\r\nabc\r\n0\r\n\r\n",
    "ext_empty_name": b"3;\r\nabc\r\n0\r\n\r\n",
    "ext_bare_lf": b"3;a=b\nabc\r\n0\r\n\r\n",
    "ext_unterminated_quote": b'3;a="x\r\nabc\r\n0\r\n\r\n',
    "trailer_malformed": b"0\r\nbad trailer\r\n\r\n",
    "trailer_bare_lf": b"0\r\nX: y\n\r\n",
    "trailer_obs_fold": b"0\r\nX: y\r\n z\r\n\r\n",
    "trailers_too_many": b"0\r\n" + b"".join(b"X%d: y\r\n" % i for i in range(200)) + b"\r\n",
    "trailer_too_large": b"0\r\nX: " + b"a" * 9000 + b"\r\n\r\n",
}
# What the answer's status is when it is not 400.
STATUS = {"trailers_too_many": 431, "trailer_too_large": 431}


async def _drain(reader: Any) -> None:
    while await reader.readany():
        pass


async def _read(request: web.Request, how: str) -> None:
    """Read the whole body the way ``how`` names."""
    content = request.content
    if how == "read":
        await request.read()
    elif how == "text":
        await request.text()
    elif how == "json":
        await request.json()
    elif how == "post":
        await request.post()
    elif how == "multipart":
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            await part.read()  # type: ignore[union-attr]
    elif how == "content.read":
        await content.read()
    elif how == "content.readany":
        await _drain(content)
    elif how == "content.iter_chunked":
        async for _ in content.iter_chunked(2):
            pass
    elif how == "content.iter_any":
        async for _ in content.iter_any():
            pass
    elif how == "content.readline":
        while await content.readline():
            pass
    else:  # pragma: no cover - a typo in a parameter
        raise AssertionError(how)


READS = [
    "read",
    "text",
    "json",
    "post",
    "multipart",
    "content.read",
    "content.readany",
    "content.iter_chunked",
    "content.iter_any",
    "content.readline",
]
#: The reads that stop at client_max_size (the others stream without a bound).
BOUNDED = ["read", "text", "json", "post", "multipart"]


class App:
    """A server whose handler reads the body as told and records what it saw."""

    def __init__(self) -> None:
        self.reading = asyncio.Event()
        self.raised: list[BaseException] = []
        self.catch = False

    def reset(self) -> None:
        """Ready for the next exchange (one server serves many, one at a time)."""
        self.reading = asyncio.Event()
        self.raised = []

    async def handler(self, request: web.Request) -> web.StreamResponse:
        self.reading.set()
        try:
            await _read(request, request.match_info["how"])
        except Exception as exc:
            self.raised.append(exc)
            if self.catch and isinstance(exc, web.RequestPayloadError):
                return web.Response(text="caught it")
            raise
        return web.Response(text="read it all")

    async def marker(self, request: web.Request) -> web.Response:
        return web.Response(text="MARKER")

    def app(self) -> web.Application:
        app = web.Application(client_max_size=LIMIT)
        app.router.add_post("/r/{how}", self.handler)
        app.router.add_get("/marker", self.marker)
        return app


@pytest.fixture
async def server(started: Started) -> AsyncIterator[tuple[App, int]]:
    app = App()
    port, _ = await started(app.app())
    yield app, port


def _head(how: str, extra: str = "", framing: str = "Transfer-Encoding: chunked") -> bytes:
    ctype = CONTENT_TYPES.get(how, "application/json")
    head = f"POST /r/{how} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n{extra}{framing}"
    return head.encode() + b"\r\n\r\n"


def _body_start(how: str, framing: str, more: int) -> bytes:
    """A head and the first piece of its body; ``more`` bytes of it are still to come."""
    start = GOOD_START.get(how, b'{"a": ')
    if framing == "chunked":
        return _head(how) + _chunk(start)
    return _head(how, framing=f"Content-Length: {len(start) + more}") + start


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def _exchange(
    port: int, app: App, first: bytes, rest: bytes, *, wait_reading: bool, half_close: bool = False
) -> bytes:
    """Send ``first``, then (once the handler reads, if asked) ``rest``; all bytes to EOF."""
    app.reset()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(first)
        if wait_reading:
            await asyncio.wait_for(app.reading.wait(), 10)
        writer.write(rest)
        if half_close:
            writer.write_eof()
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


def _check_answer(data: bytes, status: int, what: object = None) -> bytes:
    """One response with ``status`` and ``Connection: close``, nothing after it."""
    assert data.startswith(b"HTTP/1.1 %d " % status), (what, data[:200])
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"\r\nConnection: close" in head, (what, head)
    assert b"MARKER" not in data and data.count(b"HTTP/1.1 ") == 1, (what, data)
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    assert len(body) == length, (what, data)
    assert b"Traceback" not in body, what
    return body


def _no_error_logged(caplog: pytest.LogCaptureFixture) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


def _seen_payload_error(app: App, what: object) -> None:
    assert len(app.raised) == 1, (what, app.raised)
    assert isinstance(app.raised[0], web.RequestPayloadError), (what, app.raised)


# One server per test, many exchanges on it (a server per exchange would cost ~0.3 s
# of teardown each): the case and read method are in every assertion's message.


@pytest.mark.parametrize("how", READS)
@pytest.mark.parametrize("timing", ["while_reading", "with_the_head"])
async def test_broken_chunked_body_is_a_4xx(
    server: tuple[App, int], caplog: pytest.LogCaptureFixture, timing: str, how: str
) -> None:
    """Each kind of broken chunked framing, sent once the handler reads (its waiting read
    fails) or with the head (the parser finds it first: the handler's first read fails)."""
    app, port = server
    reading = timing == "while_reading"
    for case, bad in CHUNKED.items():
        first = _head(how) + _chunk(GOOD_START.get(how, b'{"a": '))
        first, rest = (first, bad + MARKER) if reading else (first + bad + MARKER, b"")
        data = await _exchange(port, app, first, rest, wait_reading=reading)
        body = _check_answer(data, STATUS.get(case, 400), (case, how))
        assert body and len(body) < 200, (case, how, body)
        _seen_payload_error(app, (case, how))
    _no_error_logged(caplog)


async def test_body_cut_short_by_eof_is_a_400(
    server: tuple[App, int], caplog: pytest.LogCaptureFixture
) -> None:
    """The peer shuts down its side mid-body: the read fails, the client still hears 400."""
    app, port = server
    for framing in ("chunked", "length"):
        for how in READS:
            first = _body_start(how, framing, more=100)
            data = await _exchange(port, app, first, b"", wait_reading=True, half_close=True)
            _check_answer(data, 400, (framing, how))
            _seen_payload_error(app, (framing, how))
    _no_error_logged(caplog)


async def test_body_past_client_max_size_is_a_413(
    server: tuple[App, int], caplog: pytest.LogCaptureFixture
) -> None:
    app, port = server
    filler = b"x" * (2 * LIMIT)
    for framing in ("chunked", "length"):
        rest = _chunk(filler) + b"0\r\n\r\n" if framing == "chunked" else filler
        for how in BOUNDED:
            first = _body_start(how, framing, more=len(filler))
            data = await _exchange(port, app, first, rest + MARKER, wait_reading=True)
            _check_answer(data, 413, (framing, how))
            assert isinstance(app.raised[0], web.HTTPRequestEntityTooLarge), (framing, how)
    _no_error_logged(caplog)


def _bad_coded(coding: str) -> bytes:
    """Data that starts as valid ``coding`` and turns corrupt."""
    good = {
        "gzip": gzip.compress(b"a" * 100),
        "x-gzip": gzip.compress(b"a" * 100),
        "deflate": zlib.compress(b"a" * 100),
    }.get(coding, b"")
    return good[:12] + b"\xff" * 40 if good else b"\xff\xfe garbage, not " + coding.encode()


@pytest.mark.parametrize("coding", sorted(CONTENT_CODINGS))
async def test_undecodable_content_coding_is_a_400(
    server: tuple[App, int], caplog: pytest.LogCaptureFixture, coding: str
) -> None:
    app, port = server
    body = _bad_coded(coding)
    for how in READS:
        head = _head(how, f"Content-Encoding: {coding}\r\n", f"Content-Length: {len(body)}")
        data = await _exchange(port, app, head, body + MARKER, wait_reading=True)
        _check_answer(data, 400, (coding, how))
        _seen_payload_error(app, (coding, how))
    _no_error_logged(caplog)


async def test_handler_that_catches_answers_and_the_connection_closes(
    server: tuple[App, int], caplog: pytest.LogCaptureFixture
) -> None:
    app, port = server
    app.catch = True
    for case in ("size_nonhex", "trailer_malformed", "gzip", "eof"):
        if case == "gzip":
            body = _bad_coded("gzip")
            first = _head("read", "Content-Encoding: gzip\r\n", f"Content-Length: {len(body)}")
            rest = body + MARKER
        elif case == "eof":
            first, rest = _head("read") + _chunk(b"ab"), b""
        else:
            first, rest = _head("read") + _chunk(b"ab"), CHUNKED[case] + MARKER
        eof = case == "eof"
        data = await _exchange(port, app, first, rest, wait_reading=True, half_close=eof)
        assert _check_answer(data, 200, case) == b"caught it"
    _no_error_logged(caplog)


async def test_a_500_closes_the_connection(started: Started) -> None:
    """As aiohttp does: after a handler's failure, nothing more on that connection."""

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("bug")

    app = web.Application()
    app.router.add_get("/boom", boom)
    app.router.add_get("/marker", App().marker)
    port, _ = await started(app)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n" + MARKER)
        data = await asyncio.get_running_loop().run_in_executor(None, _recv_all, sock)
    _check_answer(data, 500)


def _recv_all(sock: socket.socket) -> bytes:
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out
