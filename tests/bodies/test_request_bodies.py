"""Request bodies over real sockets: read/text/json, forms, multipart, limits, decoding."""

from __future__ import annotations

import base64
import gzip
import json
import os
import zlib

import aiohttp
import pytest

from heron import web
from heron._proto.decoding import CONTENT_CODINGS
from heron._web.bodies import json_body
from heron._web.multipart import BodyPartReader, MultipartReader

from .conftest import raw_post

B = "b0undary"
CT = f"Content-Type: multipart/form-data; boundary={B}"
LATIN1 = "Content-Type: text/plain; charset=latin-1"
FORM_GZ = "Content-Type: application/x-www-form-urlencoded\r\nContent-Encoding: gzip"


def mp_body(*parts: tuple[str, bytes]) -> bytes:
    out = b""
    for headers, data in parts:
        out += f"--{B}\r\n{headers}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{B}--\r\n".encode()


def field(name: str, extra: str = "") -> str:
    return f'Content-Disposition: form-data; name="{name}"{extra}'


async def echo_post(request: web.Request) -> web.Response:
    data = await request.post()
    out = {}
    for k, v in data.items():
        if isinstance(v, web.FileField):
            out[k] = [v.filename, v.content_type, v.file.read().decode("latin-1")]
        elif isinstance(v, (bytes, bytearray)):
            out[k] = ["bytes", bytes(v).decode("latin-1")]
        else:
            out[k] = v
    return web.json_response(out)


async def echo_read(request: web.Request) -> web.Response:
    return web.Response(body=await request.read())


async def serve(aiohttp_server, **app_kwargs):
    app = web.Application(**app_kwargs)
    app.router.add_post("/post", echo_post)
    app.router.add_post("/read", echo_read)

    async def text(request):
        return web.Response(text=repr(await request.text()))

    async def jsn(request):
        return web.json_response(await json_body(request))

    async def raw_json(request):
        try:
            await request.json()
        except json.JSONDecodeError as exc:
            return web.Response(text=f"raised {type(exc).__name__}")
        return web.Response(text="no error")

    async def stream(request):
        total = 0
        async for chunk in request.content.iter_chunked(1000):
            assert len(chunk) <= 1000
            total += len(chunk)
        return web.Response(text=str(total))

    async def release(request):
        await request.release()
        return web.Response(text=str(request.can_read_body))

    async def parts(request):
        reader = await request.multipart()
        out = []
        async for part in reader:
            if isinstance(part, MultipartReader):
                out.append(["nested", [await p.text() async for p in part]])
            else:
                assert isinstance(part, BodyPartReader)
                out.append([part.name, part.filename, await part.text()])
        return web.json_response(out)

    for path, handler in [("/text", text), ("/json", jsn), ("/rawjson", raw_json)]:
        app.router.add_post(path, handler)
    for path, handler in [("/stream", stream), ("/release", release), ("/parts", parts)]:
        app.router.add_post(path, handler)
    return await aiohttp_server(app)


# ---------------------------------------------------------------------- read / text / json


async def test_text_uses_charset(aiohttp_server) -> None:
    server = await serve(aiohttp_server)
    body = "héllo".encode("latin-1")
    head = f"POST /text HTTP/1.1\r\nHost: x\r\n{LATIN1}\r\nContent-Length: {len(body)}"
    assert await raw_post(server.port, head, body) == (200, "'héllo'".encode())
    body = "héllo".encode()
    head = f"POST /text HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}"
    assert await raw_post(server.port, head, body) == (200, "'héllo'".encode())


async def test_json_helper_turns_bad_json_into_400(aiohttp_server) -> None:
    server = await serve(aiohttp_server)
    async with aiohttp.ClientSession() as s:
        async with s.post(server.make_url("/json"), json={"a": [1, 2]}) as resp:
            assert resp.status == 200
            assert await resp.json() == {"a": [1, 2]}
        async with s.post(server.make_url("/json"), data=b"{nope") as resp:
            assert resp.status == 400
            assert (await resp.text()).startswith("Invalid JSON body: Expecting property name")
        async with s.post(server.make_url("/rawjson"), data=b"{nope") as resp:
            assert await resp.text() == "raised JSONDecodeError"


