"""make_mocked_request: unit tests of handlers and middlewares without a server.

Each test is what an application's own unit test looks like: a handler or middleware
called with a mocked request, its answer checked (bytes of prepared responses come from
the recording writer, ``request.writer.output``).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any
from unittest import mock

import pytest
from multidict import CIMultiDict

from heron import web
from heron.test_utils import make_mocked_request

Handler = Any


def _sent(req: web.Request) -> bytes:
    """What the recording writer of a mocked request holds."""
    output: bytes = getattr(req.writer, "output")  # noqa: B009 (not in ResponseWriter's type)
    return output


def _head_and_body(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in lines)
    return status, fields, body


def _payload(data: bytes) -> web.StreamReader:
    stream = web.StreamReader(limit=2**16, loop=asyncio.get_running_loop())
    stream.feed_data(data)
    stream.feed_eof()
    return stream


# ---------------------------------------------------------------- aiohttp's documented use


def test_documented_example_headers() -> None:
    def handler(request: web.Request) -> web.Response:
        assert request.headers.get("token") == "x"
        return web.Response(body=b"data")

    req = make_mocked_request("GET", "/", headers={"token": "x"})
    resp = handler(req)
    assert resp.body == b"data"


def test_request_line_and_url() -> None:
    req = make_mocked_request(
        "get", "/items/7?sort=asc&tag=a&tag=b", headers={"Host": "shop.example:8080"}
    )
    assert req.method == "GET"
    assert req.version == (1, 1)
    assert req.path == "/items/7"
    assert req.path_qs == "/items/7?sort=asc&tag=a&tag=b"
    assert req.query_string == "sort=asc&tag=a&tag=b"
    assert req.query.getall("tag") == ["a", "b"]
    assert req.host == "shop.example:8080"
    assert str(req.url) == "http://shop.example:8080/items/7?sort=asc&tag=a&tag=b"
    assert req.scheme == "http" and not req.secure
    assert req.keep_alive


def test_headers_keep_order_case_and_duplicates() -> None:
    headers = CIMultiDict([("X-Trace", "1"), ("accept", "text/html"), ("X-Trace", "2")])
    req = make_mocked_request("GET", "/", headers=headers)
    assert req.headers.getall("x-trace") == ["1", "2"]
    assert req.raw_headers == (
        (b"X-Trace", b"1"),
        (b"accept", b"text/html"),
        (b"X-Trace", b"2"),
    )
    assert make_mocked_request("GET", "/").raw_headers == ()


def test_connection_defaults_and_closing() -> None:
    req = make_mocked_request("GET", "/")
    assert req.remote is None  # as aiohttp's mock: no peer
    assert req.get_extra_info("sockname") == ("127.0.0.1", 80)
    assert make_mocked_request("GET", "/", closing=True).keep_alive is False
    old = make_mocked_request("GET", "/", version=web.HttpVersion(1, 0))
    assert old.version == (1, 0)
    assert not old.keep_alive


def test_secure_with_sslcontext() -> None:
    ctx = ssl.create_default_context()
    req = make_mocked_request("GET", "/login", headers={"Host": "a.example"}, sslcontext=ctx)
    assert req.secure
    assert req.scheme == "https"
    assert str(req.url) == "https://a.example/login"
    assert req.get_extra_info("sslcontext") is ctx


def test_cookies() -> None:
    req = make_mocked_request("GET", "/", headers={"Cookie": "session=abc; theme=dark"})
    assert dict(req.cookies) == {"session": "abc", "theme": "dark"}


# ---------------------------------------------------------------- routing and the app


async def test_match_info_and_app_state() -> None:
    db_key = web.AppKey("db", dict)

    async def get_user(request: web.Request) -> web.Response:
        users = request.app[db_key]
        return web.json_response(users[request.match_info["user_id"]])

    app = web.Application()
    app[db_key] = {"42": {"name": "Ada"}}
    req = make_mocked_request("GET", "/users/42", match_info={"user_id": "42"}, app=app)
    assert req.app is app
    assert req.config_dict[db_key] is app[db_key]
    resp = await get_user(req)
    assert resp.status == 200
    assert resp.text is not None and json.loads(resp.text) == {"name": "Ada"}


def test_default_match_info_and_app() -> None:
    req = make_mocked_request("GET", "/")
    assert dict(req.match_info) == {}
    assert isinstance(req.app, web.Application)
    assert req.match_info.apps == (req.app,)


async def test_middleware() -> None:
    @web.middleware
    async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.headers.get("Authorization") != "Bearer good":
            raise web.HTTPUnauthorized()
        resp: web.StreamResponse = await handler(request)
        resp.headers["X-Checked"] = "yes"
        return resp

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="secret")

    with pytest.raises(web.HTTPUnauthorized):
        await require_token(make_mocked_request("GET", "/"), handler)

    req = make_mocked_request("GET", "/", headers={"Authorization": "Bearer good"})
    resp = await require_token(req, handler)
    assert resp.headers["X-Checked"] == "yes"


async def test_on_response_prepare_of_the_given_app() -> None:
    async def stamp(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["X-Stamp"] = "1"

    app = web.Application()
    app.on_response_prepare.append(stamp)
    app.freeze()
    req = make_mocked_request("GET", "/", app=app)
    resp = web.Response(text="hi")
    await resp.prepare(req)
    await resp.write_eof()
    _, fields, body = _head_and_body(_sent(req))
    assert fields["X-Stamp"] == "1"
    assert body == b"hi"


# ---------------------------------------------------------------- bodies


async def test_json_body() -> None:
    async def create(request: web.Request) -> web.Response:
        item = await request.json()
        return web.json_response({"created": item["name"]}, status=201)

    body = b'{"name": "widget"}'
    req = make_mocked_request(
        "POST",
        "/items",
        headers={"Content-Type": "application/json", "Content-Length": str(len(body))},
        payload=_payload(body),
    )
    assert req.content_length == len(body)
    assert req.body_exists and req.can_read_body
    resp = await create(req)
    assert resp.status == 201
    assert resp.text is not None and json.loads(resp.text) == {"created": "widget"}


async def test_post_form() -> None:
    req = make_mocked_request(
        "POST",
        "/form",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        payload=_payload(b"a=1&b=two+words&a=3"),
    )
    form = await req.post()
    assert form.getall("a") == ["1", "3"]
    assert form["b"] == "two words"


async def test_client_max_size() -> None:
    req = make_mocked_request("POST", "/upload", payload=_payload(b"x" * 11), client_max_size=10)
    with pytest.raises(web.HTTPRequestEntityTooLarge):
        await req.read()


def test_empty_body_by_default() -> None:
    req = make_mocked_request("POST", "/")
    assert not req.body_exists
    assert not req.can_read_body


# ---------------------------------------------------------------- responses


async def test_stream_response_prepare_write_write_eof() -> None:
    async def stream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        resp.set_cookie("seen", "1")
        await resp.prepare(request)
        await resp.write(b"part one, ")
        await resp.write(b"part two")
        await resp.write_eof()
        return resp

    req = make_mocked_request("GET", "/stream")
    resp = await stream(req)
    assert resp.prepared
    status, fields, body = _head_and_body(_sent(req))
    assert status == "HTTP/1.1 200 OK"
    assert fields["Transfer-Encoding"] == "chunked"
    assert fields["Set-Cookie"].startswith("seen=1")
    assert body == b"a\r\npart one, \r\n8\r\npart two\r\n0\r\n\r\n"


async def test_response_to_head_and_to_http10() -> None:
    req = make_mocked_request("HEAD", "/")
    resp = web.Response(text="body")
    await resp.prepare(req)
    await resp.write_eof()
    _, fields, body = _head_and_body(_sent(req))
    assert fields["Content-Length"] == "4" and body == b""

    req = make_mocked_request("GET", "/", version=web.HttpVersion(1, 0))
    stream = web.StreamResponse()
    await stream.prepare(req)
    await stream.write(b"abc")
    await stream.write_eof()
    status, fields, body = _head_and_body(_sent(req))
    assert status.startswith("HTTP/1.0 200")
    assert "Transfer-Encoding" not in fields
    assert body == b"abc"


async def test_given_writer_is_used() -> None:
    writer = mock.Mock()
    writer.paused = False
    writer.drain = mock.AsyncMock()
    writer.write = mock.AsyncMock()
    writer.write_eof = mock.AsyncMock()
    req = make_mocked_request("GET", "/", writer=writer)
    assert req.writer is writer
    resp = web.StreamResponse()
    await resp.prepare(req)
    await resp.write(b"x")
    await resp.write_eof()
    assert writer.send_head.call_args.args[0].startswith(b"HTTP/1.1 200 OK\r\n")
    writer.write.assert_awaited_once_with(b"x")
    writer.write_eof.assert_awaited_once()


def test_given_transport_and_protocol_are_used() -> None:
    transport = mock.Mock()
    transport.get_extra_info.return_value = ("10.0.0.5", 5555)
    req = make_mocked_request("GET", "/", transport=transport)
    assert req.transport is transport
    assert req.remote == "10.0.0.5"

    protocol = mock.Mock()
    req = make_mocked_request("GET", "/", protocol=protocol, transport=transport)
    assert req.protocol is protocol
    assert req.transport is transport


async def test_loop_is_the_running_one() -> None:
    req = make_mocked_request("GET", "/")
    assert req._loop is asyncio.get_running_loop()


def test_without_a_running_loop() -> None:
    req = make_mocked_request("GET", "/a?b=c")
    assert req.query["b"] == "c"


def test_clone_keeps_the_mocked_connection() -> None:
    req = make_mocked_request("GET", "/a", match_info={"x": "1"})
    clone = req.clone(rel_url="/b")
    assert clone.path == "/b"
    assert clone.match_info["x"] == "1"
    assert clone.writer is req.writer
