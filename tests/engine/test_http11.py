"""The HTTP/1.1 engine over real sockets: keep-alive, pipelining, bodies, limits, errors."""

from __future__ import annotations

import asyncio
import gc
import json
from typing import Any

import aiohttp
import pytest

from heron import web

from .conftest import RawClient, Serve, header


async def hello(request: web.BaseRequest) -> web.Response:
    return web.Response(text="Hello, world")


async def echo_path(request: web.BaseRequest) -> web.Response:
    return web.Response(text=request.path)


async def echo_body(request: web.BaseRequest) -> web.Response:
    return web.Response(body=await request.read())


GET = b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n"


# --------------------------------------------------------------------------- keep-alive


async def test_http11_keeps_connection_alive(serve: Serve, raw: Any) -> None:
    client: RawClient = await raw(await serve(hello))
    for _ in range(3):
        await client.send(GET % b"/")
        response, body = await client.response()
        assert response.status_code == 200 and body == b"Hello, world"
        assert header(response, b"connection") is None


async def test_connection_close_is_honoured(serve: Serve, raw: Any) -> None:
    client: RawClient = await raw(await serve(hello))
    await client.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    response, _ = await client.response()
    assert header(response, b"connection") == b"close"
    assert await client.closed_by_peer()


async def test_http10_closes_by_default(serve: Serve, raw: Any) -> None:
    client: RawClient = await raw(await serve(hello))
    await client.send(b"GET / HTTP/1.0\r\n\r\n")
    data = b""
    while chunk := await client.read_raw():
        data += chunk
    assert data.startswith(b"HTTP/1.0 200 OK\r\n")
    assert data.endswith(b"Hello, world")


async def test_http10_keep_alive_on_request(serve: Serve, raw: Any) -> None:
    client: RawClient = await raw(await serve(hello))
    for _ in range(2):
        await client.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        data = await client.read_raw()
        assert data.startswith(b"HTTP/1.0 200 OK\r\n")
        assert b"Connection: keep-alive\r\n" in data


async def test_keepalive_timeout_closes_idle_connection(serve: Serve, raw: Any) -> None:
    client: RawClient = await raw(await serve(hello, keepalive_timeout=0.2))
    await client.send(GET % b"/")
    await client.response()
    assert await client.closed_by_peer(timeout=5)


# --------------------------------------------------------------------------- pipelining