async def test_undecodable_body_the_handler_lets_out_is_a_400(aiohttp_server, caplog) -> None:
    # aiohttp answers 500 and logs a server error; the client sent the bad bytes.
    app = web.Application()

    async def text(request):
        return web.Response(text=await request.text())

    async def jsn(request):
        return web.json_response(await request.json())

    async def own_error(request):
        try:
            await request.json()
        except ValueError:
            raise ValueError("the handler's own error") from None

    async def own_json(request):
        return web.json_response(json.loads("{nope"))

    for path, handler in [("/text", text), ("/json", jsn)]:
        app.router.add_post(path, handler)
    for path, handler in [("/own-error", own_error), ("/own-json", own_json)]:
        app.router.add_post(path, handler)
    server = await aiohttp_server(app)
    cases = [
        ("/text", b"\xff\xfe", 400, b"Request body is not utf-8 text"),
        ("/json", b"\xff", 400, b"Request body is not utf-8 text"),
        ("/own-error", b"{nope", 500, b"500 Internal Server Error"),
        ("/own-json", b"{}", 500, b"500 Internal Server Error"),
    ]
    for path, body, status, reason in cases:
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}"
        got_status, got_body = await raw_post(server.port, head, body)
        assert (got_status, got_body[: len(reason)]) == (status, reason), path
    errors = [r for r in caplog.records if r.getMessage().startswith("Error handling request")]
    assert len(errors) == 2  # the two 500s only


async def test_unhandled_json_error_is_a_400_with_the_decoder_reason(aiohttp_server) -> None:
    app = web.Application()

    async def plain(request):
        return web.json_response(await request.json())

    async def custom(request):
        def loads(text):
            raise ValueError(f"custom decoder refused {len(text)} chars")

        return web.json_response(await request.json(loads=loads))

    app.router.add_post("/plain", plain)
    app.router.add_post("/custom", custom)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as s:
        async with s.post(server.make_url("/plain"), data=b"{nope") as resp:
            assert resp.status == 400
            assert (await resp.text()).startswith("Invalid JSON body: Expecting property name")
            # The body was read whole: the connection stays open for the next request.
            assert resp.headers.get("Connection") is None
        async with s.post(server.make_url("/plain"), data=b"[1]") as resp:
            assert await resp.json() == [1]
        async with s.post(server.make_url("/custom"), data=b"{}") as resp:
            assert resp.status == 400
            assert await resp.text() == "Invalid JSON body: custom decoder refused 2 chars"


async def test_content_streams_and_release(aiohttp_server) -> None:
    server = await serve(aiohttp_server)
    async with aiohttp.ClientSession() as s:
        async with s.post(server.make_url("/stream"), data=b"x" * 100_000) as resp:
            assert await resp.text() == "100000"
        async with s.post(server.make_url("/release"), data=b"x" * 100_000) as resp:
            assert await resp.text() == "False"


async def test_read_bufsize_sets_the_body_stream_limits(aiohttp_server) -> None:
    """aiohttp's ``get_read_buffer_limits()``: (read_bufsize, 2 * read_bufsize)."""

    async def handler(request: web.Request) -> web.Response:
        limits = request.content.get_read_buffer_limits()
        data = await request.read()
        return web.Response(text=f"{len(data)} {limits}")

    app = web.Application(handler_args={"read_bufsize": 1024})
    app.router.add_post("/", handler)
    server = await aiohttp_server(app)
    async with (
        aiohttp.ClientSession() as s,
        s.post(server.make_url("/"), data=b"x" * 300_000) as resp,
    ):
        assert await resp.text() == "300000 (1024, 2048)"


async def test_read_over_client_max_size_is_413_while_streaming(aiohttp_server) -> None:
    server = await serve(aiohttp_server, client_max_size=1000)

    async def gen():
        for _ in range(100):
            yield b"x" * 100

    async with aiohttp.ClientSession() as s, s.post(server.make_url("/read"), data=gen()) as r:
        assert r.status == 413


