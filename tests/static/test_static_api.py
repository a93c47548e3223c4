"""add_static / web.static / StaticResource: aiohttp's API, checked against aiohttp itself."""

from __future__ import annotations

import hashlib
from pathlib import Path

import aiohttp.web
import pytest

from heron import web
from heron._web.static import StaticResource

from .conftest import Serve, fetch


def test_url_for_and_version_hash_match_aiohttp(tree: Path) -> None:
    public = tree / "public"
    ours = web.Application().router.add_static("/st", public, name="st", append_version=True)
    theirs = aiohttp.web.Application().router.add_static("/st", public, append_version=True)
    for filename in ("hello.txt", "sub/page.html", "/hello.txt", "a b%.txt", "missing.txt"):
        assert str(ours.url_for(filename=filename)) == str(theirs.url_for(filename=filename))
        assert str(ours.url_for(filename=filename, append_version=False)) == str(
            theirs.url_for(filename=filename, append_version=False)
        )
    assert ours.url_for(filename="hello.txt").query["v"]
    # Outside the root: no version, never a hash of the file.
    assert "v" not in ours.url_for(filename="../secret.txt").query


def test_version_is_recomputed_when_the_file_changes(tree: Path) -> None:
    public = tree / "public"
    resource = web.Application().router.add_static("/st", public, append_version=True)
    first = resource.url_for(filename="hello.txt").query["v"]
    assert resource.url_for(filename="hello.txt").query["v"] == first  # cached
    (public / "hello.txt").write_text("a new version, longer\n")
    assert resource.url_for(filename="hello.txt").query["v"] != first


def test_resource_introspection(tree: Path) -> None:
    public = tree / "public"
    router = web.Application().router
    resource = router.add_static("/st/", public, name="assets")
    assert isinstance(resource, StaticResource)
    assert router["assets"] is resource
    assert resource.canonical == "/st"
    info = resource.get_info()
    assert info["directory"] == public.resolve() and info["prefix"] == "/st"
    assert sorted(info["routes"]) == ["GET", "HEAD"]
    assert len(resource) == 2 and {r.method for r in resource} == {"GET", "HEAD"}
    with pytest.raises(ValueError):
        router.add_static("/x", tree / "nope")
    with pytest.raises(ValueError):
        router.add_static("/y", public / "hello.txt")
    with pytest.raises(ValueError):
        router.add_static("no-slash", public)


async def test_route_table_static_and_methods(serve: Serve, tree: Path) -> None:
    routes = web.RouteTableDef()
    routes.static("/assets", tree / "public", name="assets")

    async def options(request: web.Request) -> web.StreamResponse:
        return web.Response(text="options!")

    app = web.Application()
    app.add_routes(routes)
    app.add_routes([web.static("/more", tree / "public" / "sub")])
    app.router["assets"].set_options_route(options)  # type: ignore[attr-defined]
    port = await serve(app)
    assert (await fetch(port, "/assets/hello.txt")).body == b"hello, world\n"
    assert (await fetch(port, "/more/page.html")).body == b"<p>sub</p>\n"
    reply = await fetch(port, "/assets/hello.txt", method="POST")
    assert reply.status == 405
    assert set((reply.header("allow") or "").replace(" ", "").split(",")) == {
        "GET",
        "HEAD",
        "OPTIONS",
    }
    assert (await fetch(port, "/assets/hello.txt", method="OPTIONS")).body == b"options!"
    assert (await fetch(port, "/assetsx/hello.txt")).status == 404


async def test_root_prefix_and_sub_application(serve: Serve, tree: Path) -> None:
    sub = web.Application()
    sub.router.add_static("/files", tree / "public")
    app = web.Application()

    async def hello(request: web.Request) -> web.StreamResponse:
        return web.Response(text="route")

    app.router.add_get("/route", hello)
    app.add_subapp("/sub", sub)
    app.router.add_static("/", tree / "public" / "sub")
    port = await serve(app)
    assert (await fetch(port, "/sub/files/hello.txt")).body == b"hello, world\n"
    assert (await fetch(port, "/page.html")).body == b"<p>sub</p>\n"
    assert (await fetch(port, "/route")).body == b"route"


@pytest.mark.parametrize("target", ["/st/hello.txt", "/st/data.bin", "/st/sub/page.html"])
async def test_same_answers_as_aiohttp(serve: Serve, tree: Path, target: str) -> None:
    # The same directory served by aiohttp.web and heron.web: status, body, type, validators.
    public = tree / "public"
    theirs_app = aiohttp.web.Application()
    theirs_app.router.add_static("/st", public)
    runner = aiohttp.web.AppRunner(theirs_app, access_log=None)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        theirs_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ours_app = web.Application()
        ours_app.router.add_static("/st", public)
        ours_port = await serve(ours_app)
        for headers in ([], [("Range", "bytes=3-7")], [("Range", "bytes=-2")]):
            a = await fetch(theirs_port, target, headers)
            b = await fetch(ours_port, target, headers)
            assert (a.status, a.body) == (b.status, b.body), headers
            for name in ("etag", "content-range", "content-length", "accept-ranges"):
                assert a.header(name) == b.header(name), name
            assert (a.header("content-type") or "").split(";")[0] == (
                b.header("content-type") or ""
            ).split(";")[0]
            etag = b.header("etag") or ""
            a = await fetch(theirs_port, target, [("If-None-Match", etag)])
            b = await fetch(ours_port, target, [("If-None-Match", etag)])
            assert a.status == b.status == 304
    finally:
        await runner.cleanup()


@pytest.mark.slow
async def test_download_256_mib(serve: Serve, tree: Path) -> None:
    path = tree / "public" / "large.bin"
    digest = hashlib.sha256()
    block = hashlib.sha256(b"seed").digest() * (1 << 15)  # 1 MiB of varied bytes
    with path.open("wb") as f:
        for i in range(256):
            chunk = bytes([i]) + block[1:]
            f.write(chunk)
            digest.update(chunk)
    app = web.Application()
    app.router.add_static("/static", tree / "public")
    port = await serve(app)
    reply = await fetch(port, "/static/large.bin")
    assert reply.status == 200
    assert reply.header("content-length") == str(256 * 1024 * 1024)
    assert hashlib.sha256(reply.body).hexdigest() == digest.hexdigest()
