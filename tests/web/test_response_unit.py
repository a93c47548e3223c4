"""StreamResponse/Response attributes, argument checks and head building, as aiohttp has
them: unit tests through heron.test_utils.make_mocked_request (whose writer records the
bytes in ``request.writer.output``), plus real-socket checks where the server's own
sending path matters (parsed with h11 or fetched with aiohttp's client)."""

from __future__ import annotations

import dataclasses
import datetime
import gzip
import io
import uuid
import warnings
from typing import Any

import aiohttp
import pytest

from heron import web
from heron.test_utils import make_mocked_request

from ..engine.conftest import RawClient, Serve, header


def _head_and_body(request: web.Request) -> tuple[dict[str, str], bytes]:
    raw = request.writer.output  # type: ignore[attr-defined]
    head, _, body = raw.partition(b"\r\n\r\n")
    fields: dict[str, str] = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return fields, body


# ---------------------------------------------------------------- Last-Modified, ETag


def test_last_modified_datetime_rounds_up_like_a_timestamp() -> None:
    moment = datetime.datetime(2021, 6, 1, 12, 0, 5, 250_000, datetime.timezone.utc)
    from_datetime = web.StreamResponse()
    from_datetime.last_modified = moment
    from_timestamp = web.StreamResponse()
    from_timestamp.last_modified = moment.timestamp()
    assert from_datetime.headers["Last-Modified"] == "Tue, 01 Jun 2021 12:00:06 GMT"
    assert from_timestamp.headers["Last-Modified"] == from_datetime.headers["Last-Modified"]
    exact = web.StreamResponse()
    exact.last_modified = moment.replace(microsecond=0)
    assert exact.last_modified == moment.replace(microsecond=0)


@dataclasses.dataclass(frozen=True)
class _OtherETag:
    """An ETag-shaped object of another library (aiohttp's ETag is a dataclass)."""

    value: Any
    is_weak: bool = False


def test_etag_any_reads_back() -> None:
    resp = web.StreamResponse()
    resp.etag = "*"
    assert resp.headers["ETag"] == "*"
    assert resp.etag is not None
    assert (resp.etag.value, resp.etag.is_weak) == ("*", False)
    resp.etag = _OtherETag("*", is_weak=True)  # type: ignore[assignment]
    assert resp.headers["ETag"] == "*"


@pytest.mark.parametrize("raw", ['"\u2200 x"', "no-quotes", 'W/"a b"', '"a"b"', "W/", '""'])
def test_etag_header_outside_the_grammar_reads_as_none(raw: str) -> None:
    resp = web.StreamResponse()
    resp.headers["ETag"] = raw
    assert resp.etag is None


def test_etag_header_with_obs_text_reads() -> None:
    resp = web.StreamResponse()
    resp.headers["ETag"] = 'W/"caf\u00e9"'
    assert resp.etag is not None
    assert (resp.etag.value, resp.etag.is_weak) == ("caf\u00e9", True)


@pytest.mark.parametrize("value", ['"quoted"', "with space", "\u2200", ""])
def test_etag_setter_refuses_values_outside_the_grammar(value: str) -> None:
    resp = web.StreamResponse()
    with pytest.raises(ValueError, match="is not a valid etag"):
        resp.etag = value
    with pytest.raises(ValueError, match="is not a valid etag"):
        resp.etag = _OtherETag(value, is_weak=True)  # type: ignore[assignment]
    assert "ETag" not in resp.headers


def test_etag_setter_accepts_an_etag_shaped_object() -> None:
    resp = web.StreamResponse()
    resp.etag = _OtherETag("v1", is_weak=True)  # type: ignore[assignment]
    assert resp.headers["ETag"] == 'W/"v1"'
    assert resp.etag is not None
    assert (resp.etag.value, resp.etag.is_weak) == ("v1", True)
    with pytest.raises(ValueError, match="Unsupported etag type"):
        resp.etag = _OtherETag(123)  # type: ignore[assignment]
    with pytest.raises(ValueError, match="Unsupported etag type"):
        resp.etag = 123  # type: ignore[assignment]


# ---------------------------------------------------------------- state, content type


def test_str_key_warns_once_per_key() -> None:
    first, second = f"k-{uuid.uuid4()}", f"k-{uuid.uuid4()}"
    resp = web.StreamResponse()
    with pytest.warns(web.NotAppKeyWarning, match="ResponseKey"):
        resp[first] = 1
    with pytest.warns(UserWarning):
        web.Response()[second] = 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resp[first] = 3
        resp[web.ResponseKey("typed", int)] = 4
    assert resp[first] == 3