@pytest.mark.parametrize("size", [999, 1000, 1001])
async def test_a_body_that_arrived_whole_is_read_at_once_within_client_max_size(
    aiohttp_server, size: int
) -> None:
    # Chunked, so no Content-Length announces the size: the limit applies to what arrived.
    server = await serve(aiohttp_server, client_max_size=1000)
    body = (bytes(range(256)) * 4)[:size]
    half = size // 2
    chunked = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (
        half,
        body[:half],
        size - half,
        body[half:],
    )
    head = "POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
    status, answer = await raw_post(server.port, head, chunked)
    if size <= 1000:
        assert (status, answer) == (200, body)
    else:
        assert status == 413


# ---------------------------------------------------------------------- forms


async def test_urlencoded_and_field_limit(aiohttp_server) -> None:
    server = await serve(aiohttp_server, client_max_fields=3)
    async with aiohttp.ClientSession() as s:
        async with s.post(server.make_url("/post"), data={"a": "1", "b": "é"}) as resp:
            assert await resp.json() == {"a": "1", "b": "é"}
        async with s.post(server.make_url("/post"), data={str(i): "v" for i in range(4)}) as resp:
            assert resp.status == 413


async def test_multipart_form_fields_files_charset_and_encodings(aiohttp_server) -> None:
    server = await serve(aiohttp_server)
    body = mp_body(
        (field("_charset_"), b"latin-1"),
        (field("t"), "é".encode("latin-1")),
        (field("u") + "\r\nContent-Type: text/plain; charset=utf-8", "é".encode()),
        (field("b64") + "\r\nContent-Transfer-Encoding: base64", base64.encodebytes(b"hi there")),
        (field("qp") + "\r\nContent-Transfer-Encoding: quoted-printable", b"a=3Db=\r\nc"),
        (field("raw") + "\r\nContent-Type: application/octet-stream", b"\x00\x01"),
        (field("f", "; filename=\"x.txt\"; filename*=UTF-8''%E2%82%AC.txt"), b"file\r\nbody"),
    )
    head = f"POST /post HTTP/1.1\r\nHost: x\r\n{CT}\r\nContent-Length: {len(body)}"
    status, data = await raw_post(server.port, head, body)
    assert status == 200, data
    assert json.loads(data) == {
        "t": "é",
        "u": "é",
        "b64": "hi there",
        "qp": "a=bc",
        "raw": ["bytes", "\x00\x01"],
        "f": ["€.txt", "application/octet-stream", "file\r\nbody"],
    }


async def test_multipart_counts_every_field_against_client_max_size(aiohttp_server) -> None:
    seen = []

    async def handler(request):
        try:
            await request.post()
        finally:
            seen.append(request.content.total_bytes)
        return web.Response()

    app = web.Application(client_max_size=10_000)
    app.router.add_post("/", handler)
    server = await aiohttp_server(app)

    # Chunked: no Content-Length to refuse early; one huge non-file field.
    async def gen():
        yield f"--{B}\r\n{field('big')}\r\n\r\n".encode()
        for _ in range(1000):
            yield b"x" * 1000
        yield f"\r\n--{B}--\r\n".encode()

    headers = {"Content-Type": f"multipart/form-data; boundary={B}"}
    async with (
        aiohttp.ClientSession() as s,
        s.post(server.make_url("/"), data=gen(), headers=headers) as r,
    ):
        assert r.status == 413
    # Refused long before the whole body (1 MB) was read.
    assert seen and seen[0] < 10_000 + 3 * 65536


async def test_spooled_files_are_closed_when_the_request_ends(aiohttp_server) -> None:
    kept = []

    async def handler(request):
        data = await request.post()
        kept.append((request.task, data["big"].file, data["small"].file))
        assert not data["big"].file.closed
        return web.Response(text=str(len(data["big"].file.read())))

    app = web.Application()
    app.router.add_post("/", handler)
    server = await aiohttp_server(app)
    fd = aiohttp.FormData()
    fd.add_field("big", os.urandom(200_000), filename="big.bin")
    fd.add_field("small", b"tiny", filename="small.bin")
    async with aiohttp.ClientSession() as s, s.post(server.make_url("/"), data=fd) as resp:
        assert await resp.text() == "200000"
    task, big, small = kept[0]
    await task
    assert big.closed and small.closed
    assert big._rolled and not small._rolled  # spooled to disk above the threshold only