async def test_pipelined_requests_answered_in_order(serve: Serve, raw: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        # Later requests finish their work sooner; order must still hold.
        for _ in range(50 - int(request.path[1:])):
            await asyncio.sleep(0)
        return web.Response(text=request.path)

    client: RawClient = await raw(await serve(handler))
    await client.send(b"".join(GET % b"/%d" % i for i in range(50)))
    for i in range(50):
        _, body = await client.response()
        assert body == b"/%d" % i


async def test_pipeline_queue_is_bounded(serve: Serve, raw: Any) -> None:
    gate = asyncio.Event()
    server_conns: list[Any] = []

    async def handler(request: web.BaseRequest) -> web.Response:
        server_conns.append(request.protocol)
        await gate.wait()
        return web.Response(text=request.path)

    client: RawClient = await raw(await serve(handler, max_pipelined=4))
    requests = b"".join(GET % b"/%d" % i for i in range(2000))
    client.writer.write(requests)
    # Wait until the server has paused reading from this connection.
    for _ in range(1000):
        if server_conns and server_conns[0]._reading_paused:
            break
        await asyncio.sleep(0.005)
    conn = server_conns[0]
    assert conn._reading_paused
    queued = len(conn._queue)
    assert queued < 2000
    gate.set()
    for i in range(2000):
        _, body = await client.response()
        assert body == b"/%d" % i


# --------------------------------------------------------------------------- bodies


async def test_chunked_request_body(serve: Serve, raw: Any) -> None:
    client: RawClient = await raw(await serve(echo_body))
    await client.send(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: 1\r\n\r\n"
    )
    response, body = await client.response("POST")
    assert response.status_code == 200
    assert body == b"hello world"


async def test_content_length_request_body(serve: Serve, raw: Any) -> None:
    client: RawClient = await raw(await serve(echo_body))
    await client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
    _, body = await client.response("POST")
    assert body == b"hello"


async def test_streamed_chunked_response(serve: Serve, raw: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        for i in range(5):
            await resp.write(b"part-%d;" % i)
        await resp.write_eof()
        return resp

    client: RawClient = await raw(await serve(handler))
    await client.send(GET % b"/")
    response, body = await client.response()
    assert header(response, b"transfer-encoding") == b"chunked"
    assert body == b"part-0;part-1;part-2;part-3;part-4;"


async def test_head_sends_headers_only(serve: Serve, raw: Any) -> None:
    app = web.Application()
    app.router.add_get("/", hello)
    client: RawClient = await raw(await serve(app))
    await client.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    response, body = await client.response("HEAD")
    assert response.status_code == 200
    assert header(response, b"content-length") == b"12"
    assert body == b""
    # The connection is still in sync: the next response parses.
    await client.send(GET % b"/")
    _, body = await client.response()
    assert body == b"Hello, world"


async def test_body_flow_control_pauses_reading(serve: Serve, raw: Any) -> None:
    gate = asyncio.Event()
    seen: list[Any] = []

    async def handler(request: web.BaseRequest) -> web.Response:
        seen.append(request.protocol)
        await gate.wait()
        data = await request.read()
        return web.Response(text=str(len(data)))

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/", handler)
    client: RawClient = await raw(await serve(app, read_bufsize=2**14))
    size = 8 * 1024 * 1024
    client.writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
    client.writer.write(b"x" * size)
    for _ in range(1000):
        if seen and seen[0]._reading_paused:
            break
        await asyncio.sleep(0.005)
    assert seen[0]._reading_paused
    assert seen[0]._receiving._size <= 4 * 2**14 + 2**18
    gate.set()
    _, body = await client.response("POST")
    assert body == str(size).encode()


# --------------------------------------------------------------------------- Expect


async def test_expect_100_continue(serve: Serve, raw: Any) -> None:
    app = web.Application()
    app.router.add_post("/", echo_body)
    client: RawClient = await raw(await serve(app))
    await client.send(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
    )
    interim = await client.read_raw()
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    await client.send(b"hello")
    data = await client.read_raw()
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"hello")


async def test_unknown_expectation_417(serve: Serve, raw: Any) -> None:
    app = web.Application()
    app.router.add_post("/", echo_body)
    client: RawClient = await raw(await serve(app))
    await client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nExpect: teapot\r\n\r\n")
    response, _ = await client.response("POST")
    assert response.status_code == 417


# --------------------------------------------------------------------------- limits


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 9000 + b"\r\n\r\n", 431),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-%d: v\r\n" % i for i in range(200))
            + b"\r\n",
            431,
        ),
    ],
)
async def test_head_limits(serve: Serve, raw: Any, request_bytes: bytes, status: int) -> None:
    client: RawClient = await raw(await serve(hello))
    await client.send(request_bytes)
    response, _ = await client.response()
    assert response.status_code == status
    assert header(response, b"connection") == b"close"
    assert await client.closed_by_peer()


async def test_client_max_size_413(serve: Serve, raw: Any) -> None:
    app = web.Application(client_max_size=1024)
    app.router.add_post("/", echo_body)
    client: RawClient = await raw(await serve(app))
    await client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n" + b"x" * 2000)
    response, body = await client.response("POST")
    assert response.status_code == 413
    assert b"1024" in body


async def test_client_max_size_413_chunked(serve: Serve, raw: Any) -> None:
    app = web.Application(client_max_size=1024)
    app.router.add_post("/", echo_body)
    client: RawClient = await raw(await serve(app))
    chunk = b"400\r\n" + b"x" * 1024 + b"\r\n"
    await client.send(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 3
    )
    response, _ = await client.response("POST")
    assert response.status_code == 413


async def test_head_deadline_408(serve: Serve, raw: Any) -> None:
    client: RawClient = await raw(await serve(hello, head_timeout=0.2))
    await client.send(b"GET / HTTP/1.1\r\nHo")
    response, _ = await client.response()
    assert response.status_code == 408
    assert await client.closed_by_peer()


