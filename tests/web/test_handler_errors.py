"""What a client gets when a handler fails, and the small response details aiohttp apps
see: aiohttp's 500 page (text, or HTML for browsers, never a traceback), 504 for a
handler's TimeoutError, no Content-Type on an empty body, safe redirect locations."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

import aiohttp
import pytest

from heron import web

from ..engine.conftest import RawClient, Serve, Started


async def _get(port: int, path: str = "/", **kwargs: Any) -> tuple[int, dict[str, str], str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}", **kwargs) as resp,
    ):
        return resp.status, dict(resp.headers), await resp.text()


async def test_500_page_text_and_html(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    async def handler(request: web.BaseRequest) -> NoReturn:
        raise RuntimeError("secret detail")

    port = await serve(handler)
    with caplog.at_level(logging.ERROR, logger="aiohttp.server"):
        status, headers, text = await _get(port)
    assert status == 500
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert text == "500 Internal Server Error\n\nServer got itself in trouble"
    # The traceback is logged (aiohttp's message), never sent.
    record = next(r for r in caplog.records if r.name == "aiohttp.server")
    assert record.getMessage() == "Error handling request from 127.0.0.1"
    assert record.exc_info is not None and "secret detail" in str(record.exc_info[1])

    status, headers, text = await _get(port, headers={"Accept": "text/html,*/*"})
    assert status == 500
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert text == (
        "<html><head><title>500 Internal Server Error</title></head><body>\n"
        "<h1>500 Internal Server Error</h1>\n"
        "Server got itself in trouble\n"
        "</body></html>\n"
    )
    assert "secret" not in text and "Traceback" not in text


async def test_500_page_shows_the_traceback_only_with_debug_true(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(request: web.BaseRequest) -> NoReturn:
        raise RuntimeError("detail <b>")

    # The loop's debug mode alone shows nothing (it may be on by accident in production).
    asyncio.get_running_loop().set_debug(True)
    try:
        port = await serve(handler)
        status, _, text = await _get(port)
    finally:
        asyncio.get_running_loop().set_debug(False)
    assert status == 500 and "Traceback" not in text and "detail" not in text

    # debug=True, the developer's explicit opt-in (aiohttp's Server argument), shows it.
    port = await serve(handler, debug=True)
    with caplog.at_level(logging.ERROR, logger="aiohttp.server"):
        status, headers, text = await _get(port)
    assert status == 500
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert text.startswith("500 Internal Server Error\n\nTraceback (most recent call last):\n")
    assert text.rstrip().endswith("RuntimeError: detail <b>")
    assert any(r.name == "aiohttp.server" for r in caplog.records)  # still logged

    status, headers, text = await _get(port, headers={"Accept": "text/html"})
    assert status == 500
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert text.startswith(
        "<html><head><title>500 Internal Server Error</title></head><body>\n"
        "<h1>500 Internal Server Error</h1>\n"
        "<h2>Traceback:</h2>\n<pre>Traceback (most recent call last):\n"
    )
    assert "RuntimeError: detail &lt;b&gt;" in text and "<b>" not in text


async def test_loggers_have_aiohttp_names(caplog: pytest.LogCaptureFixture) -> None:
    # Logging configured for an aiohttp app (levels, handlers per logger) applies unchanged.
    assert web.Application().logger is logging.getLogger("aiohttp.web")

    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text="ok")

    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        runner = web.ServerRunner(web.Server(handler))  # the default access log
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            port = site.port
            status, _, _ = await _get(port, "/logged")
            assert status == 200
            deadline = asyncio.get_running_loop().time() + 5
            # The line is written after the response left: wait for it, within a deadline.
            while not any(r.name == "aiohttp.access" for r in caplog.records):
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.01)
        finally:
            await runner.cleanup()
    access = [r for r in caplog.records if r.name == "aiohttp.access"]
    assert len(access) == 1 and '"GET /logged HTTP/1.1" 200' in access[0].getMessage()


async def test_handler_timeout_is_504(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    async def handler(request: web.Request) -> web.Response:
        await asyncio.wait_for(asyncio.sleep(10), 0.01)  # an upstream call took too long
        return web.Response()

    app = web.Application()
    app.router.add_get("/", handler)
    port = await serve(app)
    with caplog.at_level(logging.DEBUG, logger="aiohttp.server"):
        status, _, text = await _get(port)
    assert status == 504
    assert text == "504: Gateway Timeout"
    messages = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "aiohttp.server"]
    assert (logging.DEBUG, "Request handler timed out.") in messages


async def test_malformed_range_the_handler_lets_out_is_a_400(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    # aiohttp documents the ValueError and answers 500 when it escapes; it is the client's.
    async def handler(request: web.BaseRequest) -> web.Response:
        rng = request.http_range
        return web.Response(text=f"{rng.start} {rng.stop}")

    port = await serve(handler)
    with caplog.at_level(logging.DEBUG, logger="aiohttp.server"):
        status, _, text = await _get(port, headers={"Range": "bytes=2-5"})
        assert (status, text) == (200, "2 6")
        status, _, text = await _get(port, headers={"Range": "bytes=9-1"})
    assert (status, text) == (400, "Invalid Range header: start cannot be after end")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_base_exception_closes_the_connection(started: Started) -> None:
    """A BaseException (not an Exception) goes on up; the client is not left waiting."""

    class Stop(BaseException):
        pass

    async def handler(request: web.BaseRequest) -> web.Response:
        if request.path == "/stop":
            raise Stop
        return web.Response(text="ok")

    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    try:
        port, _ = await started(handler)
        client = await RawClient.connect(port)
        await client.send(b"GET /stop HTTP/1.1\r\nHost: x\r\n\r\n")
        assert await client.read_raw() == b""  # closed, no answer
        client.close()
        assert (await _get(port))[2] == "ok"  # the server still serves
    finally:
        loop.set_exception_handler(None)


@pytest.mark.parametrize("status", [200, 201, 404])
async def test_empty_body_has_no_content_type(serve: Serve, status: int) -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.query.get("stream"):
            response = web.StreamResponse(status=status)
            response.content_length = 0
            await response.prepare(request)
            return response
        return web.Response(status=status)

    app = web.Application()
    app.router.add_get("/", handler)
    port = await serve(app)
    for path in ("/", "/?stream=1"):
        got, headers, text = await _get(port, path)
        assert (got, text) == (status, "")
        assert headers["Content-Length"] == "0"
        assert "Content-Type" not in headers
    # A body keeps the default type.
    assert web.Response(body=b"x").content_type == "application/octet-stream"


async def test_no_content_length_on_1xx_and_204(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=int(request.query["status"]))

    app = web.Application()
    app.router.add_get("/", handler)
    port = await serve(app)
    for status in (101, 204):
        client = await RawClient.connect(port)
        await client.send(f"GET /?status={status} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        head = (await client.read_raw()).partition(b"\r\n\r\n")[0].lower()
        assert head.startswith(f"http/1.1 {status} ".encode())
        assert b"content-length" not in head and b"transfer-encoding" not in head
        assert b"content-type" not in head
        client.close()


async def test_redirect_location_is_made_safe(serve: Serve) -> None:
    async def handler(request: web.Request) -> NoReturn:
        raise web.HTTPFound(location=request.query["to"])

    app = web.Application()
    app.router.add_get("/", handler)
    port = await serve(app)
    client = await RawClient.connect(port)
    # A location taken from the request: CR LF cannot split the head.
    await client.send(b"GET /?to=/next%0D%0ASet-Cookie:%20a=b HTTP/1.1\r\nHost: x\r\n\r\n")
    response, _ = await client.response()
    assert response.status_code == 302
    headers = dict(response.headers)
    assert b"set-cookie" not in headers
    assert headers[b"location"] == b"/nextSet-Cookie:%20a=b"
    client.close()
    assert web.HTTPFound(location="/ä b").headers["Location"] == "/%C3%A4%20b"


async def test_has_body_is_deprecated(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        with pytest.deprecated_call():
            has_body = request.has_body
        return web.Response(text=f"{has_body} {request.can_read_body}")

    app = web.Application()
    app.router.add_route("*", "/", handler)
    port = await serve(app)
    assert (await _get(port))[2] == "False False"


async def test_returning_an_http_exception_warns_but_is_answered(aiohttp_server: Any) -> None:
    """aiohttp's #2415 deprecation: return an HTTPException and it is still the answer, with a
    DeprecationWarning; the router's own 404/405 (answered without raising) never warns."""

    async def forbidden(request: web.Request) -> web.StreamResponse:
        return web.HTTPForbidden()

    app = web.Application()
    app.router.add_get("/forbidden", forbidden)
    server = await aiohttp_server(app)
    with pytest.warns(DeprecationWarning, match="returning HTTPException object is deprecated"):
        status, _, text = await _get(server.port, "/forbidden")
    assert (status, text) == (403, "403: Forbidden")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert (await _get(server.port, "/missing"))[0] == 404
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"http://127.0.0.1:{server.port}/forbidden") as resp,
        ):
            assert resp.status == 405


