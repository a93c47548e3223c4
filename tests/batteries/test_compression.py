"""heron.compression over real sockets: every coding decoded by an independent decoder."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from heron import compression, web
from heron.test_utils import TestClient

brotli = pytest.importorskip("brotli")
zstandard = pytest.importorskip("zstandard")

AiohttpClient = Callable[..., Any]

# JSON of about 64 KiB, repetitive like real API output.
DATA = [{"id": i, "name": f"item {i}", "tags": ["a", "b"], "ok": i % 2 == 0} for i in range(1300)]
BODY = json.dumps(DATA).encode()


def _zstd_decode(data: bytes) -> bytes:
    # A streamed frame has no content size: decode with a bounded reader.
    reader = zstandard.ZstdDecompressor().stream_reader(data)
    return bytes(reader.read(len(BODY) * 4))


DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "deflate": zlib.decompress,
    "br": brotli.decompress,
    "zstd": _zstd_decode,
}


async def _json(request: web.Request) -> web.Response:
    return web.json_response(DATA)


async def _stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    for start in range(0, len(BODY), 5000):
        await response.write(BODY[start : start + 5000])
    await response.write_eof()
    return response


async def _client(aiohttp_client: AiohttpClient, app: web.Application) -> TestClient:
    client: TestClient = await aiohttp_client(app, auto_decompress=False)
    return client


async def _get(client: TestClient, path: str, accept: str | None) -> tuple[Any, bytes]:
    headers = {"Accept-Encoding": accept} if accept is not None else {}
    skip = () if accept is not None else ("Accept-Encoding",)
    async with client.get(path, headers=headers, skip_auto_headers=skip) as resp:
        return resp, await resp.read()


def _app(**options: Any) -> web.Application:
    app = web.Application()
    app.router.add_get("/json", _json)
    app.router.add_get("/stream", _stream)
    compression.setup(app, **options)
    return app


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
@pytest.mark.parametrize("path", ["/json", "/stream"])
async def test_each_coding_decodes(aiohttp_client: AiohttpClient, coding: str, path: str) -> None:
    client = await _client(aiohttp_client, _app())
    resp, raw = await _get(client, path, coding)
    assert resp.status == 200
    assert resp.headers["Content-Encoding"] == coding
    assert resp.headers.getall("Vary") == ["Accept-Encoding"]
    assert DECODERS[coding](raw) == BODY
    assert len(raw) < len(BODY) // 4
    if path == "/json":  # a whole body keeps its length; a stream is chunked
        assert resp.headers["Content-Length"] == str(len(raw))
    else:
        assert resp.headers["Transfer-Encoding"] == "chunked"


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("gzip, deflate, br, zstd", "zstd"),  # equal weights: the server's preference
        ("gzip;q=0.5, br;q=0.9, zstd;q=0.8", "br"),
        ("gzip, br;q=0", "gzip"),
        ("deflate;q=1.0, gzip;q=0.999", "deflate"),
        ("*", "zstd"),
        ("*;q=0.2, zstd;q=0, br;q=0", "gzip"),
        ("x-gzip", "gzip"),
        ("GZIP", "gzip"),
        ("identity", None),
        ("gzip;q=0", None),
        ("gzip;q=0.3, identity;q=0.5", None),
        ("gzip;q=bad", None),
        ("compress", None),
        (None, None),
    ],
)
async def test_negotiation(aiohttp_client: AiohttpClient, accept: str | None, coding: str) -> None:
    client = await _client(aiohttp_client, _app())
    resp, raw = await _get(client, "/json", accept)
    assert resp.headers.get("Content-Encoding") == coding
    # Compressed or not, the body depended on Accept-Encoding.
    assert resp.headers.getall("Vary") == ["Accept-Encoding"]
    decoded = DECODERS[coding](raw) if coding else raw
    assert decoded == BODY


async def test_codings_option_limits_the_offer(aiohttp_client: AiohttpClient) -> None:
    client = await _client(aiohttp_client, _app(codings=("gzip",)))
    resp, raw = await _get(client, "/json", "zstd, br, gzip;q=0.1")
    assert resp.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(raw) == BODY


def test_unknown_coding_is_refused() -> None:
    with pytest.raises(ValueError, match="compress"):
        compression.Compression(codings=("compress",))


async def _skipped(aiohttp_client: AiohttpClient, handler: Any, vary: bool = False) -> None:
    app = web.Application()
    app.router.add_get("/", handler)
    compression.setup(app)
    client = await _client(aiohttp_client, app)
    resp, raw = await _get(client, "/", "gzip, br, zstd")
    assert resp.headers.get("Content-Encoding") in (None, "gzip-not-ours")
    assert ("Accept-Encoding" in resp.headers.getall("Vary", ())) is vary
    assert raw == resp.headers.get("X-Expect", raw.decode("latin-1")).encode("latin-1")


async def test_small_body_is_sent_as_is(aiohttp_client: AiohttpClient) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="x" * 1023, headers={"X-Expect": "x" * 1023})

    await _skipped(aiohttp_client, handler)


async def test_incompressible_type_is_sent_as_is(aiohttp_client: AiohttpClient) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=b"P" * 5000, content_type="image/png")

    await _skipped(aiohttp_client, handler)


async def test_already_encoded_is_not_touched(aiohttp_client: AiohttpClient) -> None:
    async def handler(request: web.Request) -> web.Response:
        headers = {"Content-Encoding": "gzip-not-ours", "Content-Type": "text/plain"}
        return web.Response(body=b"e" * 5000, headers=headers)

    await _skipped(aiohttp_client, handler)


async def test_partial_content_is_not_touched(aiohttp_client: AiohttpClient) -> None:
    async def handler(request: web.Request) -> web.Response:
        headers = {"Content-Range": "bytes 0-4999/9000", "Content-Type": "text/plain"}
        return web.Response(status=206, body=b"r" * 5000, headers=headers)

    await _skipped(aiohttp_client, handler)


async def test_no_transform_is_respected(aiohttp_client: AiohttpClient) -> None:
    async def handler(request: web.Request) -> web.Response:
        headers = {"Cache-Control": "public, no-transform"}
        return web.Response(text="t" * 5000, headers=headers)

    await _skipped(aiohttp_client, handler)


async def test_event_stream_is_never_buffered(aiohttp_client: AiohttpClient) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: " + b"s" * 3000 + b"\n\n")
        return response

    app = web.Application()
    app.router.add_get("/", handler)
    compression.setup(app)
    client = await _client(aiohttp_client, app)
    resp, raw = await _get(client, "/", "gzip")
    assert "Content-Encoding" not in resp.headers
    assert raw.startswith(b"data: sss")


async def test_vary_is_merged_not_duplicated(aiohttp_client: AiohttpClient) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="v" * 5000, headers={"Vary": "Origin, accept-encoding"})

    app = web.Application()
    app.router.add_get("/", handler)
    compression.setup(app)
    client = await _client(aiohttp_client, app)
    resp, raw = await _get(client, "/", "gzip")
    assert resp.headers.getall("Vary") == ["Origin, accept-encoding"]
    assert gzip.decompress(raw) == b"v" * 5000


async def test_strong_etag_is_weakened(aiohttp_client: AiohttpClient) -> None:
    async def handler(request: web.Request) -> web.Response:
        response = web.Response(text="e" * 5000)
        response.etag = "abc"
        return response

    app = web.Application()
    app.router.add_get("/", handler)
    compression.setup(app)
    client = await _client(aiohttp_client, app)
    resp, _ = await _get(client, "/", "br")
    assert resp.headers["ETag"] == 'W/"abc"'
    resp, _ = await _get(client, "/", None)
    assert resp.headers["ETag"] == '"abc"'


async def test_large_body_is_compressed_off_the_loop(aiohttp_client: AiohttpClient) -> None:
    jobs: list[int] = []

    class CountingExecutor(ThreadPoolExecutor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            jobs.append(len(args[0]))
            return super().submit(fn, *args, **kwargs)

    with CountingExecutor(max_workers=1) as executor:
        client = await _client(aiohttp_client, _app(executor_size=60_000, executor=executor))
        resp, raw = await _get(client, "/json", "zstd")
        assert resp.headers["Content-Encoding"] == "zstd"
        assert _zstd_decode(raw) == BODY
        assert jobs == [len(BODY)]
        small = await _client(aiohttp_client, _app(executor_size=len(BODY) + 1, executor=executor))
        _, raw = await _get(small, "/json", "zstd")
        assert _zstd_decode(raw) == BODY
        assert jobs == [len(BODY)]  # below the threshold: compressed on the loop


async def test_sub_application_responses(aiohttp_client: AiohttpClient) -> None:
    sub = web.Application()
    sub.router.add_get("/json", _json)
    app = web.Application()
    app.add_subapp("/api", sub)
    compression.setup(app)
    client = await _client(aiohttp_client, app)
    resp, raw = await _get(client, "/api/json", "br")
    assert resp.headers["Content-Encoding"] == "br"
    assert brotli.decompress(raw) == BODY


async def test_http_exception_body(aiohttp_client: AiohttpClient) -> None:
    async def handler(request: web.Request) -> web.Response:
        raise web.HTTPNotFound(text="missing " * 500)

    app = web.Application()
    app.router.add_get("/", handler)
    compression.setup(app)
    client = await _client(aiohttp_client, app)
    resp, raw = await _get(client, "/", "deflate")
    assert resp.status == 404
    assert zlib.decompress(raw) == b"missing " * 500


async def test_static_files_and_ranges(aiohttp_client: AiohttpClient, tmp_path: Path) -> None:
    script = b"console.log('heron');\n" * 400
    (tmp_path / "app.js").write_bytes(script)
    app = web.Application()
    app.router.add_static("/static", tmp_path)
    compression.setup(app)
    client = await _client(aiohttp_client, app)
    resp, raw = await _get(client, "/static/app.js", "gzip")
    assert resp.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(raw) == script
    headers = {"Accept-Encoding": "gzip", "Range": "bytes=0-9"}
    async with client.get("/static/app.js", headers=headers) as ranged:
        assert ranged.status == 206
        assert "Content-Encoding" not in ranged.headers
        assert await ranged.read() == script[:10]


@pytest.mark.parametrize("coding", ["br", "zstd", "gzip"])
async def test_enable_compression_accepts_new_codings(
    aiohttp_client: AiohttpClient, coding: str
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_compression(web.ContentCoding(coding))
        await response.prepare(request)
        await response.write(BODY[:40_000])  # above the executor threshold
        await response.write(BODY[40_000:])
        return response

    app = web.Application()
    app.router.add_get("/", handler)
    client = await _client(aiohttp_client, app)
    resp, raw = await _get(client, "/", None)
    assert resp.headers["Content-Encoding"] == coding
    assert "Accept-Encoding" in resp.headers["Vary"]
    assert DECODERS[coding](raw) == BODY


async def test_enable_compression_negotiates_q_values(aiohttp_client: AiohttpClient) -> None:
    async def handler(request: web.Request) -> web.Response:
        response = web.Response(body=BODY, content_type="application/json")
        response.enable_compression()
        return response

    app = web.Application()
    app.router.add_get("/", handler)
    client = await _client(aiohttp_client, app)
    resp, raw = await _get(client, "/", "gzip;q=0.2, br")
    assert resp.headers["Content-Encoding"] == "br"
    assert brotli.decompress(raw) == BODY
    resp, raw = await _get(client, "/", "gzip;q=0, deflate;q=0")
    assert "Content-Encoding" not in resp.headers
    assert raw == BODY
