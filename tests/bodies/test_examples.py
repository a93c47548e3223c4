"""aiohttp's "Server Usage" form and upload examples, run with only the import changed.

Senders: aiohttp's client and heron's client, over real sockets.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import aiohttp
import pytest
from multidict import MultiDict

from heron import web
from heron.client import ClientSession
from heron.client.formdata import FormData

MP3 = os.urandom(300_000)  # larger than the in-memory spool threshold


def make_app(spool: Path) -> web.Application:
    async def do_login(request):
        data = await request.post()
        login = data["login"]
        password = data["password"]
        return web.Response(text=f"{login}:{password}")

    async def store_mp3_post(request):
        # WARNING: don't do that if you plan to receive large files!
        data = await request.post()
        mp3 = data["mp3"]
        # .filename contains the name of the file in string format.
        filename = mp3.filename
        # .file contains the actual file data that needs to be stored somewhere.
        mp3_file = data["mp3"].file
        content = mp3_file.read()
        return web.Response(
            body=content,
            headers=MultiDict({"CONTENT-DISPOSITION": f'attachment; filename="{filename}"'}),
        )

    async def store_mp3_multipart(request):
        reader = await request.multipart()
        # /!\ Don't forget to validate your inputs /!\
        # reader.next() will `yield` the fields of your form
        field = await reader.next()
        assert field.name == "name"
        name = await field.read(decode=True)
        field = await reader.next()
        assert field.name == "mp3"
        filename = field.filename
        # You cannot rely on Content-Length if transfer is chunked.
        size = 0
        with open(os.path.join(spool, filename), "wb") as f:
            while True:
                chunk = await field.read_chunk()  # 8192 bytes by default.
                if not chunk:
                    break
                size += len(chunk)
                f.write(chunk)
        return web.Response(text=f"{name.decode()} {filename} sized of {size} successfully stored")

    app = web.Application()
    app.router.add_post("/login", do_login)
    app.router.add_post("/store/mp3", store_mp3_post)
    app.router.add_post("/store/mp3/stream", store_mp3_multipart)
    return app


@pytest.fixture(params=["aiohttp", "heron"])
def sender(request):
    return request.param


def session(kind: str):
    return aiohttp.ClientSession() if kind == "aiohttp" else ClientSession()


def form(kind: str):
    return aiohttp.FormData() if kind == "aiohttp" else FormData()


async def test_login_form(aiohttp_server, sender, tmp_path) -> None:
    server = await aiohttp_server(make_app(tmp_path))
    async with session(sender) as s:
        url = server.make_url("/login")
        async with s.post(url, data={"login": "bob", "password": "s3cr3t é"}) as resp:
            assert resp.status == 200
            assert await resp.text() == "bob:s3cr3t é"
        fd = form(sender)
        fd.add_field("login", "alice")
        fd.add_field("password", "pw", content_type="text/plain")
        async with s.post(url, data=fd) as resp:
            assert resp.status == 200
            assert await resp.text() == "alice:pw"


async def test_mp3_upload_via_post(aiohttp_server, sender, tmp_path) -> None:
    server = await aiohttp_server(make_app(tmp_path))
    fd = form(sender)
    fd.add_field("mp3", io.BytesIO(MP3), filename="song.mp3", content_type="audio/mpeg")
    async with session(sender) as s, s.post(server.make_url("/store/mp3"), data=fd) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Disposition"] == 'attachment; filename="song.mp3"'
        assert await resp.read() == MP3


async def test_mp3_upload_via_multipart_read_chunk(aiohttp_server, sender, tmp_path) -> None:
    server = await aiohttp_server(make_app(tmp_path))
    fd = form(sender)
    fd.add_field("name", "My song")
    fd.add_field("mp3", io.BytesIO(MP3), filename="song.mp3", content_type="audio/mpeg")
    url = server.make_url("/store/mp3/stream")
    async with session(sender) as s, s.post(url, data=fd) as resp:
        assert resp.status == 200
        assert await resp.text() == f"My song song.mp3 sized of {len(MP3)} successfully stored"
    assert (tmp_path / "song.mp3").read_bytes() == MP3
