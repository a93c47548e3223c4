"""The first-cut app layer over real sockets, through heron's TestClient."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from heron import web
from heron._util.dates import DateCache
from heron.client import ClientSession

Client = Any  # the aiohttp_client fixture's product


async def test_request_attributes(aiohttp_client: Any) -> None:
    seen: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.Response:
        request["mark"] = 1
        seen.update(
            method=request.method,
            version=tuple(request.version),
            path=request.path,
            raw_path=request.raw_path,
            query=dict(request.query),
            query_string=request.query_string,
            header=request.headers["X-Test"],
            url=str(request.url),
            host=request.host,
            remote=request.remote,
            scheme=request.scheme,
            secure=request.secure,
            cookies=dict(request.cookies),
            content_type=request.content_type,
            charset=request.charset,
            content_length=request.content_length,
            keep_alive=request.keep_alive,
            body_exists=request.body_exists,
            can_read_body=request.can_read_body,
            text=await request.text(),
            mark=request["mark"],
            app_is_app=request.app is app,
            match=dict(request.match_info),
            len=len(request),
        )
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/items/{id}", handler)
    client: Client = await aiohttp_client(app)
    resp = await client.post(
        "/items/a%20b?x=1&x=2&y=",
        data="héllo".encode("latin-1"),
        headers={
            "X-Test": "yes",
            "Cookie": "a=1; b=two",
            "Content-Type": "text/plain; charset=latin-1",
        },
    )
    assert resp.status == 200
    assert seen["method"] == "POST"
    assert seen["version"] == (1, 1)
    assert seen["path"] == "/items/a b"
    assert seen["raw_path"] == "/items/a%20b?x=1&x=2&y="
    assert seen["query"] == {"x": "1", "y": ""}
    assert seen["query_string"] == "x=1&x=2&y="
    assert seen["header"] == "yes"
    assert seen["url"] == f"http://127.0.0.1:{client.port}/items/a%20b?x=1&x=2&y="
    assert seen["host"] == f"127.0.0.1:{client.port}"
    assert seen["remote"] == "127.0.0.1"
    assert seen["scheme"] == "http" and seen["secure"] is False
    assert seen["cookies"] == {"a": "1", "b": "two"}
    assert seen["content_type"] == "text/plain" and seen["charset"] == "latin-1"
    assert seen["content_length"] == 5
    assert seen["keep_alive"] is True
    assert seen["body_exists"] is True and seen["can_read_body"] is True
    assert seen["text"] == "héllo"
    assert seen["mark"] == 1 and seen["len"] == 1
    assert seen["app_is_app"] is True
    assert seen["match"] == {"id": "a b"}


async def test_request_without_body(aiohttp_client: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "body_exists": request.body_exists,
                "can_read_body": request.can_read_body,
                "content_type": request.content_type,
                "read": (await request.read()).decode(),
            }
        )

    app = web.Application()
    app.router.add_get("/", handler)
    client: Client = await aiohttp_client(app)
    resp = await client.get("/")
    assert await resp.json() == {
        "body_exists": False,
        "can_read_body": False,
        "content_type": "application/octet-stream",
        "read": "",
    }


async def test_streamreader_api(aiohttp_client: Any) -> None:
    async def lines(request: web.Request) -> web.Response:
        first = await request.content.readline()
        exact = await request.content.readexactly(3)
        rest = [chunk async for chunk in request.content.iter_chunked(4)]
        return web.json_response(
            {"first": first.decode(), "exact": exact.decode(), "rest": [c.decode() for c in rest]}
        )

    app = web.Application()
    app.router.add_post("/", lines)
    client: Client = await aiohttp_client(app)
    resp = await client.post("/", data=b"line one\nabcdefghij")
    assert await resp.json() == {
        "first": "line one\n",
        "exact": "abc",
        "rest": ["defg", "hij"],
    }


async def test_readany_streams_a_chunked_upload(aiohttp_client: Any) -> None:
    async def count(request: web.Request) -> web.Response:
        total = 0
        while chunk := await request.content.readany():
            total += len(chunk)
        return web.Response(text=str(total))

    async def body() -> Any:
        for _ in range(64):
            yield b"x" * 16384

    app = web.Application()
    app.router.add_post("/", count)
    client: Client = await aiohttp_client(app)
    resp = await client.post("/", data=body())
    assert await resp.text() == str(64 * 16384)


async def test_cookies_set_and_deleted(aiohttp_client: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        resp = web.Response(text="ok")
        resp.set_cookie("session", "abc", httponly=True, samesite="Lax", max_age=60)
        resp.del_cookie("old")
        return resp

    app = web.Application()
    app.router.add_get("/", handler)
    client: Client = await aiohttp_client(app)
    resp = await client.get("/")
    cookies = resp.headers.getall("Set-Cookie")
    session = next(c for c in cookies if c.startswith("session="))
    old = next(c for c in cookies if c.startswith("old="))
    assert "HttpOnly" in session and "SameSite=Lax" in session and "Max-Age=60" in session
    assert "Path=/" in session
    assert 'old=""' in old and "Max-Age=0" in old


@pytest.mark.parametrize("mode", ["raise", "return"])
async def test_http_exceptions_raised_or_returned(aiohttp_client: Any, mode: str) -> None:
    async def handler(request: web.Request) -> web.Response:
        exc = web.HTTPFound("/elsewhere")
        if mode == "raise":
            raise exc
        return exc

    async def teapot(request: web.Request) -> web.Response:
        raise web.HTTPForbidden(text="nope", headers={"X-Why": "because"})

    app = web.Application()
    app.router.add_get("/", handler)
    app.router.add_get("/forbidden", teapot)
    client: Client = await aiohttp_client(app)
    resp = await client.get("/", allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == "/elsewhere"
    resp = await client.get("/forbidden")
    assert resp.status == 403
    assert await resp.text() == "nope"
    assert resp.headers["X-Why"] == "because"


async def test_exception_family_table() -> None:
    assert issubclass(web.HTTPNotFound, web.HTTPClientError)
    assert issubclass(web.HTTPClientError, web.HTTPError)
    assert issubclass(web.HTTPFound, web.HTTPMove)
    assert issubclass(web.HTTPException, web.Response)
    assert issubclass(web.HTTPException, Exception)
    assert web.HTTPNoContent().body is None
    assert web.HTTPNotFound().text == "404: Not Found"
    exc = web.HTTPMethodNotAllowed("PUT", ["GET", "POST"])
    assert exc.headers["Allow"] == "GET,POST" and exc.method == "PUT"
    with pytest.raises(ValueError):
        web.HTTPFound("")
    tl = web.HTTPRequestEntityTooLarge(max_size=10, actual_size=20)
    assert tl.status == 413 and "10" in (tl.text or "")


async def test_middleware_order(aiohttp_client: Any) -> None:
    order: list[str] = []

    def make(name: str) -> Any:
        @web.middleware
        async def mw(request: web.Request, handler: Any) -> web.StreamResponse:
            order.append(f"{name} in")
            resp = await handler(request)
            order.append(f"{name} out")
            return resp

        return mw

    async def handler(request: web.Request) -> web.Response:
        order.append("handler")
        return web.Response(text="ok")

    app = web.Application(middlewares=[make("first"), make("second")])
    app.router.add_get("/", handler)
    client: Client = await aiohttp_client(app)
    await client.get("/")
    await client.get("/")
    assert order == ["first in", "second in", "handler", "second out", "first out"] * 2


async def test_404_405_and_head(aiohttp_client: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="body")

    app = web.Application()
    app.router.add_get("/", handler)
    app.router.add_get("/nohead", handler, allow_head=False)
    client: Client = await aiohttp_client(app)
    assert (await client.get("/missing")).status == 404
    resp = await client.post("/")
    assert resp.status == 405
    assert set(resp.headers["Allow"].split(",")) == {"GET", "HEAD"}
    resp = await client.head("/")
    assert resp.status == 200 and resp.headers["Content-Length"] == "4"
    assert (await client.head("/nohead")).status == 405


async def test_app_key_and_state() -> None:
    key = web.AppKey("db", str)
    app = web.Application()
    app[key] = "sqlite"
    assert app[key] == "sqlite"
    with pytest.warns(web.NotAppKeyWarning):
        app["plain"] = 1
    # As aiohttp: the name is prefixed with the module being executed (the key is made
    # inside a function here, so it is the module that called it).
    assert repr(key).startswith("<AppKey(") and repr(key).endswith(".db, type=str)>")


async def test_unix_site(tmp_path: Path) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="over unix")

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    path = str(tmp_path / "heron.sock")
    site = web.UnixSite(runner, path)
    await site.start()
    try:
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"over unix")
        assert site.name == f"http://unix:{path}:"
    finally:
        await runner.cleanup()


async def test_sock_site() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="pre-bound")

    app = web.Application()
    app.router.add_get("/", handler)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        async with ClientSession() as session, session.get(f"http://127.0.0.1:{port}/") as resp:
            assert await resp.text() == "pre-bound"
        assert runner.addresses == [("127.0.0.1", port)]
    finally:
        await runner.cleanup()
        sock.close()


async def test_tcp_site_port_zero() -> None:
    app = web.Application()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        assert site.port != 0
        assert site.name == f"http://127.0.0.1:{site.port}"
    finally:
        await runner.cleanup()


def test_date_header_cached_per_second() -> None:
    now = [1_700_000_000.2]
    cache = DateCache(clock=lambda: now[0])
    first = cache.get()
    assert first == "Tue, 14 Nov 2023 22:13:20 GMT"
    now[0] += 0.5
    assert cache.get() is first
    now[0] += 1
    assert cache.get() == "Tue, 14 Nov 2023 22:13:21 GMT"


async def test_etag_type_is_public(aiohttp_client: Any) -> None:
    # web.ETag is the type of request.if_match / if_none_match items and response.etag.
    seen: list[object] = []

    async def handler(request: web.Request) -> web.Response:
        seen.extend(request.if_none_match or ())
        response = web.Response(text="x")
        response.etag = web.ETag(value="v1", is_weak=True)
        seen.append(response.etag)
        return response

    app = web.Application()
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    resp = await client.get("/", headers={"If-None-Match": 'W/"a", "b"'})
    assert resp.status == 200 and resp.headers["ETag"] == 'W/"v1"'
    assert seen == [
        web.ETag(value="a", is_weak=True),
        web.ETag(value="b"),
        web.ETag(value="v1", is_weak=True),
    ]
    assert all(isinstance(tag, web.ETag) for tag in seen)