async def test_multipart_reader_nested_parts_and_content_encoding(aiohttp_server) -> None:
    server = await serve(aiohttp_server)
    with aiohttp.MultipartWriter("mixed") as writer:
        writer.append("first")
        part = writer.append("zipped text", {"Content-Encoding": "gzip"})
        part.set_content_disposition("attachment", name="z", filename="z.txt")
        with aiohttp.MultipartWriter("related") as inner:
            inner.append("inner one")
            inner.append("inner two")
        writer.append(inner)
    async with aiohttp.ClientSession() as s, s.post(server.make_url("/parts"), data=writer) as r:
        assert r.status == 200
        assert await r.json() == [
            [None, None, "first"],
            ["z", "z.txt", "zipped text"],
            ["nested", ["inner one", "inner two"]],
        ]


# ---------------------------------------------------------------------- malformed input


MALFORMED = {
    "no boundary parameter": ("multipart/form-data", mp_body((field("a"), b"1"))),
    "bad boundary characters": ('multipart/form-data; boundary="a\\"b"', b'--a"b--\r\n'),
    "boundary too long": (f"multipart/form-data; boundary={'a' * 71}", b"--" + b"a" * 71 + b"--"),
    "truncated body": (f"multipart/form-data; boundary={B}", mp_body((field("a"), b"1"))[:-12]),
    "preamble garbage only": (f"multipart/form-data; boundary={B}", b"garbage " * 500),
    "junk after delimiter": (
        f"multipart/form-data; boundary={B}",
        f"--{B}junk\r\n{field('a')}\r\n\r\n1\r\n--{B}--".encode(),
    ),
    "header without colon": (f"multipart/form-data; boundary={B}", mp_body(("Nonsense", b"1"))),
    "obs-fold header": (
        f"multipart/form-data; boundary={B}",
        mp_body((field("a") + "\r\n folded", b"1")),
    ),
    "huge part header": (
        f"multipart/form-data; boundary={B}",
        mp_body((field("a") + "\r\nX: " + "y" * 9000, b"1")),
    ),
    "too many part headers": (
        f"multipart/form-data; boundary={B}",
        mp_body((field("a") + "".join(f"\r\nX{i}: y" for i in range(200)), b"1")),
    ),
    "field without name": (
        f"multipart/form-data; boundary={B}",
        mp_body(("Content-Disposition: form-data", b"1")),
    ),
    "bad base64": (
        f"multipart/form-data; boundary={B}",
        mp_body((field("a") + "\r\nContent-Transfer-Encoding: base64", b"!!!!")),
    ),
    "unknown transfer encoding": (
        f"multipart/form-data; boundary={B}",
        mp_body((field("a") + "\r\nContent-Transfer-Encoding: rot13", b"1")),
    ),
    "bad charset": (
        f"multipart/form-data; boundary={B}",
        mp_body((field("a") + "\r\nContent-Type: text/plain; charset=nope", b"1")),
    ),
}


@pytest.mark.parametrize("path", ["/post", "/parts"])
@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_malformed_multipart_gets_400_and_server_keeps_serving(
    aiohttp_server, case, path
) -> None:
    server = await serve(aiohttp_server)
    ctype, body = MALFORMED[case]
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}"
    )
    status, reply = await raw_post(server.port, head, body)
    if case == "field without name" and path == "/parts":
        assert status == 200  # only post() needs names
    else:
        assert status == 400, (case, reply)
        assert b"Traceback" not in reply
    good = mp_body((field("a"), b"1"))
    head = f"POST /post HTTP/1.1\r\nHost: x\r\n{CT}\r\nContent-Length: {len(good)}"
    assert await raw_post(server.port, head, good) == (200, b'{"a": "1"}')


