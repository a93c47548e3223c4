"""Streamed responses on the wire, parsed by h11 (an independent HTTP/1.1 parser)."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import zlib
from typing import Any

import pytest

from heron import web

from ..engine.conftest import RawClient, Serve


async def fetch(port: int, target: str, headers: str = "") -> tuple[Any, bytes, RawClient]:
    client = await RawClient.connect(port)
    await client.send(f"GET {target} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
    response, body = await client.response()
    return response, body, client


def header(response: Any, name: str) -> str | None:
    for key, value in response.headers:
        if key.decode().lower() == name.lower():
            return str(value.decode())
    return None


async def test_chunked_streaming_and_headers(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"X-A": "1"})
        response.enable_chunked_encoding()
        response.last_modified = datetime.datetime(
            2020, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc
        )
        response.etag = "v1"
        response.content_type = "text/plain"
        await response.prepare(request)
        for part in (b"one ", b"two ", b"three"):
            await response.write(part)
            with pytest.deprecated_call():  # as in aiohttp: write() already drains
                await response.drain()
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/", handler)
    port = await serve(app)
    response, body, client = await fetch(port, "/")
    assert body == b"one two three"
    assert header(response, "Transfer-Encoding") == "chunked"
    assert header(response, "Last-Modified") == "Thu, 02 Jan 2020 03:04:05 GMT"
    assert header(response, "ETag") == '"v1"'
    assert header(response, "X-A") == "1"
    client.close()


async def test_content_length_stream_and_force_close(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = 6
        response.force_close()
        await response.prepare(request)
        await response.write(b"abc")
        await response.write(b"def")
        return response

    app = web.Application()
    app.router.add_get("/", handler)
    port = await serve(app)
    response, body, client = await fetch(port, "/")
    assert body == b"abcdef"
    assert header(response, "Content-Length") == "6"
    assert header(response, "Connection") == "close"
    assert await client.closed_by_peer()


@pytest.mark.parametrize(
    ("force", "accept", "coding"),
    [
        (None, "gzip, deflate", "gzip"),
        (None, "deflate", "deflate"),
        (web.ContentCoding.gzip, "", "gzip"),
        (web.ContentCoding.deflate, "", "deflate"),
        (None, "", None),
    ],
)
async def test_enable_compression(
    serve: Serve, force: Any, accept: str, coding: str | None
) -> None:
    payload = b"heron " * 500

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_compression(force)
        await response.prepare(request)
        await response.write(payload[:1000])
        await response.write(payload[1000:])
        return response

    app = web.Application()
    app.router.add_get("/", handler)
    port = await serve(app)
    extra = f"Accept-Encoding: {accept}\r\n" if accept else ""
    response, body, client = await fetch(port, "/", extra)
    client.close()
    assert header(response, "Content-Encoding") == coding
    if coding == "gzip":
        body = gzip.decompress(body)
    elif coding == "deflate":
        body = zlib.decompress(body)
    assert body == payload


async def test_prepared_response_cannot_serve_another_request(serve: Serve) -> None:
    cached = web.StreamResponse()
    errors: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            await cached.prepare(request)
        except RuntimeError as exc:
            errors.append(str(exc))
            raise
        await cached.write_eof(b"first")
        return cached

    app = web.Application()
    app.router.add_get("/", handler)
    port = await serve(app)
    _, body, client = await fetch(port, "/")
    assert body == b"first"
    response, body, client2 = await asyncio.wait_for(fetch(port, "/"), 10)
    assert response.status_code == 500
    assert errors and "one request, one response" in errors[0]
    client.close()
    client2.close()


async def test_head_of_streamed_response_has_no_body(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"body bytes")
        return response

    app = web.Application()
    app.router.add_get("/", handler)
    port = await serve(app)
    client = await RawClient.connect(port)
    await client.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    response, body = await client.response("HEAD")
    assert response.status_code == 200 and body == b""
    client.close()


class _PreparedResponse(web.Response):
    """A header added in prepare() and a flag set in write_eof(): aiohttp calls both."""

    finished = False

    async def prepare(self, request: web.BaseRequest) -> Any:
        self.headers["X-Prepared"] = request.path
        return await super().prepare(request)

    async def write_eof(self, data: bytes = b"") -> None:
        type(self).finished = True
        await super().write_eof(data)


class _Mixin:
    async def prepare(self, request: web.BaseRequest) -> Any:
        self.headers["X-Mixin"] = "1"  # type: ignore[attr-defined]
        return await super().prepare(request)  # type: ignore[misc]


class _MixedResponse(_Mixin, web.Response):
    pass


class _PlainSubclass(web.Response):
    """Overrides nothing about sending: served the same, through the one-write path."""


@pytest.mark.parametrize("path", ["/prepared", "/mixed", "/plain", "/404"])
async def test_returned_subclass_is_sent_through_its_own_prepare_and_write_eof(
    serve: Serve, path: str
) -> None:
    async def prepared(request: web.Request) -> web.Response:
        return _PreparedResponse(text="p")

    async def mixed(request: web.Request) -> web.Response:
        return _MixedResponse(text="m")

    async def plain(request: web.Request) -> web.Response:
        return _PlainSubclass(text="x")

    class NotHere(web.HTTPNotFound):
        async def prepare(self, request: web.BaseRequest) -> Any:
            self.headers["X-Prepared"] = "404"
            return await super().prepare(request)

    async def missing(request: web.Request) -> web.Response:
        raise NotHere()

    app = web.Application()
    app.router.add_get("/prepared", prepared)
    app.router.add_get("/mixed", mixed)
    app.router.add_get("/plain", plain)
    app.router.add_get("/404", missing)
    port = await serve(app)
    _PreparedResponse.finished = False
    response, body, client = await fetch(port, path)
    client.close()
    expected = {
        "/prepared": (200, b"p", "X-Prepared", "/prepared"),
        "/mixed": (200, b"m", "X-Mixin", "1"),
        "/plain": (200, b"x", "X-Prepared", None),
        "/404": (404, b"404: Not Found", "X-Prepared", "404"),
    }[path]
    assert (response.status_code, body) == expected[:2]
    assert header(response, expected[2]) == expected[3]
    assert header(response, "Content-Length") == str(len(body))
    assert _PreparedResponse.finished is (path == "/prepared")
    assert not _PlainSubclass._custom_send and not web.Response._custom_send
