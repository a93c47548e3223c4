"""web.Request attributes as aiohttp 3.14 computes them.

Over real sockets where the engine takes part (Host fallback, cookies and headers as
parsed off the wire, reading then cloning); with ``make_mocked_request`` (public API)
for the pure parsing rules (Forwarded, entity-tags, cookie edge cases, deprecations).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import warnings
from typing import Any

import pytest
from multidict import CIMultiDict

from heron import web
from heron.test_utils import make_mocked_request

from ..engine.conftest import RawClient, Serve

Seen = dict[str, Any]


def _recording_app(seen: Seen, *names: str) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        for name in names:
            seen[name] = getattr(request, name)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


async def _roundtrip(port: int, raw_request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw_request)
        await writer.drain()
        data = b""
        while chunk := await asyncio.wait_for(reader.read(65536), 10):
            data += chunk
        return data
    finally:
        writer.close()


# ---------------------------------------------------------------- host without a Host header


async def test_host_without_host_header_is_the_local_address_not_dns(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_dns(*args: Any) -> str:
        raise AssertionError("request.host must not resolve names (it blocks the loop)")

    monkeypatch.setattr(socket, "getfqdn", no_dns)
    seen: Seen = {}
    port = await serve(_recording_app(seen, "host", "url"))
    answer = await _roundtrip(port, b"GET /a?b=1 HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.0 200") or answer.startswith(b"HTTP/1.1 200")
    assert seen["host"] == "127.0.0.1"
    assert str(seen["url"]) == "http://127.0.0.1/a?b=1"


async def test_host_without_host_header_over_ipv6_is_bracketed() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    seen: Seen = {}
    runner = web.AppRunner(_recording_app(seen, "host", "url"), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "::1", 0)
        try:
            await site.start()
        except OSError:
            pytest.skip("cannot bind ::1")
        port = site.port
        reader, writer = await asyncio.open_connection("::1", port)
        writer.write(b"GET /v6 HTTP/1.0\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    finally:
        await runner.cleanup()
    assert b" 200 " in answer.split(b"\r\n", 1)[0]
    assert seen["host"] == "[::1]"
    assert str(seen["url"]) == "http://[::1]/v6"


async def test_host_header_wins(serve: Serve) -> None:
    seen: Seen = {}
    port = await serve(_recording_app(seen, "host"))
    await _roundtrip(port, b"GET / HTTP/1.0\r\nHost: shop.example:81\r\n\r\n")
    assert seen["host"] == "shop.example:81"


def test_host_of_a_mocked_request_without_sockname_is_empty() -> None:
    class NoAddress:
        def get_extra_info(self, name: str, default: Any = None) -> Any:
            return default

        def is_closing(self) -> bool:
            return False

    req = make_mocked_request("GET", "/", transport=NoAddress())
    assert req.host == ""


# ---------------------------------------------------------------- cookies


async def test_cookies_as_browsers_send_them(serve: Serve) -> None:
    seen: Seen = {}
    port = await serve(_recording_app(seen, "cookies"))
    cookie = (
        "ISAWPLB{DB45DF86-F806-407C-932C-D52A60E4019E}=val1; path/x=2; a[1]=3; "
        'quoted="with;semi"; esc="say \\"hi\\""; Secure; HttpOnly; Domain=.example.com; '
        "empty=; plain=value"
    )
    await _roundtrip(
        port, f"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n".encode()
    )
    assert dict(seen["cookies"]) == {
        "ISAWPLB{DB45DF86-F806-407C-932C-D52A60E4019E}": "val1",
        "path/x": "2",
        "a[1]": "3",
        "quoted": "with;semi",
        "esc": 'say "hi"',
        "Secure": "",
        "HttpOnly": "",
        "Domain": ".example.com",
        "empty": "",
        "plain": "value",
    }


def test_cookies_unclosed_quote_and_trailing_garbage() -> None:
    req = make_mocked_request("GET", "/", {"Cookie": 'a="open; b="x"y; c=\\101; d="\\101"'})
    assert dict(req.cookies) == {"a": '"open', "b": '"x"y', "c": "\\101", "d": "A"}


def test_many_illegal_cookie_names_log_one_line(caplog: pytest.LogCaptureFixture) -> None:
    bad = "; ".join(f"b\x01d{i}=1" for i in range(500))
    req = make_mocked_request("GET", "/", {"Cookie": bad + "; good=1; sp ace=2; =3"})
    with caplog.at_level(logging.DEBUG):
        cookies = dict(req.cookies)
    assert cookies == {"good": "1"}
    lines = [r for r in caplog.records if "Cannot load cookie" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].levelno == logging.DEBUG


def test_cookie_parsing_is_linear() -> None:
    # Long runs of quotes and backslashes must not make the parser backtrack.
    value = '"' + "\\" * 6000 + "x" * 2000
    req = make_mocked_request("GET", "/", {"Cookie": f"a={value}; b=1"})
    assert req.cookies["b"] == "1"
    assert req.cookies["a"] == value


# ---------------------------------------------------------------- Forwarded


def _forwarded(*values: str) -> tuple[dict[str, str], ...]:
    headers = CIMultiDict[str]()
    for value in values:
        headers.add("Forwarded", value)
    return tuple(dict(m) for m in make_mocked_request("GET", "/", headers).forwarded)


def test_forwarded_quoted_strings_are_unescaped() -> None:
    assert _forwarded(r'For="[2001:db8::1]:4711";by=x;EXT="a, \"b\" \\c"') == (
        {"for": "[2001:db8::1]:4711", "by": "x", "ext": 'a, "b" \\c'},
    )
    assert _forwarded('for="' + "\\\\" * 3000 + '"') == ({"for": "\\" * 3000},)


def test_forwarded_elements_and_port() -> None:
    assert _forwarded("for=1.2.3.4:8080;proto=https, for=5.6.7.8", "by=p") == (
        {"for": "1.2.3.4:8080", "proto": "https"},
        {"for": "5.6.7.8"},
        {"by": "p"},
    )


def test_forwarded_broken_value_cannot_hide_the_next_element() -> None:
    # An unclosed quote from the client must not swallow what a trusted proxy appended.
    assert _forwarded('for=_injected;by=", for=_real') == ({"for": "_injected"}, {"for": "_real"})
    assert _forwarded('for=_injected;by="', "for=_real;by=_proxy") == (
        {"for": "_injected"},
        {"for": "_real", "by": "_proxy"},
    )
    assert _forwarded("by=a proto=https, for=b") == ({"by": "a"}, {"for": "b"})
    assert _forwarded("garbage", "") == ({}, {})


# ---------------------------------------------------------------- other headers


async def test_charset_keeps_its_case(serve: Serve) -> None:
    seen: Seen = {}
    port = await serve(_recording_app(seen, "charset", "content_type"))
    await _roundtrip(
        port,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: Text/HTML; Charset=UTF-8\r\n\r\n",
    )
    assert seen == {"charset": "UTF-8", "content_type": "text/html"}


def _tags(req: web.Request, attr: str) -> list[tuple[str, bool]]:
    return [(tag.value, tag.is_weak) for tag in getattr(req, attr)]


def test_entity_tags_before_a_malformed_element_are_kept() -> None:
    for header, attr in (("If-Match", "if_match"), ("If-None-Match", "if_none_match")):
        req = make_mocked_request("GET", "/", {header: '"a", W/"b",garbage"c"'})
        assert _tags(req, attr) == [("a", False), ("b", True)]
        req = make_mocked_request("GET", "/", {header: '"ascii", "не ascii", "x"'})
        assert _tags(req, attr) == [("ascii", False)]
        req = make_mocked_request("GET", "/", {header: "garbage"})
        assert _tags(req, attr) == []
        req = make_mocked_request("GET", "/", {header: '"7892,dd", *'})
        assert _tags(req, attr) == [("7892,dd", False)]
        req = make_mocked_request("GET", "/", {header: "*"})
        assert _tags(req, attr) == [("*", False)]
        assert getattr(make_mocked_request("GET", "/"), attr) is None


def test_repr_escapes_non_ascii_paths() -> None:
    req = make_mocked_request("GET", "/path/\U0001f415?q=\U0001f308")
    assert repr(req) == "<Request GET /path/\\U0001f415 >"


def test_message_and_loop_are_deprecated() -> None:
    loop = asyncio.new_event_loop()
    try:
        req = make_mocked_request("GET", "/", loop=loop)
        with pytest.deprecated_call(match=r"^Request\.message is deprecated$"):
            assert req.message.method == "GET"
        with pytest.deprecated_call(match=r"^request\.loop property is deprecated$"):
            assert req.loop is loop
    finally:
        loop.close()


def test_common_attributes_do_not_warn() -> None:
    req = make_mocked_request("GET", "/a?b=1", {"Host": "h"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (req.method, req.path, req.host, req.query["b"]) == ("GET", "/a", "h", "1")
        assert req.transport is not None
        assert req.get_extra_info("sockname") == ("127.0.0.1", 80)


# ---------------------------------------------------------------- body then clone


async def test_clone_after_reading_the_body_is_an_error(serve: Serve) -> None:
    outcome: Seen = {}

    async def handler(request: web.Request) -> web.Response:
        early = request.clone(rel_url="/early")  # before reading: fine
        outcome["early"] = early.path
        body = await request.read()
        try:
            request.clone()
        except RuntimeError as exc:
            outcome["error"] = str(exc)
        return web.Response(body=body)

    port = await serve(handler)
    answer = await _roundtrip(
        port, b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc"
    )
    assert answer.endswith(b"\r\n\r\nabc")
    assert outcome == {
        "early": "/early",
        "error": "Cannot clone request after reading its content",
    }


async def test_read_accepts_aiohttp_stream_in_mocked_request() -> None:
    # Tests ported from aiohttp build their payload with aiohttp's own StreamReader.
    from aiohttp import streams
    from aiohttp.base_protocol import BaseProtocol

    loop = asyncio.get_running_loop()
    payload = streams.StreamReader(BaseProtocol(loop), 2**16, loop=loop)
    payload.feed_data(b"a=1&b=2")
    payload.feed_eof()
    req = make_mocked_request(
        "POST",
        "/",
        {"Content-Type": "application/x-www-form-urlencoded"},
        payload=payload,  # type: ignore[arg-type]
    )
    assert dict(await req.post()) == {"a": "1", "b": "2"}


async def test_raw_client_sanity(raw: Any, serve: Serve) -> None:
    # The Host-less HTTP/1.0 path also answers a keep-alive client normally.
    seen: Seen = {}
    port = await serve(_recording_app(seen, "host"))
    client: RawClient = await raw(port)
    await client.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    data = await client.read_raw()
    assert b"200" in data.split(b"\r\n", 1)[0]
    assert seen["host"] == "127.0.0.1"


# ---------------------------------------------------------------- state keys


def test_plain_str_state_keys_warn_once_per_key() -> None:
    req = make_mocked_request("GET", "/")
    with pytest.warns(web.NotAppKeyWarning, match="web.RequestKey"):
        req["test_request_unit_key"] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        req["test_request_unit_key"] = 2  # already warned about
        key = web.RequestKey("typed", int)
        req[key] = 3
        assert (req["test_request_unit_key"], req[key]) == (2, 3)


def test_heron_batteries_str_keys_do_not_warn() -> None:
    # heron.sessions and heron.templating keep aiohttp_session's/aiohttp_jinja2's str keys.
    from heron import sessions, templating

    req = make_mocked_request("GET", "/")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in (sessions.SESSION_KEY, sessions.STORAGE_KEY, templating.REQUEST_CONTEXT_KEY):
            req[name] = object()
