"""Static files stay inside their root, whatever the request target holds.

Each form is sent as raw bytes over a real socket; the answer must be a 4xx (403 or 404,
or 400 when the parser refuses the target itself) and never the content of a file
outside the root. The aiohttp advisories these guard against are named where they apply.
"""

from __future__ import annotations

import os
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


async def test_unreadable_file_is_403(serve: Serve, tree: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    locked = tree / "public" / "locked.txt"
    locked.write_text("x")
    locked.chmod(0)
    port = await serve(_app(tree / "public"))
    assert (await fetch(port, "/static/locked.txt")).status == 403


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
    assert 'href="/static/%3Cscript%3Ealert%281%29%3C/script%3E.txt"' in page
    reply = await fetch(port, "/static/%3Cscript%3Ealert%281%29%3C/script%3E.txt")
    assert reply.status == 200 and reply.body == b"x"


async def test_index_of_a_subdirectory(serve: Serve, tree: Path) -> None:
    port = await serve(_app(tree / "public", show_index=True))
    reply = await fetch(port, "/static/sub/")
    assert reply.status == 200
    assert b"<title>Index of /sub</title>" in reply.body
    assert b'<a href="/static/sub/page.html">page.html</a>' in reply.body