class _CancelledInWriteEof(web.Response):
    async def write_eof(self, data: bytes = b"") -> None:
        raise asyncio.CancelledError()


async def _cancelled_in_handler(request: web.BaseRequest) -> web.Response:
    raise asyncio.CancelledError()


async def _cancelled_while_sending(request: web.BaseRequest) -> web.Response:
    return _CancelledInWriteEof(text="never finished")


@pytest.mark.parametrize(
    "cancelled", [_cancelled_in_handler, _cancelled_while_sending], ids=["handler", "write_eof"]
)
async def test_cancelled_request_closes_without_an_answer(
    serve: Serve,
    caplog: pytest.LogCaptureFixture,
    cancelled: Callable[[web.BaseRequest], Awaitable[web.Response]],
) -> None:
    """A handler that raises CancelledError, or a response whose write_eof is cancelled
    (the client went away mid-send), gets nothing more written: the connection closes,
    the server goes on serving, and aiohttp's debug line is logged."""

    async def handler(request: web.BaseRequest) -> web.Response:
        if request.path == "/cancel":
            return await cancelled(request)
        return web.Response(text="fine")

    port = await serve(handler)
    client = await RawClient.connect(port)
    with caplog.at_level(logging.DEBUG, logger="aiohttp.server"):
        await client.send(b"GET /cancel HTTP/1.1\r\nHost: x\r\n\r\n")
        assert await client.closed_by_peer()
    client.close()
    assert "Ignored premature client disconnection" in [
        r.getMessage() for r in caplog.records if r.name == "aiohttp.server"
    ]
    status, _, text = await _get(port, "/ok")
    assert (status, text) == (200, "fine")


async def test_request_handler_repr(serve: Serve) -> None:
    # aiohttp's repr of the connection object (request.protocol).
    seen: list[str] = []

    async def handler(request: web.BaseRequest) -> web.Response:
        seen.append(repr(request.protocol))
        return web.Response(text="ok")

    assert repr(web.Server(handler)()) == "<RequestHandler disconnected>"  # not yet connected
    port = await serve(handler)
    assert (await _get(port))[0] == 200
    assert seen == ["<RequestHandler connected>"]