async def test_client_leaving_during_backpressure_is_quiet(serve: Serve, raw: Any) -> None:
    # A streaming handler blocked on a full write buffer; the client goes away.
    loop = asyncio.get_running_loop()
    problems: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: problems.append(context))
    protocols: list[Any] = []
    ended: asyncio.Future[BaseException] = loop.create_future()

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        protocols.append(request.protocol)
        resp = web.StreamResponse()
        await resp.prepare(request)
        try:
            while True:
                await resp.write(b"x" * 65536)
        except BaseException as exc:
            ended.set_result(exc)
            raise

    try:
        client: RawClient = await raw(await serve(handler))
        await client.send(GET % b"/")
        for _ in range(500):
            if protocols and protocols[0].writing_paused:  # aiohttp's name for it
                break
            await asyncio.sleep(0.01)
        assert protocols[0].writing_paused and protocols[0].write_paused
        client.writer.transport.abort()
        assert isinstance(
            await asyncio.wait_for(ended, 10), (ConnectionError, asyncio.CancelledError)
        )
        await asyncio.sleep(0.05)
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
    assert problems == []


# --------------------------------------------------------------------------- upgrades

H2C_POST = (
    b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
    b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQ\r\nContent-Length: 4\r\n\r\nTest"
)


async def echo_path_and_body(request: web.BaseRequest) -> web.Response:
    return web.Response(body=request.path.encode() + b":" + await request.read())


async def test_unswitched_upgrade_is_served_as_http(serve: Serve, raw: Any) -> None:
    # curl --http2 over cleartext offers h2c; heron answers in HTTP/1.1 and reads on.
    client: RawClient = await raw(await serve(echo_path_and_body))
    await client.send(H2C_POST + GET % b"/next")
    response, body = await client.response("POST")
    assert response.status_code == 200
    assert body == b"/echo:Test"
    _, body = await client.response()
    assert body == b"/next:"


async def test_unswitched_upgrade_from_aiohttp_client(serve: Serve) -> None:
    port = await serve(echo_path_and_body)
    headers = {"Connection": "Upgrade", "Upgrade": "unsupported_proto"}
    async with aiohttp.ClientSession() as session:
        for _ in range(2):  # and the connection is reusable after it
            async with session.post(
                f"http://127.0.0.1:{port}/p", data=b"Test", headers=headers
            ) as resp:
                assert resp.status == 200
                assert await resp.read() == b"/p:Test"


async def test_websocket_upgrade_with_body_refused(serve: Serve, raw: Any) -> None:
    # Is "abc" the body or the first bytes of the new protocol? (GHSA-mfx4-hv73-q22v)
    client: RawClient = await raw(await serve(echo_path_and_body))
    await client.send(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        b"Content-Length: 3\r\n\r\nabc"
    )
    response, _ = await client.response()
    assert response.status_code == 400
    assert await client.closed_by_peer()


async def test_declined_websocket_upgrade_reads_on(serve: Serve, raw: Any) -> None:
    client: RawClient = await raw(await serve(echo_path_and_body))
    await client.send(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
        + GET % b"/next"
    )
    _, body = await client.response()
    assert body == b"/ws:"
    _, body = await client.response()
    assert body == b"/next:"


async def test_declined_upgrade_then_garbage_answered_once(serve: Serve, raw: Any) -> None:
    # The bytes behind a declined upgrade are parsed after its response: a parse error
    # there is answered (once) after it, and nothing fails inside the server.
    loop = asyncio.get_running_loop()
    problems: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: problems.append(context))
    try:
        client: RawClient = await raw(await serve(echo_path_and_body))
        await client.send(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
            + b"\x00" * 64
        )
        _, body = await client.response()
        assert body == b"/ws:"
        response, _ = await client.response()
        assert response.status_code == 400
        assert await client.closed_by_peer()
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
    assert problems == []


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "bad",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x01\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: evil.example@x\r\n\r\n",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ],
)
async def test_malformed_request_400_then_close(serve: Serve, raw: Any, bad: bytes) -> None:
    client: RawClient = await raw(await serve(hello))
    await client.send(bad)
    response, body = await client.response()
    assert response.status_code == 400
    assert body.startswith(b"400 Bad Request: ")
    assert await client.closed_by_peer()


