"""What aiohttp's client accepts, heron's accepts too: bodies (aiohttp's FormData and
MultipartWriter, file lists, dicts of files), HTTP/1.0 requests, request objects that
are coroutines, ``Expect: 100-continue`` without a body.

Each body goes to a real server that parses it: aiohttp.web and heron.web.
"""

from __future__ import annotations

import asyncio
import io
import json
import pathlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web as aioweb
from yarl import URL

from heron import web as heronweb
from heron.client import ClientPayloadError, ClientSession, FormData, HttpVersion

from .conftest import RawServer, read_request

HttpVersion10 = HttpVersion(1, 0)


async def _describe_form(request: Any) -> dict[str, Any]:
    form = await request.post()
    out: dict[str, Any] = {}
    for name, value in form.items():
        if isinstance(value, str):
            out.setdefault(name, []).append(value)
        elif isinstance(value, (bytes, bytearray)):  # a part with a type but no file name
            out.setdefault(name, []).append(value.decode())
        else:
            data = value.file.read()
            value.file.close()
            out.setdefault(name, []).append(
                {"filename": value.filename, "type": value.content_type, "data": data.decode()}
            )
    return {"ctype": request.content_type, "form": out}


async def _describe_multipart(request: Any) -> dict[str, Any]:
    reader = await request.multipart()
    parts = []
    async for part in reader:
        parts.append({"type": part.headers.get("Content-Type"), "text": await part.text()})
    return {"ctype": request.content_type, "parts": parts}


async def _serve(kind: str) -> tuple[Any, URL]:
    web: Any = aioweb if kind == "aiohttp" else heronweb

    async def form(request: Any) -> Any:
        return web.json_response(await _describe_form(request))

    async def multi(request: Any) -> Any:
        return web.json_response(await _describe_multipart(request))

    async def version(request: Any) -> Any:
        return web.json_response(
            {"version": list(request.version), "connection": request.headers.get("Connection")}
        )

    app = web.Application()
    app.router.add_post("/form", form)
    app.router.add_post("/multi", multi)
    app.router.add_get("/version", version)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, URL(f"http://127.0.0.1:{runner.addresses[0][1]}")


@pytest.fixture(params=["aiohttp", "heron"])
async def server_url(
    request: pytest.FixtureRequest, loop: asyncio.AbstractEventLoop
) -> AsyncIterator[URL]:
    runner, url = await _serve(request.param)
    yield url
    await runner.cleanup()


async def _post(url: URL, **kwargs: Any) -> dict[str, Any]:
    async with ClientSession() as session, session.post(url, **kwargs) as resp:
        assert resp.status == 200, await resp.text()
        result: dict[str, Any] = await resp.json()
        return result


async def test_aiohttp_formdata_with_file(server_url: URL) -> None:
    form = aiohttp.FormData()
    form.add_field("text", "value")
    form.add_field("upload", io.BytesIO(b"file body"), filename="a.txt")
    got = await _post(server_url / "form", data=form)
    assert got["ctype"] == "multipart/form-data"
    assert got["form"] == {
        "text": ["value"],
        # aiohttp's FormData types a nameless BytesIO as octet-stream
        "upload": [{"filename": "a.txt", "type": "application/octet-stream", "data": "file body"}],
    }


async def test_aiohttp_formdata_urlencoded(server_url: URL) -> None:
    got = await _post(server_url / "form", data=aiohttp.FormData({"a": "1", "b": "x y"}))
    assert got == {
        "ctype": "application/x-www-form-urlencoded",
        "form": {"a": ["1"], "b": ["x y"]},
    }


async def test_aiohttp_multipart_writer(server_url: URL) -> None:
    with aiohttp.MultipartWriter() as writer:
        writer.append("plain text")
        writer.append_json({"ok": True})
    got = await _post(server_url / "multi", data=writer)
    assert got["ctype"] == "multipart/mixed"
    assert got["parts"][0] == {"type": "text/plain; charset=utf-8", "text": "plain text"}
    assert got["parts"][1]["type"] == "application/json"
    assert json.loads(got["parts"][1]["text"]) == {"ok": True}


