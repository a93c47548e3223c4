"""FileResponse over real sockets: zero-copy and chunked sending, HEAD, keep-alive,
timeouts, headers, compression, and the Content-Disposition helper."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import h11
import pytest

from heron import web
from heron._web.fileresponse import FileResponse, content_disposition

from .conftest import Serve, fetch, read_reply

BIG = 3 * 1024 * 1024 + 123  # past the small-file path and one sendfile window


@pytest.fixture
def big(tree: Path) -> tuple[Path, str]:
    path = tree / "public" / "big.bin"
    data = os.urandom(BIG)
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def _file_app(path: Path, **kwargs: object) -> web.Application:
    app = web.Application()

    async def handler(request: web.Request) -> web.StreamResponse:
        return FileResponse(path, **kwargs)  # type: ignore[arg-type]

    app.router.add_get("/f", handler)
    return app


async def test_large_file_zero_copy(serve: Serve, big: tuple[Path, str]) -> None:
    path, digest = big
    port = await serve(_file_app(path))
    reply = await fetch(port, "/f")
    assert reply.status == 200
    assert reply.header("content-length") == str(BIG)
    assert hashlib.sha256(reply.body).hexdigest() == digest


async def test_large_file_chunked_fallback(
    serve: Serve, big: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERON_NOSENDFILE", "1")
    path, digest = big
    port = await serve(_file_app(path, chunk_size=100_000))
    reply = await fetch(port, "/f")
    assert reply.status == 200
    assert hashlib.sha256(reply.body).hexdigest() == digest
    monkeypatch.delenv("HERON_NOSENDFILE")
    monkeypatch.setenv("AIOHTTP_NOSENDFILE", "1")
    reply = await fetch(port, "/f", [("Range", "bytes=1000-")])
    assert reply.status == 206
    assert reply.body == path.read_bytes()[1000:]


@pytest.fixture(scope="session")
def tls_contexts(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    client.check_hostname = False
    return server, client


async def test_tls_uses_chunked_reads(
    serve: Serve, big: tuple[Path, str], tls_contexts: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    path, digest = big
    server_ctx, client_ctx = tls_contexts
    port = await serve(_file_app(path), ssl_context=server_ctx)
    reply = await fetch(port, "/f", ssl_context=client_ctx)
    assert reply.status == 200
    assert hashlib.sha256(reply.body).hexdigest() == digest


async def test_head_sends_headers_only(serve: Serve, big: tuple[Path, str]) -> None:
    path, _ = big
    port = await serve(_file_app(path))
    reply = await fetch(port, "/f", method="HEAD")
    assert reply.status == 200
    assert reply.header("content-length") == str(BIG)
    assert reply.header("etag") is not None
    assert reply.body == b""


async def test_keep_alive_after_zero_copy_and_small_files(
    serve: Serve, big: tuple[Path, str], tree: Path
) -> None:
    # Three pipelined requests on one connection: the bytes of each response stay in order.
    _, digest = big
    app = web.Application()
    app.router.add_static("/static", tree / "public")
    port = await serve(app)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    conn = h11.Connection(h11.CLIENT)
    requests = [
        ("GET", "/static/big.bin"),
        ("GET", "/static/hello.txt"),
        ("HEAD", "/static/big.bin"),
    ]
    writer.write(b"".join(f"{m} {t} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for m, t in requests))
    replies = []
    for method, _ in requests:
        if conn.our_state is h11.DONE:
            conn.start_next_cycle()
        conn.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
        conn.send(h11.EndOfMessage())
        replies.append(await read_reply(reader, conn, method))
    writer.close()
    assert hashlib.sha256(replies[0].body).hexdigest() == digest
    assert replies[1].body == b"hello, world\n"
    assert replies[2].status == 200 and replies[2].body == b""


async def test_peer_that_stops_reading_is_dropped(serve: Serve, tree: Path) -> None:
    # Every wait has a bound: a client that never reads is disconnected after write_timeout.
    path = tree / "public" / "huge.bin"
    with path.open("wb") as f:
        f.truncate(256 * 1024 * 1024)  # sparse: cheap to make
    outcome: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    async def handler(request: web.Request) -> web.StreamResponse:
        response = FileResponse(path)
        try:
            await response.prepare(request)
        except BaseException as exc:
            outcome.set_result(exc)
            raise
        outcome.set_result(None)
        return response

    app = web.Application()
    app.router.add_get("/f", handler)
    port = await serve(app, write_timeout=0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    writer.write(b"GET /f HTTP/1.1\r\nHost: x\r\n\r\n")
    # Read nothing until the server gives up on us (bounded by the test's own timeout).
    error = await asyncio.wait_for(outcome, 20)
    assert isinstance(error, (asyncio.TimeoutError, ConnectionError)), error
    received = 0
    try:
        while chunk := await asyncio.wait_for(reader.read(1 << 20), 10):
            received += len(chunk)
    except ConnectionResetError:
        pass
    writer.close()
    assert received < 256 * 1024 * 1024


async def test_headers_status_and_content_type(serve: Serve, tree: Path) -> None:
    app = web.Application()
    path = tree / "public" / "hello.txt"

    async def custom(request: web.Request) -> web.StreamResponse:
        return FileResponse(
            path,
            status=203,
            reason="Borrowed",
            headers={"Content-Type": "text/x-custom", "Cache-Control": "max-age=60"},
        )

    async def download(request: web.Request) -> web.StreamResponse:
        response = FileResponse(path)
        response.headers["Content-Disposition"] = content_disposition('résumé "final".txt')
        return response

    async def prepared(request: web.Request) -> web.StreamResponse:
        response = FileResponse(path)
        await response.prepare(request)
        return response

    app.router.add_get("/custom", custom)
    app.router.add_get("/download", download)
    app.router.add_get("/prepared", prepared)

    async def missing(request: web.Request) -> web.StreamResponse:
        return FileResponse(tree / "nope")

    async def directory(request: web.Request) -> web.StreamResponse:
        return FileResponse(tree)

    app.router.add_get("/missing", missing)
    app.router.add_get("/dir", directory)
    port = await serve(app)

    reply = await fetch(port, "/custom")
    assert (reply.status, reply.header("content-type")) == (203, "text/x-custom")
    assert reply.header("cache-control") == "max-age=60"
    assert reply.body == b"hello, world\n"

    reply = await fetch(port, "/download")
    assert reply.header("content-disposition") == (
        'attachment; filename="r_sum_ \\"final\\".txt"; '
        "filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.txt"
    )
    assert (await fetch(port, "/prepared")).body == b"hello, world\n"
    reply = await fetch(port, "/missing")
    assert (reply.status, reply.body) == (404, b"")
    assert (await fetch(port, "/dir")).status == 403


def test_content_disposition_cannot_split_headers() -> None:
    value = content_disposition("a\r\nSet-Cookie: x=1.txt", "inline")
    assert "\r" not in value and "\n" not in value
    assert value == 'inline; filename="aSet-Cookie: x=1.txt"'
    with pytest.raises(ValueError):
        content_disposition("a.txt", "attachment\r\nX: y")


async def test_enable_compression(serve: Serve, big: tuple[Path, str]) -> None:
    path, digest = big
    app = web.Application()

    async def handler(request: web.Request) -> web.StreamResponse:
        response = FileResponse(path)
        response.enable_compression()
        return response

    app.router.add_get("/f", handler)
    port = await serve(app)
    reply = await fetch(port, "/f", [("Accept-Encoding", "gzip")])
    assert reply.header("content-encoding") == "gzip"
    assert hashlib.sha256(gzip.decompress(reply.body)).hexdigest() == digest


@pytest.mark.parametrize("sendfile", [True, False], ids=["sendfile", "no_sendfile"])
@pytest.mark.parametrize("force", [None, web.ContentCoding.gzip], ids=["negotiated", "forced"])
async def test_enable_compression_serves_a_sibling_as_it_is(
    serve: Serve,
    tree: Path,
    monkeypatch: pytest.MonkeyPatch,
    sendfile: bool,
    force: web.ContentCoding | None,
) -> None:
    # Only notes.txt.gz exists: served as gzip, never compressed a second time, with the
    # type of notes.txt and no charset (as aiohttp sends it).
    if not sendfile:
        monkeypatch.setenv("HERON_NOSENDFILE", "1")
    text = b"Hello, compressed world!\n" * 10
    (tree / "public" / "notes.txt.gz").write_bytes(gzip.compress(text))
    app = web.Application()

    async def handler(request: web.Request) -> web.StreamResponse:
        response = FileResponse(tree / "public" / "notes.txt")
        response.enable_compression(force)
        return response

    app.router.add_get("/f", handler)
    port = await serve(app)
    reply = await fetch(port, "/f", [("Accept-Encoding", "gzip, deflate")])
    assert reply.status == 200
    assert reply.header("content-encoding") == "gzip"
    assert reply.header("content-type") == "text/plain"
    assert gzip.decompress(reply.body) == text


async def test_prepare_signal_sees_file_headers(serve: Serve, tree: Path) -> None:
    seen: list[str | None] = []

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        seen.append(response.headers.get("ETag"))
        response.headers["X-Seen"] = "1"

    app = web.Application()
    app.on_response_prepare.append(on_prepare)
    app.router.add_static("/static", tree / "public")
    port = await serve(app)
    reply = await fetch(port, "/static/hello.txt")
    assert reply.header("x-seen") == "1"
    assert seen == [reply.header("etag")]