@pytest.mark.parametrize(
    ("target", "path", "query", "fragment"),
    [
        (b"/a#frag", "/a", {}, "frag"),
        (b"/a?q=1#frag", "/a", {"q": "1"}, "frag"),
        (b"/a?#frag", "/a", {}, "frag"),
        (b"/a#f?q=1", "/a", {}, "f?q=1"),
        (b"/a?q=%231", "/a", {"q": "#1"}, ""),
    ],
)
async def test_fragment_in_target_is_not_path_or_query(
    serve: Serve, raw: Any, target: bytes, path: str, query: dict[str, str], fragment: str
) -> None:
    # Clients never send one; aiohttp splits it off (url.fragment) and routes on the path.
    async def show(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "route": request.match_info.route.resource.canonical,  # type: ignore[union-attr]
                "path": request.path,
                "query": dict(request.query),
                "fragment": request.rel_url.fragment,
                "raw_path": request.raw_path,
            }
        )

    app = web.Application()
    app.router.add_get("/a", show)
    app.router.add_get("/{tail:.*}", show)
    client: RawClient = await raw(await serve(app))
    await client.send(GET % target)
    response, body = await client.response()
    assert response.status_code == 200
    assert json.loads(body) == {
        "route": "/a",
        "path": path,
        "query": query,
        "fragment": fragment,
        "raw_path": target.decode(),
    }


async def test_error_after_good_pipelined_request(serve: Serve, raw: Any) -> None:
    client: RawClient = await raw(await serve(echo_path))
    await client.send(GET % b"/ok" + b"GARBAGE\r\n\r\n")
    _, body = await client.response()
    assert body == b"/ok"
    response, _ = await client.response()
    assert response.status_code == 400
    assert await client.closed_by_peer()


async def test_handler_exception_500_without_traceback(
    serve: Serve, raw: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def boom(request: web.BaseRequest) -> web.Response:
        raise RuntimeError("secret detail")

    client: RawClient = await raw(await serve(boom))
    await client.send(GET % b"/")
    response, body = await client.response()
    assert response.status_code == 500
    assert b"secret" not in body and b"Traceback" not in body
    assert "secret detail" in caplog.text
    # As after aiohttp's 500: the connection closes (what failed may have left it half read).
    assert header(response, b"connection") == b"close"
    assert await client.closed_by_peer()


@pytest.mark.parametrize(
    "make",
    [
        lambda: web.Response(text="x", headers={"X-Evil": "a\r\nSet-Cookie: pwned=1"}),
        lambda: web.Response(text="x", headers={"X-Evil": "a\nb"}),
        lambda: web.Response(text="x", reason="OK\r\nSet-Cookie: pwned=1"),
    ],
)
async def test_response_splitting_refused(serve: Serve, raw: Any, make: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        response: web.Response = make()
        return response

    client: RawClient = await raw(await serve(handler))
    await client.send(GET % b"/")
    response, body = await client.response()
    assert response.status_code == 500
    assert header(response, b"set-cookie") is None
    assert b"pwned" not in body


async def test_handler_returning_non_response_500(serve: Serve, raw: Any) -> None:
    async def handler(request: web.BaseRequest) -> Any:
        return "not a response"

    client: RawClient = await raw(await serve(handler))
    await client.send(GET % b"/")
    response, _ = await client.response()
    assert response.status_code == 500


# --------------------------------------------------------------------------- cancellation


@pytest.mark.parametrize("cancellation", [False, True])
async def test_handler_cancellation_policy(serve: Serve, raw: Any, cancellation: bool) -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def handler(request: web.BaseRequest) -> web.Response:
        started.set()
        try:
            await release.wait()
        except asyncio.CancelledError:
            outcome.set_result("cancelled")
            raise
        outcome.set_result("finished")
        return web.Response(text="done")

    port = await serve(handler, handler_cancellation=cancellation)
    client: RawClient = await raw(port)
    await client.send(GET % b"/")
    await started.wait()
    client.writer.close()
    await client.writer.wait_closed()
    if not cancellation:
        # Give the server the chance to (wrongly) cancel, then let the handler go on.
        for _ in range(20):
            await asyncio.sleep(0)
        release.set()
    result = await asyncio.wait_for(outcome, 10)
    assert result == ("cancelled" if cancellation else "finished")