async def test_list_of_open_files_is_multipart(server_url: URL, tmp_path: pathlib.Path) -> None:
    (tmp_path / "one.txt").write_bytes(b"first")
    (tmp_path / "two.bin").write_bytes(b"second")
    with (tmp_path / "one.txt").open("rb") as f1, (tmp_path / "two.bin").open("rb") as f2:
        got = await _post(server_url / "form", data=[f1, f2])
    assert got["form"] == {
        "one.txt": [{"filename": "one.txt", "type": "text/plain", "data": "first"}],
        "two.bin": [{"filename": "two.bin", "type": "application/octet-stream", "data": "second"}],
    }


async def test_dict_with_file_objects_is_multipart(server_url: URL) -> None:
    got = await _post(server_url / "form", data={"field": "v", "file": io.BytesIO(b"bytes io")})
    assert got["ctype"] == "multipart/form-data"
    assert got["form"]["field"] == ["v"]
    # A BytesIO has no name: the field name stands in for the file name.
    assert got["form"]["file"] == [
        {"filename": "file", "type": "application/octet-stream", "data": "bytes io"}
    ]


async def test_pairs_with_same_name_and_heron_formdata_with_payload(server_url: URL) -> None:
    got = await _post(
        server_url / "form",
        data=[("f", io.BytesIO(b"one")), ("f", io.BytesIO(b"two"))],
    )
    assert [item["data"] for item in got["form"]["f"]] == ["one", "two"]
    form = FormData()
    form.add_field("json", aiohttp.JsonPayload({"k": 1}))
    got = await _post(server_url / "form", data=form)
    assert got["form"] == {"json": ['{"k": 1}']}


def test_form_fields_must_be_pairs_or_files() -> None:
    with pytest.raises(TypeError, match="form fields"):
        FormData([("a", "1", "extra")])


# ---------------------------------------------------------------------- HTTP/1.0


@pytest.mark.parametrize("version", [HttpVersion10, "1.0", aiohttp.HttpVersion10])
async def test_http10_session(server_url: URL, version: Any) -> None:
    async with ClientSession(version=version) as session:
        assert session.version == (1, 0)
        for _ in range(2):  # the second request reuses the kept-alive connection
            async with session.get(server_url / "version") as resp:
                assert resp.version == (1, 0)
                assert resp.headers["Connection"].lower() == "keep-alive"
                got = await resp.json()
            assert got == {"version": [1, 0], "connection": "keep-alive"}


async def test_http10_connection_close_and_per_request_version(server_url: URL) -> None:
    async with ClientSession() as session:
        async with session.get(
            server_url / "version", version=HttpVersion10, headers={"Connection": "close"}
        ) as resp:
            assert "Connection" not in resp.headers
            assert (await resp.json())["version"] == [1, 0]
        async with session.get(server_url / "version") as resp:
            assert (await resp.json()) == {"version": [1, 1], "connection": None}
    with pytest.raises(ValueError):
        ClientSession(version="2.0")


