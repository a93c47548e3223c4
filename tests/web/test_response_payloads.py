"""Response(body=...) with what aiohttp accepts besides bytes and str: async iterables,
file objects, multipart parts, aiohttp payload objects.  Fetched with aiohttp's client
(an independent implementation) and, for framing, with h11."""

from __future__ import annotations

import asyncio
import io
import pathlib
import warnings
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from heron import compression, web

from ..engine.conftest import RawClient, Serve

DATA = bytes(range(256)) * 1000  # 256 000 bytes: several reads and writes


async def _get(port: int, path: str, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as session:
        method = kwargs.pop("method", "GET")
        async with session.request(method, f"http://127.0.0.1:{port}{path}", **kwargs) as r:
            return r.status, dict(r.headers), await r.read()


def _app(handler: Any, method: str = "GET", **kwargs: Any) -> web.Application:
    app = web.Application(**kwargs)
    app.router.add_route(method, "/", handler)
    return app


async def _pieces(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        await asyncio.sleep(0)
        yield data[i : i + size]


async def test_async_generator_is_sent_chunked(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=_pieces(DATA))

    port = await serve(_app(handler))
    status, headers, body = await _get(port, "/")
    assert status == 200
    assert body == DATA
    assert headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in headers
    assert headers["Content-Type"] == "application/octet-stream"


async def test_async_generator_with_declared_length(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        headers = {"Content-Length": str(len(DATA))}
        return web.Response(body=_pieces(DATA), headers=headers, content_type="x/y")

    port = await serve(_app(handler))
    status, headers, body = await _get(port, "/")
    assert (status, body) == (200, DATA)
    assert headers["Content-Length"] == str(len(DATA))
    assert headers["Content-Type"] == "x/y"
    assert "Transfer-Encoding" not in headers


async def test_declared_length_bounds_the_body(serve: Serve) -> None:
    """More bytes than Content-Length are cut; fewer end the connection (the client
    cannot otherwise tell the body is short)."""

    async def handler(request: web.Request) -> web.Response:
        declared = 10 if request.query.get("more") else 100
        return web.Response(body=_pieces(b"x" * 50, 7), headers={"Content-Length": str(declared)})

    port = await serve(_app(handler))
    client = await RawClient.connect(port)
    await client.send(b"GET /?more=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    _, body = await client.response()
    assert body == b"x" * 10
    # The connection is still usable: the next request is answered.
    await client.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while chunk := await asyncio.wait_for(client.reader.read(65536), 10):
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert b"Content-Length: 100" in head
    assert rest == b"x" * 50  # then closed, not kept alive with a short body
    client.close()


async def test_async_generator_closed_when_client_leaves(serve: Serve) -> None:
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"x" * 65536
                await asyncio.sleep(0)
        finally:
            closed.set()

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=endless())

    port = await serve(_app(handler))
    client = await RawClient.connect(port)
    await client.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await client.read_raw()
    client.writer.transport.abort()
    await asyncio.wait_for(closed.wait(), 10)


async def _closed(file: Any) -> None:
    for _ in range(200):  # the server closes it right after the last byte went out
        if file.closed:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{file} left open")


async def test_open_file(serve: Serve, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "report.csv"
    path.write_bytes(DATA)
    opened: list[Any] = []

    async def handler(request: web.Request) -> web.Response:
        f = path.open("rb")
        opened.append(f)
        return web.Response(body=f)

    port = await serve(_app(handler, "*"))
    status, headers, body = await _get(port, "/")
    assert (status, body) == (200, DATA)
    assert headers["Content-Length"] == str(len(DATA))
    assert headers["Content-Type"] == "text/csv"
    assert headers["Content-Disposition"] == 'attachment; filename="report.csv"'
    await _closed(opened[0])  # closed once sent, as aiohttp does
    # HEAD: the same head, no body, and the file is closed all the same.
    status, headers, body = await _get(port, "/", method="HEAD")
    assert (status, body) == (200, b"")
    assert headers["Content-Length"] == str(len(DATA))
    await _closed(opened[1])


async def test_open_file_from_its_position(serve: Serve, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "data"
    path.write_bytes(DATA)

    async def handler(request: web.Request) -> web.Response:
        f = path.open("rb")
        f.seek(1000)
        return web.Response(body=f, headers={"Content-Type": "text/binary"})

    port = await serve(_app(handler))
    _, headers, body = await _get(port, "/")
    assert body == DATA[1000:]
    assert headers["Content-Length"] == str(len(DATA) - 1000)
    assert headers["Content-Type"] == "text/binary"  # the response's own type wins
    assert headers["Content-Disposition"] == 'attachment; filename="data"'


async def test_text_file(serve: Serve, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("héllo\n" * 1000, encoding="utf-8")

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=path.open(encoding="utf-8"))

    port = await serve(_app(handler))
    _, headers, body = await _get(port, "/")
    assert body.decode("utf-8") == "héllo\n" * 1000
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["Content-Length"] == str(len(body))


async def test_bytesio_and_stringio(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.query.get("text"):
            return web.Response(body=io.StringIO("zürich"))
        buf = io.BytesIO(DATA)
        buf.read(6)
        return web.Response(body=buf)

    port = await serve(_app(handler))
    status, headers, body = await _get(port, "/")
    assert (status, body) == (200, DATA[6:])
    assert headers["Content-Length"] == str(len(DATA) - 6)
    assert headers["Content-Type"] == "application/octet-stream"
    assert "Content-Disposition" not in headers
    status, headers, body = await _get(port, "/?text=1")
    assert body == "zürich".encode()
    assert headers["Content-Type"] == "text/plain; charset=utf-8"


async def test_request_part_streamed_back(serve: Serve) -> None:
    """A multipart part is passed on as it is read: client_max_size does not apply."""

    async def handler(request: web.Request) -> web.Response:
        reader = await request.multipart()
        part = await reader.next()
        return web.Response(body=part)

    port = await serve(_app(handler, "POST", client_max_size=10))
    form = aiohttp.FormData()
    form.add_field("upload", DATA, filename="big.bin")
    status, headers, body = await _get(port, "/", method="POST", data=form)
    assert (status, body) == (200, DATA)
    assert headers["Content-Disposition"] == 'attachment; name="upload"; filename="big.bin"'
    assert headers["Content-Type"] == "application/octet-stream"


async def test_request_content_streamed_back(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=request.content, content_type="x/echo")

    port = await serve(_app(handler, "POST"))
    status, headers, body = await _get(port, "/", method="POST", data=_pieces(DATA, 5000))
    assert (status, body) == (200, DATA)
    assert headers["Content-Type"] == "x/echo"


async def test_aiohttp_payloads(serve: Serve, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(DATA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)

        @aiohttp.streamer
        async def stream(writer: Any, data: bytes) -> None:
            for piece in (data[:10], data[10:]):
                await writer.write(piece)

    async def handler(request: web.Request) -> web.Response:
        kind = request.query["kind"]
        if kind == "file":
            payload = aiohttp.get_payload(path.open("rb"))
            payload.set_content_disposition("inline", filename="shown.bin")
            return web.Response(body=payload)
        if kind == "multipart":
            writer = aiohttp.MultipartWriter("mixed", boundary="b0undary")
            writer.append("first")
            writer.append_json({"second": 2})
            return web.Response(body=writer)
        return web.Response(body=stream(DATA))

    port = await serve(_app(handler))
    status, headers, body = await _get(port, "/?kind=file")
    assert (status, body) == (200, DATA)
    assert headers["Content-Disposition"] == 'inline; filename="shown.bin"'
    assert headers["Content-Length"] == str(len(DATA))

    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/?kind=multipart") as resp,
    ):
        assert resp.headers["Content-Type"] == "multipart/mixed; boundary=b0undary"
        reader = aiohttp.MultipartReader.from_response(resp)
        first = await reader.next()
        assert isinstance(first, aiohttp.BodyPartReader)
        assert await first.text() == "first"
        second = await reader.next()
        assert isinstance(second, aiohttp.BodyPartReader)
        assert await second.json() == {"second": 2}

    status, headers, body = await _get(port, "/?kind=streamer")
    assert (status, body) == (200, DATA)


async def test_streamed_body_with_compression(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        response = web.Response(body=_pieces(DATA), content_type="text/plain")
        if request.query.get("force"):
            response.enable_compression(web.ContentCoding.deflate)
        return response

    app = _app(handler)
    compression.setup(app)
    port = await serve(app)
    client = await RawClient.connect(port)
    await client.send(b"GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
    response, body = await client.response()
    headers = {k.decode().lower(): v.decode() for k, v in response.headers}
    assert headers["content-encoding"] == "gzip"
    assert zlib.decompress(body, 16 + zlib.MAX_WBITS) == DATA
    await client.send(b"GET /?force=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    response, body = await client.response()
    assert zlib.decompress(body) == DATA
    client.close()


def test_body_attribute_and_unsupported_bodies() -> None:
    gen = _pieces(b"")
    response = web.Response(body=gen)
    assert response.body is gen
    assert response.content_length is None
    with pytest.raises(TypeError):
        response.text  # noqa: B018 - a streamed body has no text
    response.body = b"abc"
    assert (response.body, response.content_length) == (b"abc", 3)
    with pytest.raises(ValueError, match="Unsupported body type"):
        web.Response(body={"a": 1})
    with pytest.raises(ValueError, match="Unsupported body type"):
        web.Response(body=[b"a"])  # a plain (sync) iterable is not a body, as in aiohttp
    asyncio.run(gen.aclose())
