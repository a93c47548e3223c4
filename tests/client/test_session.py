"""ClientSession against aiohttp.web (an independent server): bodies, redirects, cookies."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from yarl import URL

from heron.client import (
    ClientResponseError,
    ClientSession,
    ContentTypeError,
    CookieJar,
    InvalidURL,
    NonHttpUrlClientError,
    ServerTimeoutError,
    TooManyRedirects,
)


async def test_get_json_and_response_attributes(aio_url: URL) -> None:
    async with (
        ClientSession() as session,
        session.get(aio_url / "echo", params={"a": "1", "b": "x y"}) as resp,
    ):
        assert resp.status == 200
        assert resp.reason == "OK"
        assert resp.ok
        assert resp.version == (1, 1)
        assert resp.method == "GET"
        assert resp.content_type == "application/json"
        assert resp.charset == "utf-8"
        assert resp.content_length is not None
        assert resp.url.query == {"a": "1", "b": "x y"}
        assert any(name.lower() == b"content-type" for name, _ in resp.raw_headers)
        data = await resp.json()
    assert data["method"] == "GET"
    assert data["query"] == {"a": "1", "b": "x y"}
    assert data["headers"]["Host"] == f"127.0.0.1:{aio_url.port}"
    assert "heron" in data["headers"]["User-Agent"]
    # What this installation decodes: gzip and deflate always, br and zstd if installed.
    assert data["headers"]["Accept-Encoding"].startswith("gzip, deflate")


async def test_plain_await_then_read_twice(aio_url: URL) -> None:
    async with ClientSession() as session:
        resp = await session.get(aio_url / "text")
        assert await resp.read() == b"plain"
        assert await resp.read() == b"plain"
        assert await resp.text() == "plain"
        resp.release()
        await resp.release()  # aiohttp's old awaitable form still works


async def test_base_url(aio_url: URL) -> None:
    async with ClientSession(str(aio_url) + "/") as session, session.get("echo") as resp:
        assert (await resp.json())["path"] == "/echo"
    with pytest.raises(ValueError):
        ClientSession("http://example.com/no-slash")


@pytest.mark.parametrize(
    ("kwargs", "body", "ctype"),
    [
        ({"data": b"\x00raw"}, "\x00raw", "application/octet-stream"),
        ({"data": "text é"}, "text é".encode().decode("latin-1"), "text/plain; charset=utf-8"),
        ({"data": {"k": "v w", "n": 1}}, "k=v+w&n=1", "application/x-www-form-urlencoded"),
        ({"data": [("a", "1"), ("a", "2")]}, "a=1&a=2", "application/x-www-form-urlencoded"),
        ({"json": {"x": [1, 2]}}, '{"x": [1, 2]}', "application/json"),
        ({"data": "BytesIO"}, "from a file", "application/octet-stream"),
    ],
)
async def test_request_bodies(
    aio_url: URL, kwargs: dict[str, object], body: str, ctype: str
) -> None:
    if kwargs.get("data") == "BytesIO":
        kwargs = {"data": io.BytesIO(b"from a file")}  # a fresh one for each loop
    async with ClientSession() as session, session.post(aio_url / "echo", **kwargs) as resp:
        data = await resp.json()
    assert data["body"] == body
    assert data["headers"]["Content-Type"] == ctype
    assert data["headers"]["Content-Length"] == str(len(body.encode("latin-1")))


async def test_async_iterable_body_is_chunked(aio_url: URL) -> None:
    async def gen() -> AsyncIterator[bytes]:
        for i in range(5):
            yield b"part%d-" % i

    async with ClientSession() as session, session.put(aio_url / "echo", data=gen()) as resp:
        data = await resp.json()
    assert data["method"] == "PUT"
    assert data["body"] == "part0-part1-part2-part3-part4-"
    assert data["headers"]["Transfer-Encoding"] == "chunked"


async def test_forced_chunked_and_expect100(aio_url: URL) -> None:
    async with ClientSession() as session:
        async with session.post(aio_url / "echo", data=b"abc", chunked=True) as resp:
            data = await resp.json()
        assert data["body"] == "abc"
        assert data["headers"]["Transfer-Encoding"] == "chunked"
        async with session.post(aio_url / "echo", data=b"cont", expect100=True) as resp:
            data = await resp.json()
        assert data["body"] == "cont"
        assert data["headers"]["Expect"] == "100-continue"
        with pytest.raises(ValueError, match="chunked"):
            await session.post(
                aio_url / "echo", data=b"x", chunked=True, headers={"Content-Length": "1"}
            )


async def test_data_and_json_together_rejected(aio_url: URL) -> None:
    async with ClientSession() as session:
        with pytest.raises(ValueError):
            await session.post(aio_url / "echo", data=b"x", json={})


async def test_methods(aio_url: URL) -> None:
    async with ClientSession() as session:
        for name in ("get", "post", "put", "patch", "delete", "options"):
            async with getattr(session, name)(aio_url / "echo") as resp:
                assert (await resp.json())["method"] == name.upper()
        async with session.head(aio_url / "echo") as resp:
            assert resp.status == 200
            assert await resp.read() == b""
        # The connection is still usable after a HEAD response with a Content-Length.
        async with session.get(aio_url / "text") as resp:
            assert await resp.text() == "plain"


async def test_invalid_header_values_rejected(aio_url: URL) -> None:
    async with ClientSession() as session:
        with pytest.raises(ValueError, match="Newline"):
            await session.get(aio_url / "echo", headers={"X-Evil": "a\r\nInjected: 1"})
        with pytest.raises(ValueError, match="Invalid header name"):
            await session.get(aio_url / "echo", headers={"Bad Name": "x"})


async def test_invalid_urls() -> None:
    async with ClientSession() as session:
        with pytest.raises(InvalidURL):
            await session.get("/relative/without/base")
        with pytest.raises(NonHttpUrlClientError):
            await session.get("ftp://127.0.0.1/")


async def test_redirects(aio_url: URL) -> None:
    async with ClientSession() as session:
        async with session.post(aio_url / "redirect/302", data=b"body") as resp:
            data = await resp.json()
            assert [r.status for r in resp.history] == [302]
            assert resp.url == aio_url / "echo"
        assert data["method"] == "GET"
        assert data["body"] == ""

        async with session.post(aio_url / "redirect/303", data=b"body") as resp:
            assert (await resp.json())["method"] == "GET"

        for code in (307, 308):
            async with session.post(aio_url / f"redirect/{code}", data=b"keep") as resp:
                data = await resp.json()
            assert (data["method"], data["body"]) == ("POST", "keep")

        async with session.get(aio_url / "redirect/301", allow_redirects=False) as resp:
            assert resp.status == 301
            assert resp.headers["Location"] == "/echo"
            assert resp.history == ()


async def test_too_many_redirects(aio_url: URL) -> None:
    async with ClientSession() as session:
        with pytest.raises(TooManyRedirects) as info:
            await session.get(aio_url / "loop", max_redirects=3)
        assert len(info.value.history) == 3


async def test_cookies_roundtrip_needs_unsafe_for_ip_hosts(aio_url: URL) -> None:
    async with ClientSession() as session:
        async with session.get(aio_url / "set-cookie") as resp:
            assert resp.cookies["token"].value == "abc123"
        assert len(session.cookie_jar) == 0  # an IP host: refused unless unsafe=True
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:
        await (await session.get(aio_url / "set-cookie")).read()
        async with session.get(aio_url / "echo", cookies={"extra": "1"}) as resp:
            data = await resp.json()
    assert data["headers"]["Cookie"] in ("token=abc123; extra=1", "extra=1; token=abc123")


async def test_session_cookies_are_shared(aio_url: URL) -> None:
    async with ClientSession(cookies={"s": "v"}) as session, session.get(aio_url / "echo") as resp:
        assert (await resp.json())["headers"]["Cookie"] == "s=v"


async def test_raise_for_status(aio_url: URL) -> None:
    async with ClientSession(raise_for_status=True) as session:
        with pytest.raises(ClientResponseError) as info:
            await session.get(aio_url / "status/404")
        assert info.value.status == 404
        assert info.value.request_info.url == aio_url / "status/404"
        async with session.get(aio_url / "status/500", raise_for_status=False) as resp:
            assert resp.status == 500
            with pytest.raises(ClientResponseError):
                resp.raise_for_status()

    seen: list[int] = []

    async def check(resp: object) -> None:
        seen.append(getattr(resp, "status", 0))

    async with ClientSession(raise_for_status=check) as session:
        await (await session.get(aio_url / "status/418")).read()
    assert seen == [418]


async def test_json_content_type_check(aio_url: URL) -> None:
    async with ClientSession() as session, session.get(aio_url / "text") as resp:
        with pytest.raises(ContentTypeError):
            await resp.json()
        with pytest.raises(ValueError):
            await resp.json(content_type=None)  # "plain" is not JSON


async def test_gzip_decoding(aio_url: URL) -> None:
    async with ClientSession() as session:
        async with session.get(aio_url / "gzip") as resp:
            assert resp.headers["Content-Encoding"] == "gzip"
            assert await resp.text() == "hello " * 100
        async with session.get(aio_url / "gzip", auto_decompress=False) as resp:
            assert (await resp.read())[:2] == b"\x1f\x8b"


async def test_keep_alive_reuses_one_connection(aio_url: URL) -> None:
    async with ClientSession() as session:
        ports = set()
        for _ in range(3):
            async with session.get(aio_url / "echo") as resp:
                ports.add((await resp.json())["peer_port"])
        assert len(ports) == 1
        assert session.connector is not None
        assert session.connector.idle_count() == 1


async def test_unread_body_is_not_reused(aio_url: URL) -> None:
    async with ClientSession() as session:
        async with session.get(aio_url / "big") as resp:
            assert len(await resp.content.read(10)) == 10
        assert session.connector is not None
        assert session.connector.idle_count() == 0
        async with session.get(aio_url / "big") as resp:
            assert len(await resp.read()) == 1024 * 1024
        assert session.connector.idle_count() == 1


async def test_closed_session() -> None:
    session = ClientSession()
    assert not session.closed
    await session.close()
    assert session.closed
    with pytest.raises(RuntimeError):
        await session.get("http://127.0.0.1/")


async def test_timeout_as_a_number_is_the_total(aio_url: URL, raw_server: Any) -> None:
    # aiohttp's client takes `timeout=1` as ClientTimeout(total=1); so does heron's.
    async with ClientSession() as session:
        async with session.get(aio_url / "text", timeout=5) as resp:
            assert await resp.text() == "plain"
        silent_done = asyncio.Event()

        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            await silent_done.wait()  # never answers

        server = await raw_server(silent)
        with pytest.raises(ServerTimeoutError):
            await session.get(server.url("/"), timeout=0.1)
        silent_done.set()