async def test_http10_request_line(raw_server: Callable[..., Awaitable[RawServer]]) -> None:
    seen: list[tuple[str, dict[str, str]]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            line, headers, _ = await read_request(reader)
            seen.append((line, headers))
            writer.write(
                b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"
            )
            await writer.drain()

    server = await raw_server(handle)
    async with ClientSession(version="1.0") as session:
        for _ in range(2):
            async with session.get(server.url("/p")) as resp:
                assert await resp.read() == b"ok"
    assert [line for line, _ in seen] == ["GET /p HTTP/1.0", "GET /p HTTP/1.0"]
    assert seen[0][1]["connection"] == "keep-alive"
    assert server.connections == 1


# ---------------------------------------------------------------------- request objects


async def test_request_is_a_coroutine_for_tasks(server_url: URL) -> None:
    async with ClientSession() as session:
        task = asyncio.create_task(session.get(server_url / "version"))
        resp = await task
        assert resp.status == 200
        resp.release()
        first, second = await asyncio.gather(
            session.get(server_url / "version"), session.get(server_url / "version")
        )
        assert (first.status, second.status) == (200, 200)
        first.release()
        second.release()
        # Never awaited: closing it closes the request coroutine without a warning.
        pending = session.get(server_url / "version")
        pending.close()


async def test_expect_header_without_body(
    raw_server: Callable[..., Awaitable[RawServer]],
) -> None:
    seen: list[dict[str, str]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, headers, _ = await read_request(reader)
        seen.append(headers)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")
        await writer.drain()

    server = await raw_server(handle)
    async with ClientSession() as session, session.post(server.url(), expect100=True) as resp:
        assert await resp.read() == b"x"
    assert seen[0]["expect"] == "100-continue"
    assert seen[0]["content-length"] == "0"


async def test_101_without_upgrade_header_has_empty_body(
    raw_server: Callable[..., Awaitable[RawServer]],
) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    server = await raw_server(handle)
    async with ClientSession() as session, session.get(server.url()) as resp:
        assert resp.status == 101
        assert await resp.read() == b""


async def test_foreign_connector_is_refused_early() -> None:
    connector = aiohttp.TCPConnector()
    try:
        with pytest.raises(TypeError, match=r"heron\.client connector"):
            ClientSession(connector=connector)
    finally:
        await connector.close()


# ---------------------------------------------------------------------- content codings


def _compress(coding: str, data: bytes) -> bytes:
    if coding == "br":
        brotli = pytest.importorskip("brotli")
        return bytes(brotli.compress(data))
    zstd = pytest.importorskip("backports.zstd")
    return bytes(zstd.compress(data))


@pytest.mark.parametrize("coding", ["br", "zstd"])
async def test_br_and_zstd_bodies_are_decoded(
    raw_server: Callable[..., Awaitable[RawServer]], coding: str
) -> None:
    body = b"decoded text " * 5000
    encoded = _compress(coding, body)
    seen: list[dict[str, str]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            _, headers, _ = await read_request(reader)
            seen.append(headers)
            data = encoded if headers.get("x-bad") is None else encoded[:-5]
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n%s"
                % (coding.encode(), len(data), data)
            )
            await writer.drain()

    server = await raw_server(handle)
    async with ClientSession() as session:
        async with session.get(server.url()) as resp:
            assert resp.headers["Content-Encoding"] == coding
            assert await resp.read() == body
        async with session.get(server.url(), auto_decompress=False) as resp:
            assert await resp.read() == encoded
        with pytest.raises(ClientPayloadError):
            async with session.get(server.url(), headers={"X-Bad": "1"}) as resp:
                await resp.read()
    assert coding in seen[0]["accept-encoding"].split(", ")


# ---------------------------------------------------------------------- file bodies


async def test_file_body_types_follow_the_file(aio_url: URL, tmp_path: pathlib.Path) -> None:
    (tmp_path / "pic.png").write_bytes(b"\x89PNG fake")
    (tmp_path / "notes.txt").write_bytes(b"line one\r\nline two\r\n")
    async with ClientSession() as session:
        with (tmp_path / "pic.png").open("rb") as f:
            async with session.post(aio_url / "echo", data=f) as resp:
                got = await resp.json()
        assert got["headers"]["Content-Type"] == "image/png"
        assert got["headers"]["Content-Length"] == "9"
        # A text file is read as text (newlines translated): its length on disk is not
        # what is sent, so it goes chunked.
        with (tmp_path / "notes.txt").open() as f:
            async with session.post(aio_url / "echo", data=f) as resp:
                got = await resp.json()
        assert got["body"] == "line one\nline two\n"
        assert got["headers"]["Content-Type"] == "text/plain"
        assert got["headers"]["Transfer-Encoding"] == "chunked"


async def test_text_field_with_filename(server_url: URL) -> None:
    form = FormData()
    form.add_field("doc", "some text", filename="doc.txt")
    got = await _post(server_url / "form", data=form)
    assert got["form"] == {
        "doc": [{"filename": "doc.txt", "type": "text/plain; charset=utf-8", "data": "some text"}]
    }