def test_content_type_without_a_slash_reads_as_the_default() -> None:
    resp = web.Response(text="x", content_type="jpeg")
    assert resp.content_type == "application/octet-stream"
    assert resp.headers["Content-Type"] == "jpeg; charset=utf-8"
    assert resp.charset == "utf-8"


# ---------------------------------------------------------------- deprecations, misuse


def test_chunk_size_is_deprecated_and_content_length_refuses_chunking() -> None:
    resp = web.StreamResponse()
    with pytest.warns(DeprecationWarning, match="Chunk size"):
        resp.enable_chunked_encoding(chunk_size=8192)
    assert resp.chunked
    sized = web.StreamResponse()
    sized.content_length = 10
    with pytest.raises(RuntimeError):
        sized.enable_chunked_encoding()
    assert not sized.chunked


def test_boolean_force_is_deprecated() -> None:
    resp = web.StreamResponse()
    with pytest.warns(DeprecationWarning, match="boolean"):
        resp.enable_compression(force=True)
    assert resp.compression


async def test_misuse_raises_both_the_precise_type_and_assertion_error() -> None:
    # aiohttp asserts in these places; heron's errors are caught either way.
    resp = web.StreamResponse()
    with pytest.raises(RuntimeError):
        await resp.write_eof()
    with pytest.raises(AssertionError):
        await resp.write_eof()
    with pytest.raises(AssertionError), warnings.catch_warnings():
        warnings.simplefilter("error")  # no deprecation warning before the refusal
        await resp.drain()
    await resp.prepare(make_mocked_request("GET", "/"))
    with pytest.raises(TypeError):
        await resp.write(123)  # type: ignore[arg-type]
    with pytest.raises(AssertionError):
        await resp.write("text")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        resp.set_status(404)
    with pytest.raises(AssertionError):
        resp.set_status(404)
    text = web.Response(text="kept")
    with pytest.raises(TypeError):
        text.text = b"bytes"  # type: ignore[assignment]
    with pytest.raises(AssertionError):
        text.text = b"bytes"  # type: ignore[assignment]
    assert text.body == b"kept"
    assert text.content_length == 4


async def test_repr_names_the_request_while_streaming() -> None:
    resp = web.StreamResponse(reason="Fine")
    assert repr(resp) == "<StreamResponse Fine not prepared>"
    await resp.prepare(make_mocked_request("GET", "/a/b?q=1"))
    assert repr(resp) == "<StreamResponse Fine GET /a/b >"
    await resp.write_eof()
    assert repr(resp) == "<StreamResponse Fine eof>"


# ---------------------------------------------------------------- Content-Length


async def test_compressed_body_is_sent_whole_with_its_length() -> None:
    body = b"answer " * 500
    request = make_mocked_request("GET", "/", headers={"Accept-Encoding": "gzip"})
    resp = web.Response(body=body)
    resp.enable_compression()
    await resp.prepare(request)
    await resp.write_eof()
    fields, sent = _head_and_body(request)
    assert fields["content-encoding"] == "gzip"
    assert "transfer-encoding" not in fields
    assert int(fields["content-length"]) == len(sent) == resp.content_length < len(body)
    assert gzip.decompress(sent) == body
    del resp.headers["Content-Length"]
    assert resp.content_length == len(sent)


async def test_compressed_body_in_an_executor_for_a_small_threshold() -> None:
    body = b"0123456789" * 1000
    request = make_mocked_request("GET", "/")
    resp = web.Response(body=body, zlib_executor_size=1024)
    resp.enable_compression(web.ContentCoding.gzip)
    await resp.prepare(request)
    await resp.write_eof()
    fields, sent = _head_and_body(request)
    assert int(fields["content-length"]) == len(sent)
    assert gzip.decompress(sent) == body


async def test_identity_compression_keeps_the_body_length() -> None:
    request = make_mocked_request("GET", "/", headers={"Accept-Encoding": "gzip"})
    resp = web.Response(body=b"answer")
    resp.enable_compression(web.ContentCoding.identity)
    await resp.prepare(request)
    await resp.write_eof()
    fields, sent = _head_and_body(request)
    assert fields["content-length"] == "6"
    assert "content-encoding" not in fields and "transfer-encoding" not in fields
    assert sent == b"answer"
    assert resp.content_length == 6


async def test_not_negotiated_compression_keeps_the_body_length() -> None:
    request = make_mocked_request("GET", "/")
    resp = web.Response(text="plain")
    resp.enable_compression()
    await resp.prepare(request)
    await resp.write_eof()
    fields, sent = _head_and_body(request)
    assert fields["content-length"] == "5"
    assert sent == b"plain"


