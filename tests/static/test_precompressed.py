"""Precompressed siblings (file.zst, file.br, file.gz) chosen by Accept-Encoding (RFC 9110
§12.5.3), with Content-Encoding and Vary; a symlinked sibling obeys the file's rules."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from heron import web

from .conftest import Serve, fetch

TEXT = b"console.log('hello');\n" * 50


@pytest.fixture
def assets(tree: Path) -> Path:
    public = tree / "public"
    (public / "app.js").write_bytes(TEXT)
    (public / "app.js.gz").write_bytes(gzip.compress(TEXT))
    (public / "app.js.br").write_bytes(b"BROTLI BYTES")
    (public / "app.js.zst").write_bytes(b"ZSTD BYTES")
    return public


async def _serve(serve: Serve, public: Path, **kwargs: object) -> int:
    app = web.Application()
    app.router.add_static("/static", public, **kwargs)  # type: ignore[arg-type]
    return await serve(app)


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [
        ("gzip", "gzip"),
        ("x-gzip", "gzip"),  # §8.4.1.3: x-gzip is gzip
        ("GZIP", "gzip"),  # codings are case-insensitive (§8.4.1)
        ("gzip, deflate, br", "br"),
        ("gzip, deflate, br, zstd", "zstd"),  # equal weights: the server's preference
        ("zstd;q=0.5, br;q=0.8, gzip;q=0.9", "gzip"),
        ("br;q=1.0, gzip;q=0.5", "br"),
        ("*", "zstd"),
        ("*;q=0.5, br;q=0", "zstd"),
        ("gzip;q=0, br;q=0, zstd;q=0", None),
        ("gzip;q=0.5, identity", None),  # identity weighs more
        ("deflate", None),
        ("", None),
        ("gzip;q=2", None),  # not a qvalue: the element is ignored
        ("gzip;q=0.\u0665", None),  # nor is one with a non-ASCII digit
    ],
)
async def test_sibling_chosen_by_weight(
    serve: Serve, assets: Path, accept: str, encoding: str | None
) -> None:
    port = await _serve(serve, assets)
    reply = await fetch(port, "/static/app.js", [("Accept-Encoding", accept)])
    assert reply.status == 200
    assert reply.header("content-encoding") == encoding
    # The type of the uncompressed file (Python 3.12's mimetypes says text/javascript).
    assert reply.header("content-type") in (
        "application/javascript",
        "text/javascript",
    )
    expected = {
        None: TEXT,
        "gzip": (assets / "app.js.gz").read_bytes(),
        "br": b"BROTLI BYTES",
        "zstd": b"ZSTD BYTES",
    }[encoding]
    assert reply.body == expected
    if encoding is not None:
        assert reply.header("vary") == "Accept-Encoding"
    if encoding == "gzip":
        assert gzip.decompress(reply.body) == TEXT


async def test_sibling_has_its_own_etag_and_304(serve: Serve, assets: Path) -> None:
    # §8.8.3: each representation has its own entity-tag; §15.4.5: 304 repeats Vary.
    port = await _serve(serve, assets)
    plain = await fetch(port, "/static/app.js")
    gz = await fetch(port, "/static/app.js", [("Accept-Encoding", "gzip")])
    assert plain.header("etag") != gz.header("etag")
    reply = await fetch(
        port,
        "/static/app.js",
        [("Accept-Encoding", "gzip"), ("If-None-Match", gz.header("etag") or "")],
    )
    assert reply.status == 304
    assert reply.header("vary") == "Accept-Encoding"
    assert reply.header("content-encoding") == "gzip"
    # The identity tag does not match the gzip representation.
    reply = await fetch(
        port,
        "/static/app.js",
        [("Accept-Encoding", "gzip"), ("If-None-Match", plain.header("etag") or "")],
    )
    assert reply.status == 200


async def test_older_sibling_is_not_served(serve: Serve, assets: Path) -> None:
    os.utime(assets / "app.js.gz", (1_000_000_000, 1_000_000_000))
    port = await _serve(serve, assets)
    reply = await fetch(port, "/static/app.js", [("Accept-Encoding", "gzip")])
    assert reply.header("content-encoding") is None
    assert reply.body == TEXT


async def test_range_of_a_sibling(serve: Serve, assets: Path) -> None:
    port = await _serve(serve, assets)
    reply = await fetch(port, "/static/app.js", [("Accept-Encoding", "br"), ("Range", "bytes=0-5")])
    assert reply.status == 206
    assert reply.body == b"BROTLI"
    assert reply.header("content-range") == "bytes 0-5/12"


async def test_symlinked_sibling_outside_the_root_is_ignored(
    serve: Serve, tree: Path, assets: Path
) -> None:
    # GHSA-jwhx-xcg6-8xhj: aiohttp served a symlinked .gz sibling from outside the root.
    (assets / "app.js.br").unlink()
    (assets / "app.js.br").symlink_to(tree / "secret.txt")
    port = await _serve(serve, assets)
    reply = await fetch(port, "/static/app.js", [("Accept-Encoding", "br")])
    assert reply.status == 200
    assert b"SECRET" not in reply.body
    assert reply.header("content-encoding") is None
    assert reply.body == TEXT


async def test_symlinked_sibling_inside_the_root_is_served(serve: Serve, assets: Path) -> None:
    (assets / "build").mkdir()
    (assets / "build" / "app.js.br").write_bytes(b"BUILT BROTLI")
    (assets / "app.js.br").unlink()
    (assets / "app.js.br").symlink_to(assets / "build" / "app.js.br")
    port = await _serve(serve, assets)
    reply = await fetch(port, "/static/app.js", [("Accept-Encoding", "br")])
    assert reply.header("content-encoding") == "br"
    assert reply.body == b"BUILT BROTLI"


async def test_follow_symlinks_applies_to_siblings_too(
    serve: Serve, tree: Path, assets: Path
) -> None:
    (tree / "outside.br").write_bytes(b"SHARED BROTLI")
    (assets / "app.js.br").unlink()
    (assets / "app.js.br").symlink_to(tree / "outside.br")
    port = await _serve(serve, assets, follow_symlinks=True)
    reply = await fetch(port, "/static/app.js", [("Accept-Encoding", "br")])
    assert reply.header("content-encoding") == "br"
    assert reply.body == b"SHARED BROTLI"


async def test_compressed_file_requested_directly_is_not_content_encoded(
    serve: Serve, assets: Path
) -> None:
    port = await _serve(serve, assets)
    reply = await fetch(port, "/static/app.js.gz", [("Accept-Encoding", "gzip")])
    assert reply.header("content-encoding") is None
    assert reply.header("content-type") == "application/gzip"


async def test_sibling_is_served_without_its_original(serve: Serve, tree: Path) -> None:
    # As aiohttp: a site may ship only app.js.gz; the client that accepts gzip gets it,
    # with the original's type; a client that does not gets 404.
    public = tree / "public"
    (public / "only.js.gz").write_bytes(gzip.compress(TEXT))
    (public / "deep").mkdir()
    (public / "deep" / "only.css.br").write_bytes(b"BROTLI CSS")
    app = web.Application()
    app.router.add_static("/static", public)

    async def direct(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(public / "only.js")

    app.router.add_get("/direct", direct)
    port = await serve(app)
    for target in ("/static/only.js", "/direct"):
        reply = await fetch(port, target, [("Accept-Encoding", "gzip, br")])
        assert reply.status == 200, target
        assert reply.header("content-encoding") == "gzip"
        assert reply.header("content-type") in (
            "application/javascript",
            "text/javascript",
        )
        assert gzip.decompress(reply.body) == TEXT
        for accept in ("br", "identity", ""):
            reply = await fetch(port, target, [("Accept-Encoding", accept)])
            assert reply.status == 404, (target, accept)
    reply = await fetch(port, "/static/deep/only.css", [("Accept-Encoding", "br")])
    assert reply.status == 200
    assert reply.header("content-encoding") == "br"
    assert reply.header("content-type") == "text/css"
    assert reply.body == b"BROTLI CSS"
    reply = await fetch(port, "/static/deep/only.css", [("Accept-Encoding", "br")], method="HEAD")
    assert reply.status == 200 and reply.header("content-length") == "10"
    assert (await fetch(port, "/static/nodir/only.css", [("Accept-Encoding", "br")])).status == 404


async def test_sibling_without_original_still_obeys_the_root(serve: Serve, tree: Path) -> None:
    # A lone sibling that is a symlink out of the root, or one reached through a
    # symlinked directory out of the root, is not served.
    public = tree / "public"
    (public / "leak.txt.gz").symlink_to(tree / "secret.txt")
    outside = tree / "outside"
    outside.mkdir()
    (outside / "x.txt.gz").write_bytes(b"OUTSIDE")
    (public / "linked").symlink_to(outside)
    port = await _serve(serve, public)
    for target in ("/static/leak.txt", "/static/linked/x.txt", "/static/../outside/x.txt"):
        reply = await fetch(port, target, [("Accept-Encoding", "gzip")])
        assert reply.status == 404, target
        assert b"SECRET" not in reply.body and b"OUTSIDE" not in reply.body
