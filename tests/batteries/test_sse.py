"""heron.sse over real sockets: aiohttp-sse's README example, the event format, pings,
Last-Event-ID, and the stream's end on client disconnect and on server shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from datetime import datetime
from typing import Any

import pytest

from heron import web
from heron.client import ClientPayloadError
from heron.sse import EventSourceResponse, setup, sse_response

WAIT = 10.0
TCP_USER_TIMEOUT: int = getattr(socket, "TCP_USER_TIMEOUT", 18)


async def read_event(resp: Any) -> bytes:
    """One event (or comment) block from an event stream, separator included."""
    return bytes(await asyncio.wait_for(resp.content.readuntil(b"\r\n\r\n"), WAIT))


def ended_marker(app: web.Application) -> asyncio.Event:
    """An event set when a handler of ``app`` returns or raises."""
    ended = asyncio.Event()

    @web.middleware
    async def watch(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)  # type: ignore[no-any-return]
        finally:
            ended.set()

    app.middlewares.append(watch)
    return ended


# -- aiohttp-sse's README example, imports changed -------------------------------------------


async def test_readme_example(aiohttp_client: Any) -> None:
    async def hello(request: web.Request) -> web.StreamResponse:
        async with sse_response(request) as resp:
            while resp.is_connected():
                time_dict = {"time": f"Server Time : {datetime.now()}"}
                data = json.dumps(time_dict, indent=2)
                await resp.send(data)
                await asyncio.sleep(1)
        return resp

    app = web.Application()
    ended = ended_marker(app)
    app.router.add_route("GET", "/hello", hello)
    client = await aiohttp_client(app)
    async with client.get("/hello") as resp:
        assert resp.status == 200
        block = await read_event(resp)
    lines = block.decode().split("\r\n")
    assert lines[0] == "data: {" and lines[1].startswith('data:   "time": "Server Time : ')
    assert lines[2] == "data: }" and lines[3:] == ["", ""]
    await asyncio.wait_for(ended.wait(), WAIT)  # the client left: the handler ended


async def test_headers(aiohttp_client: Any) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        async with sse_response(request, headers={"X-Extra": "1"}) as resp:
            await resp.send("hi")
        return resp

    app = web.Application()
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    async with client.get("/") as resp:
        assert resp.headers["Content-Type"] == "text/event-stream"
        assert resp.headers["Cache-Control"] == "no-cache"
        assert resp.headers["X-Accel-Buffering"] == "no"
        assert resp.headers["Transfer-Encoding"] == "chunked"
        assert resp.headers["X-Extra"] == "1"
        assert await resp.read() == b"data: hi\r\n\r\n"


async def test_event_fields_and_multiline_data(aiohttp_client: Any) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        async with sse_response(request) as resp:
            await resp.send("one\ntwo\r\nthree\rfour", id="7", event="update", retry=1500)
            await resp.send("")
            with pytest.raises(ValueError, match="id must not contain line separators"):
                await resp.send("x", id="1\n\ndata: injected")
            with pytest.raises(ValueError, match="null characters"):
                await resp.send("x", id="1\x00")
            with pytest.raises(ValueError, match="event must not contain line separators"):
                await resp.send("x", event="a\rb")
            with pytest.raises(TypeError, match="retry"):
                await resp.send("x", retry="10")  # type: ignore[arg-type]
            with pytest.raises(ValueError, match="retry must not be negative"):
                await resp.send("x", retry=-1)
        return resp

    app = web.Application()
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    async with client.get("/") as resp:
        body = await resp.read()
    assert body == (
        b"id: 7\r\nevent: update\r\n"
        b"data: one\r\ndata: two\r\ndata: three\r\ndata: four\r\n"
        b"retry: 1500\r\n\r\n"
        b"data: \r\n\r\n"
    )


async def test_custom_separator_and_awaitable_form(aiohttp_client: Any) -> None:
    class JSONEvents(EventSourceResponse):
        async def send_json(self, data: Any) -> None:
            await self.send(json.dumps(data))

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = await sse_response(request, sep="\n", response_cls=JSONEvents)
        assert isinstance(resp, JSONEvents)
        await resp.send_json({"a": 1})
        resp.stop_streaming()
        await resp.wait()
        return resp

    app = web.Application()
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    async with client.get("/") as resp:
        assert await resp.read() == b'data: {"a": 1}\n\n'
    with pytest.raises(TypeError, match="subclass of EventSourceResponse"):
        sse_response(None, response_cls=web.StreamResponse)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sep"):
        EventSourceResponse(sep="--")


@pytest.mark.parametrize("set_by", ["constructor", "property"])
async def test_keep_alive_pings(aiohttp_client: Any, set_by: str) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        if set_by == "constructor":
            resp = EventSourceResponse(ping_interval=0.05, send_timeout=5)
        else:
            resp = EventSourceResponse()
            resp.ping_interval = 0.05
        await resp.prepare(request)
        async with resp:
            await resp.wait()
        return resp

    app = web.Application()
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    async with client.get("/") as resp:
        assert await read_event(resp) == b": ping\r\n\r\n"
        assert await read_event(resp) == b": ping\r\n\r\n"


def test_ping_interval_and_send_timeout_are_checked() -> None:
    response = EventSourceResponse()
    assert (response.ping_interval, response.send_timeout) == (15, 120)
    assert EventSourceResponse(send_timeout=None).send_timeout is None
    with pytest.raises(ValueError, match="ping interval must be positive"):
        response.ping_interval = 0
    with pytest.raises(TypeError):
        response.ping_interval = "1"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="ping interval must be positive"):
        EventSourceResponse(ping_interval=-1)
    with pytest.raises(ValueError, match="send timeout"):
        EventSourceResponse(send_timeout=0)


async def test_send_timeout_aborts_a_client_that_stopped_reading(aiohttp_server: Any) -> None:
    outcome: list[str] = []
    done = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        async with sse_response(request, send_timeout=0.2) as resp:
            try:
                while True:  # the client reads nothing: the socket's buffers fill up
                    await resp.send("x" * 1_000_000)
            except TimeoutError:
                outcome.append("timed out")
                assert not resp.is_connected()
            finally:
                done.set()
        return resp

    app = web.Application()
    app.router.add_get("/", handler)
    server = await aiohttp_server(app)
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)  # the head; then no reading
    await asyncio.wait_for(done.wait(), WAIT)
    assert outcome == ["timed out"]
    # The connection was aborted: draining what was buffered ends in EOF or a reset.
    with contextlib.suppress(ConnectionError):
        while await asyncio.wait_for(reader.read(1 << 20), WAIT):
            pass
    writer.close()


@pytest.mark.skipif(not hasattr(socket, "TCP_USER_TIMEOUT"), reason="Linux only")
async def test_send_timeout_is_the_sockets_tcp_user_timeout_while_streaming(
    aiohttp_client: Any,
) -> None:
    seen: list[tuple[Any, int]] = []

    def record(request: web.Request) -> None:
        assert request.transport is not None
        sock = request.transport.get_extra_info("socket")
        seen.append((sock.getpeername(), sock.getsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT)))

    async def stream(request: web.Request) -> web.StreamResponse:
        async with sse_response(request, send_timeout=2.5) as resp:
            record(request)
            await resp.send("x")
        return resp

    async def plain(request: web.Request) -> web.Response:
        record(request)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/stream", stream)
    app.router.add_get("/plain", plain)
    client = await aiohttp_client(app)
    async with client.get("/stream") as resp:
        assert await resp.read() == b"data: x\r\n\r\n"
    async with client.get("/plain") as resp:
        assert await resp.text() == "ok"
    (peer1, during), (peer2, after) = seen
    assert peer1 == peer2  # the same kept-alive connection
    assert (during, after) == (2500, 0)  # set for the stream, given back afterwards


async def test_allow_all_methods(aiohttp_client: Any) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        async with sse_response(request, allow_all_methods=True) as resp:
            await resp.send(request.method)
        return resp

    app = web.Application()
    app.router.add_route("*", "/", handler)
    client = await aiohttp_client(app)
    for method in ("POST", "DELETE"):
        async with client.request(method, "/") as resp:
            assert resp.status == 200
            assert await resp.read() == f"data: {method}\r\n\r\n".encode()


async def test_last_event_id(aiohttp_client: Any) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        async with sse_response(request) as resp:
            await resp.send(f"resuming after {resp.last_event_id}")
        return resp

    app = web.Application()
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    async with client.get("/", headers={"Last-Event-ID": "41"}) as resp:
        assert await resp.read() == b"data: resuming after 41\r\n\r\n"
    async with client.get("/") as resp:
        assert await resp.read() == b"data: resuming after None\r\n\r\n"
    with pytest.raises(RuntimeError, match="prepared first"):
        _ = EventSourceResponse().last_event_id


async def test_only_get(aiohttp_client: Any) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        async with sse_response(request) as resp:
            await resp.send("never")
        return resp

    app = web.Application()
    app.router.add_route("*", "/", handler)
    client = await aiohttp_client(app)
    async with client.post("/") as resp:
        assert resp.status == 405
        assert resp.headers["Allow"] == "GET"


async def test_stop_streaming_from_another_task(aiohttp_client: Any) -> None:
    streams: list[EventSourceResponse] = []
    opened = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        async with sse_response(request) as resp:
            streams.append(resp)
            opened.set()
            await resp.wait()
            assert not resp.is_connected()
            await resp.send("bye")
        return resp

    app = web.Application()
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    async with client.get("/") as resp:
        await asyncio.wait_for(opened.wait(), WAIT)
        assert streams[0].is_connected()
        streams[0].stop_streaming()
        assert await asyncio.wait_for(resp.read(), WAIT) == b"data: bye\r\n\r\n"


# -- the end of a stream -------------------------------------------------------------------


def waiting_app() -> tuple[web.Application, asyncio.Event, asyncio.Event, list[str]]:
    """GET / opens a stream whose handler only waits on it."""
    opened = asyncio.Event()
    outcome: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            async with sse_response(request) as resp:
                resp.ping_interval = 0.05  # how a vanished client is noticed without cancellation
                opened.set()
                await resp.wait()
            outcome.append("returned")
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        return resp

    app = web.Application()
    ended = ended_marker(app)
    app.router.add_get("/", handler)
    return app, opened, ended, outcome


@pytest.mark.parametrize("handler_cancellation", [True, False])
async def test_client_disconnect_ends_the_stream(
    aiohttp_server: Any, handler_cancellation: bool
) -> None:
    app, opened, ended, outcome = waiting_app()
    server = await aiohttp_server(app, handler_cancellation=handler_cancellation)
    _reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.wait_for(opened.wait(), WAIT)
    writer.close()
    await writer.wait_closed()
    await asyncio.wait_for(ended.wait(), WAIT)
    assert outcome == (["cancelled"] if handler_cancellation else ["returned"])


async def test_shutdown_ends_streams_at_once_with_setup(aiohttp_client: Any) -> None:
    app, opened, ended, outcome = waiting_app()
    setup(app)
    client = await aiohttp_client(app)  # the runner's shutdown_timeout: 60 s
    async with client.get("/") as resp:
        await asyncio.wait_for(opened.wait(), WAIT)
        started = time.monotonic()
        await asyncio.wait_for(client.server.close(), WAIT)
        assert time.monotonic() - started < WAIT
        assert outcome == ["returned"]  # ended by the stream, not by cancelling the handler
        assert ended.is_set()
        assert await asyncio.wait_for(resp.read(), WAIT) == b""


async def test_shutdown_without_setup_is_bounded_by_shutdown_timeout(
    aiohttp_server: Any, aiohttp_client: Any
) -> None:
    app, opened, ended, outcome = waiting_app()
    server = await aiohttp_server(app, shutdown_timeout=0.2)
    client = await aiohttp_client(server)
    async with client.get("/") as resp:
        await asyncio.wait_for(opened.wait(), WAIT)
        await asyncio.wait_for(server.close(), WAIT)
        assert outcome == ["cancelled"] and ended.is_set()
        with pytest.raises(ClientPayloadError):  # the connection was cut mid-stream
            await asyncio.wait_for(resp.read(), WAIT)