async def test_a_nameless_field_is_a_value_error_the_handler_can_catch(aiohttp_server) -> None:
    """aiohttp raises ValueError("Multipart field missing name") from post(); heron's error
    is that ValueError too (and a 400 when the handler does not catch it)."""

    async def handler(request: web.Request) -> web.Response:
        try:
            await request.post()
        except ValueError as exc:
            return web.Response(status=422, text=f"{type(exc).__name__}: {exc}")
        return web.Response(text="accepted")

    app = web.Application()
    app.router.add_post("/", handler)
    server = await aiohttp_server(app)
    body = mp_body(("Content-Disposition: form-data", b"value"))
    head = f"POST / HTTP/1.1\r\nHost: x\r\n{CT}\r\nContent-Length: {len(body)}"
    assert await raw_post(server.port, head, body) == (
        422,
        b"MultipartError: Multipart field missing name",
    )


async def test_too_many_parts_is_rejected(aiohttp_server) -> None:
    server = await serve(aiohttp_server, client_max_fields=5)
    body = mp_body(*[(field(f"f{i}"), b"v") for i in range(6)])
    for path in ("/post", "/parts"):
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\n{CT}\r\nContent-Length: {len(body)}"
        status, _ = await raw_post(server.port, head, body)
        assert status in (400, 413)


async def test_form_field_limit_answers_413_for_multipart_too(aiohttp_server) -> None:
    """post() answers a multipart form with a field too many like a urlencoded one: 413
    naming the limit (aiohttp's answer), not the part parser's 400."""
    server = await serve(aiohttp_server, client_max_fields=2)
    form = aiohttp.FormData(default_to_multipart=True)
    for i in range(3):
        form.add_field(f"f{i}", "v")
    async with (
        aiohttp.ClientSession() as s,
        s.post(server.make_url("/post"), data=form) as resp,
    ):
        assert resp.status == 413
        assert "Maximum number of form fields 2 exceeded" in await resp.text()


# ---------------------------------------------------------------------- Content-Encoding


def raw_deflate(data: bytes) -> bytes:
    obj = zlib.compressobj(wbits=-15)
    return obj.compress(data) + obj.flush()


def compressors():
    out = {
        "gzip": gzip.compress,
        "deflate": zlib.compress,
        "raw-deflate": raw_deflate,
    }
    if "br" in CONTENT_CODINGS:
        import brotli

        out["br"] = brotli.compress
    if "zstd" in CONTENT_CODINGS:
        from heron._proto.decoding import _zstd

        out["zstd"] = _zstd.compress
    return out


@pytest.mark.parametrize("coding", sorted(compressors()))
async def test_request_content_encoding_is_decoded(aiohttp_server, coding) -> None:
    server = await serve(aiohttp_server)
    payload = os.urandom(1000) * 300
    body = compressors()[coding](payload)
    name = "deflate" if coding == "raw-deflate" else coding
    head = (
        f"POST /read HTTP/1.1\r\nHost: x\r\nContent-Encoding: {name}\r\nContent-Length: {len(body)}"
    )
    assert await raw_post(server.port, head, body) == (200, payload)


async def test_compressed_form_and_bomb(aiohttp_server) -> None:
    server = await serve(aiohttp_server, client_max_size=100_000)
    body = gzip.compress(b"a=1&b=2")
    head = f"POST /post HTTP/1.1\r\nHost: x\r\n{FORM_GZ}\r\nContent-Length: {len(body)}"
    assert await raw_post(server.port, head, body) == (200, b'{"a": "1", "b": "2"}')
    bomb = gzip.compress(bytes(50_000_000))
    for path in ("/read", "/post"):
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\n{FORM_GZ}\r\nContent-Length: {len(bomb)}"
        assert (await raw_post(server.port, head, bomb))[0] == 413
    corrupt = gzip.compress(b"hello")[:-6] + b"junk"
    n = len(corrupt)
    head = f"POST /read HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: {n}"
    assert (await raw_post(server.port, head, corrupt))[0] == 400


async def test_auto_decompress_off_leaves_the_body_alone(aiohttp_server) -> None:
    app = web.Application()
    app.router.add_post("/read", echo_read)
    server = await aiohttp_server(app, auto_decompress=False)
    body = gzip.compress(b"hello")
    head = (
        f"POST /read HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: {len(body)}"
    )
    assert await raw_post(server.port, head, body) == (200, body)