async def test_head_keeps_the_length_of_a_body_and_omits_an_unset_one() -> None:
    request = make_mocked_request("HEAD", "/")
    resp = web.Response(body=b"answer")
    await resp.prepare(request)
    await resp.write_eof()
    fields, sent = _head_and_body(request)
    assert fields["content-length"] == "6"
    assert sent == b""

    request = make_mocked_request("HEAD", "/")
    empty = web.Response()
    await empty.prepare(request)
    await empty.write_eof()
    fields, sent = _head_and_body(request)
    assert "content-length" not in fields and "transfer-encoding" not in fields
    assert empty.content_length == 0
    assert sent == b""


@pytest.mark.parametrize("status", [101, 204, 304])
async def test_bodiless_statuses_drop_length_and_transfer_coding(status: int) -> None:
    request = make_mocked_request("GET", "/")
    resp = web.Response(status=status, body=b"answer", headers={"Transfer-Encoding": "chunked"})
    await resp.prepare(request)
    await resp.write_eof()
    fields, sent = _head_and_body(request)
    assert "content-length" not in fields and "transfer-encoding" not in fields
    assert sent == b""
    assert not resp.chunked


async def test_head_without_body_over_the_wire(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.query.get("body"):
            return web.Response(text="hello")
        return web.Response(headers={"X-Probe": "1"})

    app = web.Application()
    app.router.add_route("HEAD", "/", handler)
    port = await serve(app)
    client = await RawClient.connect(port)
    try:
        await client.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        response, body = await client.response("HEAD")
        assert response.status_code == 200 and body == b""
        assert header(response, b"content-length") is None
        assert header(response, b"transfer-encoding") is None
        await client.send(b"HEAD /?body=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        response, body = await client.response("HEAD")
        assert header(response, b"content-length") == b"5"
        assert body == b""
        # The connection stays usable after both.
        await client.send(b"HEAD /?body=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        response, _ = await client.response("HEAD")
        assert response.status_code == 200
    finally:
        client.close()


async def test_compressed_response_over_the_wire(serve: Serve) -> None:
    text = "compress me " * 400

    async def handler(request: web.Request) -> web.Response:
        resp = web.Response(text=text)
        resp.enable_compression()
        return resp

    app = web.Application()
    app.router.add_get("/", handler)
    port = await serve(app)
    client = await RawClient.connect(port)
    try:
        await client.send(b"GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
        response, body = await client.response()
        assert header(response, b"transfer-encoding") is None
        assert header(response, b"content-length") == str(len(body)).encode()
        assert header(response, b"vary") == b"Accept-Encoding"
        assert gzip.decompress(body) == text.encode()
    finally:
        client.close()
    # HTTP/1.0: with a length, the connection need not close to end the body.
    async with (
        aiohttp.ClientSession(version=aiohttp.HttpVersion10) as session,
        session.get(
            f"http://127.0.0.1:{port}/",
            headers={"Accept-Encoding": "gzip", "Connection": "keep-alive"},
        ) as r,
    ):
        assert r.headers["Content-Length"]
        assert r.headers.get("Connection", "").lower() == "keep-alive"
        assert await r.text() == text


# ---------------------------------------------------------------- file bodies as text


@pytest.mark.parametrize(
    "make",
    [
        lambda: io.BytesIO(b"caf\xc3\xa9"),
        lambda: io.StringIO("caf\u00e9"),
        lambda: io.TextIOWrapper(io.BytesIO(b"caf\xc3\xa9"), encoding="utf-8"),
        lambda: io.BufferedReader(io.BytesIO(b"caf\xc3\xa9")),  # type: ignore[arg-type]
    ],
    ids=["BytesIO", "StringIO", "TextIOWrapper", "BufferedReader"],
)
async def test_file_body_text_then_sent_whole(make: Any) -> None:
    resp = web.Response(body=make())
    if resp.charset is None:
        resp.headers["Content-Type"] = "text/plain; charset=utf-8"
    assert resp.text == "caf\u00e9"
    assert resp.text == "caf\u00e9"  # reading it leaves the file where it was
    request = make_mocked_request("GET", "/")
    await resp.prepare(request)
    await resp.write_eof()
    _, sent = _head_and_body(request)
    assert b"caf\xc3\xa9" in sent


def test_async_iterable_body_has_no_text() -> None:
    async def pieces() -> Any:
        yield b"x"  # pragma: no cover

    gen = pieces()
    resp = web.Response(body=gen)
    with pytest.raises(TypeError):
        resp.text  # noqa: B018


async def test_output_length_is_deprecated_and_counts_the_head() -> None:
    request = make_mocked_request("GET", "/")
    resp = web.Response(body=b"answer")
    await resp.prepare(request)
    await resp.write_eof()
    with pytest.warns(DeprecationWarning, match="output_length is deprecated"):
        sent = resp.output_length
    assert sent == len(request.writer.output)  # type: ignore[attr-defined]
    assert sent > len(b"answer")
