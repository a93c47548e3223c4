"""Static files stay inside their root, whatever the request target holds.

Each form is sent as raw bytes over a real socket; the answer must be a 4xx (403 or 404,
or 400 when the parser refuses the target itself) and never the content of a file
outside the root. The aiohttp advisories these guard against are named where they apply.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import traceback
from pathlib import Path

import pytest

from heron import web

from .conftest import Serve, fetch

SECRET = b"TOP SECRET"

TRAVERSALS = [
    "/static/../secret.txt",
    "/static/sub/../../secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E/secret.txt",
    "/static/..%2fsecret.txt",
    "/static/..%2Fsecret.txt",
    "/static/%2e%2e%2fsecret.txt",
    "/static/sub%2f..%2f..%2fsecret.txt",
    "/static/..%5csecret.txt",
    "/static/sub%5c..%5c..%5csecret.txt",
    "/static/%252e%252e%252fsecret.txt",  # double encoding
    "/static/%c0%ae%c0%ae/secret.txt",  # overlong UTF-8 dots
    "/static/.%2e/secret.txt",
    "/static/hello.txt%00",
    "/static/%00../secret.txt",
    "/static//etc/passwd",  # absolute after the prefix
    "/static/%2fetc%2fpasswd",
    "/static/%2F%2Fserver%2Fshare%2Fsecret.txt",  # UNC
    "/static/%5c%5cserver%5cshare%5csecret.txt",  # UNC with backslashes
    "/static/C:%5cWindows%5cwin.ini",  # Windows drive
    "/static/C:/Windows/win.ini",
    "/static/c:secret.txt",
]


def _app(root: Path, **kwargs: object) -> web.Application:
    app = web.Application()
    app.router.add_static("/static", root, **kwargs)  # type: ignore[arg-type]
    return app


@pytest.mark.parametrize("follow_symlinks", [False, True])
async def test_traversal_forms_never_leave_the_root(
    serve: Serve, tree: Path, follow_symlinks: bool
) -> None:
    # GHSA-5h86-8mv2-jq9f: with follow_symlinks=True, ".." escaped the root in aiohttp.
    port = await serve(_app(tree / "public", follow_symlinks=follow_symlinks))
    for target in TRAVERSALS:
        reply = await fetch(port, target)
        assert reply.status in (400, 403, 404), (target, reply.status)
        assert SECRET not in reply.body, target


async def test_raw_backslash_and_absolute_form_targets(serve: Serve, tree: Path) -> None:
    port = await serve(_app(tree / "public"))
    for target in (
        b"/static/..\\secret.txt",
        b"/static/\\\\server\\share\\secret.txt",
        b"http://test/static/../secret.txt",
        b"/static/.." + "\u2215".encode() + b"secret.txt",  # a "division slash"
    ):
        reply = await fetch(port, target)
        assert reply.status in (400, 403, 404), (target, reply.status)
        assert SECRET not in reply.body


async def test_dotdot_that_stays_inside_is_resolved_lexically(serve: Serve, tree: Path) -> None:
    port = await serve(_app(tree / "public"))
    reply = await fetch(port, "/static/sub/../hello.txt")
    assert reply.status == 200
    assert reply.body == b"hello, world\n"


async def test_symlink_out_of_the_root_is_refused(serve: Serve, tree: Path) -> None:
    public = tree / "public"
    (public / "leak.txt").symlink_to(tree / "secret.txt")
    (public / "leakdir").symlink_to(tree)
    port = await serve(_app(public, show_index=True))
    for target in ("/static/leak.txt", "/static/leakdir/secret.txt", "/static/leakdir/"):
        reply = await fetch(port, target)
        assert reply.status == 404, target
        assert SECRET not in reply.body
    # ...and the index page does not advertise what it would not serve.
    index = await fetch(port, "/static/")
    assert index.status == 200
    assert b"leak" not in index.body


async def test_symlink_inside_the_root_is_served(serve: Serve, tree: Path) -> None:
    public = tree / "public"
    (public / "alias.txt").symlink_to(public / "hello.txt")
    port = await serve(_app(public))
    reply = await fetch(port, "/static/alias.txt")
    assert reply.status == 200
    assert reply.body == b"hello, world\n"


async def test_follow_symlinks_lets_links_point_out(serve: Serve, tree: Path) -> None:
    public = tree / "public"
    (public / "shared").symlink_to(tree)
    port = await serve(_app(public, follow_symlinks=True))
    reply = await fetch(port, "/static/shared/secret.txt")
    assert reply.status == 200
    assert reply.body == SECRET + b"\n"
    # The link may be followed; ".." still may not climb out of the root.
    reply = await fetch(port, "/static/shared/../../secret.txt")
    assert reply.status == 404


async def test_symlink_loop_is_404(serve: Serve, tree: Path) -> None:
    public = tree / "public"
    (public / "loop").symlink_to(public / "loop")
    port = await serve(_app(public))
    assert (await fetch(port, "/static/loop")).status == 404


async def test_directory_is_403_without_show_index(serve: Serve, tree: Path) -> None:
    port = await serve(_app(tree / "public"))
    for target in ("/static/sub", "/static/sub/", "/static/", "/static"):
        reply = await fetch(port, target)
        assert reply.status == 403, target


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
async def test_fifo_is_403_and_does_not_hang(serve: Serve, tree: Path) -> None:
    os.mkfifo(tree / "public" / "pipe")
    port = await serve(_app(tree / "public"))
    assert (await fetch(port, "/static/pipe")).status == 403


_UNREADABLE_TARGETS = [
    ("GET", "/static/locked.txt"),
    ("HEAD", "/static/locked.txt"),
    ("GET", "/static/empty.txt"),
    ("GET", "/direct"),
    ("HEAD", "/direct"),
    ("GET", "/static/closed"),
    ("GET", "/static/closed/"),
    ("GET", "/static/closed/inner.txt"),
]


async def _ask_unreadable(root: Path) -> dict[str, tuple[int, bool]]:
    app = web.Application()
    app.router.add_static("/static", root, show_index=True)

    async def direct(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(root / "locked.txt")

    app.router.add_get("/direct", direct)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    answers = {}
    try:
        for method, target in _UNREADABLE_TARGETS:
            reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
            writer.write(
                f"{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode()
            )
            raw = await reader.read()
            writer.close()
            answers[f"{method} {target}"] = (int(raw.split(b" ", 2)[1]), b"secret" in raw)
    finally:
        await runner.cleanup()
    return answers


def _as_nobody(root: Path) -> dict[str, tuple[int, bool]]:
    """Root reads everything: answer the requests in a forked child that is nobody."""
    read_end, write_end = os.pipe()
    pid = os.fork()  # from a thread without an event loop; the child only runs asyncio
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            result = asyncio.run(_ask_unreadable(root))
            os.write(write_end, json.dumps(result).encode())
            code = 0
        except BaseException:
            os.write(write_end, traceback.format_exc().encode())
        finally:
            os._exit(code)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    output = b"".join(chunks).decode()
    assert status == 0, output
    return {key: (value[0], value[1]) for key, value in json.loads(output).items()}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
async def test_unreadable_files_and_directories_are_403() -> None:
    # As aiohttp: what the server may not read is a 403, whether the file is sent, only
    # described (HEAD, an empty file) or listed.
    top = Path(tempfile.mkdtemp())  # not under pytest's private tmp_path: nobody reads it
    top.chmod(0o755)
    root = top / "root"
    root.mkdir()
    (root / "locked.txt").write_text("secret")
    (root / "empty.txt").write_text("")
    (root / "closed").mkdir()
    (root / "closed" / "inner.txt").write_text("secret")
    for path in (root / "locked.txt", root / "empty.txt", root / "closed"):
        path.chmod(0)
    try:
        if os.geteuid() == 0:
            answers = await asyncio.to_thread(_as_nobody, root)
        else:
            answers = await _ask_unreadable(root)
    finally:
        (root / "closed").chmod(0o700)
        shutil.rmtree(top)
    for method, target in _UNREADABLE_TARGETS:
        status, leaked = answers[f"{method} {target}"]
        assert status == 403, (method, target)
        assert not leaked


async def test_missing_file_is_404(serve: Serve, tree: Path) -> None:
    port = await serve(_app(tree / "public"))
    for target in ("/static/nope.txt", "/static/hello.txt/x", "/static/" + "a" * 300):
        assert (await fetch(port, target)).status == 404, target


async def test_index_page_escapes_sorts_and_hides(serve: Serve, tree: Path) -> None:
    # GHSA-7gpw-8wmc-pm8g: names in the index page were not HTML-escaped in aiohttp.
    # "/" cannot be part of a file name, so <script>alert(1)</script>.txt is a file
    # "script>.txt" in a directory "<script>alert(1)<": both index pages are checked.
    public = tree / "public"
    (public / "<script>alert(1)<").mkdir()
    (public / "<script>alert(1)<" / "script>.txt").write_text("x")
    (public / "<img src=x onerror=alert(2)>.txt").write_text("x")
    (public / 'q"uote&amp.txt').write_text("x")
    (public / ".hidden").write_text("x")
    (public / ".git").mkdir()
    port = await serve(_app(public, show_index=True))
    reply = await fetch(port, "/static/")
    assert reply.status == 200
    assert reply.header("content-type") == "text/html; charset=utf-8"
    page = reply.body.decode()
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/" in page
    assert "&lt;img src=x onerror=alert(2)&gt;.txt" in page
    assert 'q"uote' not in page and "q&quot;uote&amp;amp.txt" in page
    assert ".hidden" not in page and ".git" not in page
    names = [
        line.split(">", 2)[2].rsplit("</a>", 1)[0] for line in page.splitlines() if "<li>" in line
    ]
    assert names == sorted(names)
    assert "sub/" in names

    reply = await fetch(port, "/static/%3Cscript%3Ealert%281%29%3C/")
    assert reply.status == 200
    page = reply.body.decode()
    assert "<script>" not in page
    assert "<title>Index of /&lt;script&gt;alert(1)&lt;</title>" in page
    assert "script&gt;.txt</a>" in page
    # The link is percent-encoded and leads to the file.
    assert 'href="/static/%3Cscript%3Ealert(1)%3C/script%3E.txt"' in page
    reply = await fetch(port, "/static/%3Cscript%3Ealert%281%29%3C/script%3E.txt")
    assert reply.status == 200 and reply.body == b"x"


async def test_index_page_is_aiohttps_format(serve: Serve, tree: Path) -> None:
    # aiohttp's page byte for byte: the root is "/.", links are percent-encoded as yarl
    # does (sub-delimiters kept), directories are labelled with a slash, linked without.
    public = tree / "public"
    (public / "a b=c(1).txt").write_text("x")
    app = web.Application()
    app.router.add_static("/", public, show_index=True)
    port = await serve(app)
    reply = await fetch(port, "/")
    assert reply.body == (
        b"<html>\n<head>\n<title>Index of /.</title>\n</head>\n<body>\n"
        b"<h1>Index of /.</h1>\n<ul>\n"
        b'<li><a href="/a%20b=c(1).txt">a b=c(1).txt</a></li>\n'
        b'<li><a href="/data.bin">data.bin</a></li>\n'
        b'<li><a href="/hello.txt">hello.txt</a></li>\n'
        b'<li><a href="/sub">sub/</a></li>\n'
        b"</ul>\n</body>\n</html>"
    )
    assert (await fetch(port, "/a%20b=c(1).txt")).body == b"x"
    assert (await fetch(port, "/sub")).status == 200


async def test_index_of_a_subdirectory(serve: Serve, tree: Path) -> None:
    port = await serve(_app(tree / "public", show_index=True))
    reply = await fetch(port, "/static/sub/")
    assert reply.status == 200
    assert b"<title>Index of /sub</title>" in reply.body
    assert b'<a href="/static/sub/page.html">page.html</a>' in reply.body
