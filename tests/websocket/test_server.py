"""heron's WebSocketResponse over real sockets, talking to aiohttp's client and raw peers."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from heron import web as heron_web
from heron._proto.websocket.frames import encode_frame
from heron._web.websocket import WebSocketResponse, WSCloseCode, WSMsgType
from heron.test_utils import TestServer

from .rawws import RawWS

Handler = Callable[[heron_web.Request], Awaitable[Any]]


async def serve(aiohttp_server: Any, handler: Handler, path: str = "/") -> TestServer:
    app = heron_web.Application()
    app.router.add_get(path, handler)
    server: TestServer = await aiohttp_server(app)
    return server


async def expect_close(server: TestServer) -> None:
    """Connect with aiohttp's client: the server's first message must be its Close."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(server.make_url("/")) as ws,
    ):
        assert (await ws.receive()).type is aiohttp.WSMsgType.CLOSE


class Seen(list[Any]):
    """What an echo handler received; ``done`` is set when the handler ends."""

    def __init__(self) -> None:
        super().__init__()
        self.done = asyncio.Event()

    async def end(self) -> tuple[str, int | None, BaseException | None]:
        await asyncio.wait_for(self.done.wait(), 10)
        last: tuple[str, int | None, BaseException | None] = self[-1]
        return last


def echo_handler(seen: Seen | None = None, **ws_kwargs: Any) -> Handler:
    async def handler(request: heron_web.Request) -> WebSocketResponse:
        ws = WebSocketResponse(**ws_kwargs)
        await ws.prepare(request)
        async for msg in ws:
            if seen is not None:
                seen.append(msg)
            if msg.type is WSMsgType.TEXT:
                if msg.data == "close":
                    await ws.close(code=4000, message=b"bye")
                else:
                    await ws.send_str(msg.data + "/answer")
            elif msg.type is WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        if seen is not None:
            seen.append(("end", ws.close_code, ws.exception()))
            seen.done.set()
        return ws

    return handler


@pytest.mark.parametrize("compress", [0, 15])
async def test_aiohttp_client_echo(aiohttp_server: Any, compress: int) -> None:
    server = await serve(aiohttp_server, echo_handler())
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(server.make_url("/"), compress=compress) as ws,
    ):
        assert ws.compress == compress
        await ws.send_str("hello")
        assert await ws.receive_str() == "hello/answer"
        big = bytes(range(256)) * 4000
        await ws.send_bytes(big)
        assert await ws.receive_bytes() == big
        await ws.send_json({"a": [1, 2]})
        assert json.loads((await ws.receive_str()).removesuffix("/answer")) == {"a": [1, 2]}
        await ws.close()
        assert ws.close_code == 1000


async def test_server_close_code_and_message_reach_the_client(aiohttp_server: Any) -> None:
    seen = Seen()
    server = await serve(aiohttp_server, echo_handler(seen))
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(server.make_url("/")) as ws,
    ):
        await ws.send_str("close")
        msg = await ws.receive()
        assert (msg.type, msg.data, msg.extra) == (aiohttp.WSMsgType.CLOSE, 4000, "bye")
        assert ws.close_code == 4000
    assert (await seen.end())[:2] == ("end", 1000)  # the client's answering close code


async def test_client_close_ends_the_handler_loop(aiohttp_server: Any) -> None:
    seen = Seen()
    server = await serve(aiohttp_server, echo_handler(seen))
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(server.make_url("/"))
        await ws.close(code=4001, message=b"done")
    assert await seen.end() == ("end", 4001, None)
    assert len(seen) == 1


async def test_protocol_negotiation(aiohttp_server: Any) -> None:
    async def handler(request: heron_web.Request) -> WebSocketResponse:
        ws = WebSocketResponse(protocols=("chat", "v2"))
        ready = ws.can_prepare(request)
        await ws.prepare(request)
        await ws.send_str(f"{ready.ok} {ready.protocol} {ws.ws_protocol}")
        await ws.close()
        return ws

    server = await serve(aiohttp_server, handler)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(server.make_url("/"), protocols=("x", "v2")) as ws,
    ):
        assert ws.protocol == "v2"
        assert await ws.receive_str() == "True v2 v2"


async def test_can_prepare_rejects_plain_requests(aiohttp_server: Any) -> None:
    async def handler(request: heron_web.Request) -> heron_web.Response:
        ready = WebSocketResponse().can_prepare(request)
        return heron_web.Response(text=f"{ready.ok} {bool(ready)}")

    server = await serve(aiohttp_server, handler)
    async with aiohttp.ClientSession() as session, session.get(server.make_url("/")) as resp:
        assert await resp.text() == "False False"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 12\r\n", 426),
        (b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n", 400),
        (b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", 400),
    ],
)
async def test_bad_handshakes_get_http_errors(
    aiohttp_server: Any, headers: bytes, status: int
) -> None:
    server = await serve(aiohttp_server, echo_handler())
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 %d " % status)
    if status == 426:
        assert b"Sec-WebSocket-Version: 13\r\n" in head
    writer.close()


async def test_data_sent_with_the_handshake_is_not_lost(aiohttp_server: Any) -> None:
    from heron._proto.websocket.frames import encode_frame

    server = await serve(aiohttp_server, echo_handler())
    raw = await RawWS.connect(server.port, extra=encode_frame(0x1, b"early", mask=True))
    assert await raw.frame() == (0x1, b"early/answer")
    raw.close()


async def test_protocol_error_closes_with_1002(aiohttp_server: Any) -> None:
    seen = Seen()
    server = await serve(aiohttp_server, echo_handler(seen))
    raw = await RawWS.connect(server.port)
    raw.send_raw(b"\x81\x02hi")  # unmasked
    assert (await raw.close_frame())[0] == 1002
    assert await raw.eof()
    # The handler's loop ends; the error is reported as in aiohttp.
    assert (await seen.end())[1] == 1002


async def test_invalid_utf8_closes_with_1007(aiohttp_server: Any) -> None:
    server = await serve(aiohttp_server, echo_handler())
    raw = await RawWS.connect(server.port)
    raw.send(0x1, b"ok\xff")
    assert (await raw.close_frame())[0] == 1007
    assert await raw.eof()


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (b"\x81\x02hi", 1002),  # unmasked: a frame-header violation
        (encode_frame(0x1, b"ok\xff", mask=True), 1007),  # a message-level one
    ],
)
async def test_messages_before_a_violation_in_the_same_read_are_answered_first(
    aiohttp_server: Any, bad: bytes, code: int
) -> None:
    # RFC 6455 fails the connection at the violation: the messages before it, arrived in
    # the same read, are still delivered and answered, then the Close frame goes out.
    seen = Seen()
    server = await serve(aiohttp_server, echo_handler(seen))
    raw = await RawWS.connect(server.port)
    good = b"".join(encode_frame(0x1, m, mask=True) for m in (b"one", b"two"))
    raw.send_raw(good + bad)
    assert await raw.frame() == (0x1, b"one/answer")
    assert await raw.frame() == (0x1, b"two/answer")
    assert (await raw.close_frame())[0] == code
    assert await raw.eof()
    assert [m.data for m in seen[:2]] == ["one", "two"]
    assert seen[2].type is WSMsgType.ERROR
    assert (await seen.end())[1] == code


async def test_a_handler_that_closes_before_reading_a_violation_still_fails_at_once(
    aiohttp_server: Any,
) -> None:
    # The handler reads one message and closes; the violation queued behind it means no
    # closing handshake: the peer gets the protocol error's code and the connection drops
    # at once (no wait for a Close frame the peer will never be heard sending).
    closed: list[int | None] = []

    async def handler(request: heron_web.Request) -> WebSocketResponse:
        ws = WebSocketResponse(timeout=30)
        await ws.prepare(request)
        await ws.receive()
        await ws.close()
        closed.append(ws.close_code)
        return ws

    server = await serve(aiohttp_server, handler)
    raw = await RawWS.connect(server.port)
    raw.send_raw(
        encode_frame(0x1, b"one", mask=True) + encode_frame(0x1, b"two", mask=True) + b"\x81\x02hi"
    )
    assert (await raw.close_frame())[0] == 1002
    assert await raw.eof()
    assert closed == [1002]


async def test_a_violation_behind_messages_fails_the_connection_after_timeout(
    aiohttp_server: Any,
) -> None:
    # A handler that stops reading does not keep a peer that broke the protocol connected:
    # the connection is failed after the WebSocket's timeout all the same.
    release = asyncio.Event()

    async def handler(request: heron_web.Request) -> WebSocketResponse:
        ws = WebSocketResponse(timeout=0.2)
        await ws.prepare(request)
        await ws.receive()
        await release.wait()  # never reads "two" or the error behind it
        return ws

    server = await serve(aiohttp_server, handler)
    raw = await RawWS.connect(server.port)
    raw.send_raw(
        b"".join(encode_frame(0x1, m, mask=True) for m in (b"one", b"two")) + b"\x81\x02hi"
    )
    assert (await raw.close_frame())[0] == 1002
    assert await raw.eof()
    release.set()


async def test_max_msg_size_is_enforced_before_the_payload_arrives(aiohttp_server: Any) -> None:
    server = await serve(aiohttp_server, echo_handler())  # default 4 MiB
    raw = await RawWS.connect(server.port)
    # The header of a 5 MiB binary frame, and nothing more.
    raw.send_raw(bytes([0x82, 0xFF]) + (5 * 1024 * 1024).to_bytes(8, "big") + b"abcd")
    assert (await raw.close_frame())[0] == 1009
    assert await raw.eof()


async def test_max_msg_size_counts_all_fragments(aiohttp_server: Any) -> None:
    server = await serve(aiohttp_server, echo_handler(max_msg_size=1000))
    raw = await RawWS.connect(server.port)
    raw.send(0x2, b"x" * 600, fin=False)
    raw.send(0x0, b"x" * 600, fin=True)
    assert (await raw.close_frame())[0] == 1009


async def test_compressed_bomb_is_refused(aiohttp_server: Any) -> None:
    import zlib

    server = await serve(aiohttp_server, echo_handler(max_msg_size=2**20))
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(server.make_url("/"), compress=15) as ws,
    ):
        bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
        payload = bomb.compress(b"\0" * 2**25) + bomb.flush(zlib.Z_SYNC_FLUSH)[:-4]
        # Send the compressed bytes as they are (rsv1 set by hand).
        from heron._proto.websocket.frames import encode_frame

        frame = encode_frame(0x2, payload, rsv1=True, mask=True)
        ws._writer.transport.write(frame)  # type: ignore[attr-defined]
        msg = await ws.receive()
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert msg.data == 1009


async def test_autoping_answers_pings_and_autoping_false_delivers_them(
    aiohttp_server: Any,
) -> None:
    seen = Seen()
    server = await serve(aiohttp_server, echo_handler(seen, autoping=False))
    raw = await RawWS.connect(server.port)
    raw.send(0x9, b"p1")
    raw.send(0x1, b"t")
    assert await raw.frame() == (0x1, b"t/answer")
    assert seen[0].type is WSMsgType.PING and seen[0].data == b"p1"
    raw.close()

    server2 = await serve(aiohttp_server, echo_handler())
    raw = await RawWS.connect(server2.port)
    raw.send(0x9, b"p2")
    assert await raw.frame() == (0xA, b"p2")
    raw.close()


async def test_heartbeat_closes_a_dead_peer(aiohttp_server: Any) -> None:
    seen = Seen()
    server = await serve(aiohttp_server, echo_handler(seen, heartbeat=0.2))
    raw = await RawWS.connect(server.port)
    assert await raw.frame() == (0x9, b"")  # a PING, which this peer never answers
    assert await raw.eof()
    _, code, exc = await seen.end()
    assert seen[-2].type is WSMsgType.ERROR
    assert code == WSCloseCode.ABNORMAL_CLOSURE
    assert isinstance(exc, asyncio.TimeoutError)


async def test_heartbeat_keeps_a_live_peer(aiohttp_server: Any) -> None:
    server = await serve(aiohttp_server, echo_handler(heartbeat=0.1))
    raw = await RawWS.connect(server.port)
    for _ in range(3):
        assert await raw.frame() == (0x9, b"")
        raw.send(0xA, b"")
    raw.send(0x1, b"alive")
    while (frame := await raw.frame())[0] == 0x9:
        raw.send(0xA, b"")
    assert frame == (0x1, b"alive/answer")
    raw.close()


async def test_receive_timeout_and_concurrent_receive(aiohttp_server: Any) -> None:
    results: list[str] = []

    async def handler(request: heron_web.Request) -> WebSocketResponse:
        ws = WebSocketResponse(receive_timeout=0.05)
        await ws.prepare(request)
        try:
            await ws.receive()
        except asyncio.TimeoutError:
            results.append("timeout")
        reader = asyncio.ensure_future(ws.receive(timeout=10))
        await asyncio.sleep(0)
        try:
            await ws.receive()
        except RuntimeError as exc:
            results.append(str(exc))
        await ws.send_str("go")
        results.append((await reader).data)
        await ws.close()
        return ws

    server = await serve(aiohttp_server, handler)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(server.make_url("/")) as ws,
    ):
        assert await ws.receive_str() == "go"
        await ws.send_str("last")
        assert (await ws.receive()).type is aiohttp.WSMsgType.CLOSE
    assert results == ["timeout", "Concurrent call to receive() is not allowed", "last"]


async def test_send_after_close_raises(aiohttp_server: Any) -> None:
    errors: list[Any] = []
    done = asyncio.Event()

    async def handler(request: heron_web.Request) -> WebSocketResponse:
        ws = WebSocketResponse()
        await ws.prepare(request)
        errors.append(await ws.close())
        errors.append(ws.closed)
        errors.append(await ws.close())
        try:
            await ws.send_str("late")
        except ConnectionError as exc:
            errors.append(exc)
        done.set()
        return ws

    await expect_close(await serve(aiohttp_server, handler))
    await asyncio.wait_for(done.wait(), 10)
    assert errors[:3] == [True, True, False]
    assert isinstance(errors[3], ConnectionResetError)


async def test_slow_reader_makes_send_wait(aiohttp_server: Any) -> None:
    limit = 2**16
    chunk = b"x" * 2**16
    total = 400  # 25 MiB: far more than socket buffers hold
    sent: list[int] = []
    buffered: list[int] = []
    all_sent = asyncio.Event()

    async def handler(request: heron_web.Request) -> WebSocketResponse:
        ws = WebSocketResponse(writer_limit=limit)
        await ws.prepare(request)
        transport = request.transport
        assert transport is not None
        for i in range(total):
            await ws.send_bytes(chunk)
            sent.append(i)
            buffered.append(transport.get_write_buffer_size())
        all_sent.set()
        await ws.close()
        return ws

    server = await serve(aiohttp_server, handler)
    raw = await RawWS.connect(server.port, rcvbuf=2**14)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(all_sent.wait(), 0.5)
    assert len(sent) < total
    assert max(buffered) <= limit + len(chunk) + 16
    received = 0
    while received < total:
        opcode, payload = await raw.frame()
        assert opcode == 0x2 and payload == chunk
        received += 1
    await asyncio.wait_for(all_sent.wait(), 10)
    raw.close()


async def test_server_shutdown_sends_going_away(aiohttp_server: Any) -> None:
    prepared = asyncio.Event()

    async def handler(request: heron_web.Request) -> WebSocketResponse:
        ws = WebSocketResponse()
        await ws.prepare(request)
        prepared.set()
        async for _ in ws:
            pass
        return ws

    server = await serve(aiohttp_server, handler)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(server.make_url("/")) as ws,
    ):
        await prepared.wait()
        closing = asyncio.ensure_future(server.close())
        msg = await ws.receive()
        assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, WSCloseCode.GOING_AWAY)
        await asyncio.wait_for(closing, 10)


async def test_frames_sent_before_the_handler_fails_still_reach_the_client(
    aiohttp_server: Any,
) -> None:
    # Three messages in one read: the answer to the first is held back (two more wait),
    # then the handler fails.  The held answer must still be written before the close.
    async def handler(request: heron_web.Request) -> WebSocketResponse:
        ws = WebSocketResponse()
        await ws.prepare(request)
        msg = await ws.receive()
        await ws.send_str(msg.data + "/answer")
        raise RuntimeError("the handler fails with messages still queued")

    server = await serve(aiohttp_server, handler)
    raw = await RawWS.connect(server.port)
    raw.send_raw(b"".join(encode_frame(0x1, m, mask=True) for m in (b"a", b"b", b"c")))
    assert await raw.frame() == (0x1, b"a/answer")
    assert await raw.eof()


async def test_status_set_before_prepare_gives_way_to_101(aiohttp_server: Any) -> None:
    statuses: list[int] = []

    async def handler(request: heron_web.Request) -> WebSocketResponse:
        ws = WebSocketResponse()
        ws.set_status(200)
        statuses.append(ws.status)
        await ws.prepare(request)
        statuses.append(ws.status)
        await ws.close()
        return ws

    await expect_close(await serve(aiohttp_server, handler))
    assert statuses == [200, 101]


@pytest.mark.parametrize("how", ["fin", "rst"])
async def test_prepare_after_the_client_left_raises_connection_reset(
    aiohttp_server: Any, how: str
) -> None:
    left = asyncio.Event()
    outcome: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    async def handler(request: heron_web.Request) -> heron_web.StreamResponse:
        ws = WebSocketResponse()
        await left.wait()  # busy (authenticating, say) while the client goes away
        try:
            await ws.prepare(request)
        except ConnectionResetError as exc:
            outcome.set_result(exc)
            return heron_web.Response(status=503)
        outcome.set_result(None)
        return ws

    app = heron_web.Application()
    app.router.add_get("/", handler)
    # (The test server cancels handlers whose client leaves; a production server does not.)
    server: TestServer = await aiohttp_server(app, handler_cancellation=False)
    _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"GET / HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    await writer.drain()
    await asyncio.sleep(0.05)
    if how == "rst":
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
    await asyncio.sleep(0.1)
    left.set()
    exc = await asyncio.wait_for(outcome, 10)
    # Without it, a handler that went on to receive() would wait forever: a peer that
    # has shut down its side can never send a Close frame.
    assert isinstance(exc, ConnectionResetError)
    assert str(exc) == "Connection lost"


@pytest.mark.parametrize("ahead", [1, 40])
async def test_frames_pipelined_behind_requests_reach_the_websocket(
    aiohttp_server: Any, ahead: int
) -> None:
    # Plain requests, then an upgrade request, then a frame, all in one write: answering
    # the requests ahead must leave the bytes after the upgrade request to the WebSocket.
    paths: list[str] = []

    async def plain(request: heron_web.Request) -> heron_web.Response:
        paths.append(request.path)
        return heron_web.Response(text="plain")

    app = heron_web.Application()
    app.router.add_get("/ws", echo_handler())
    app.router.add_get("/{tail:.*}", plain)
    server: TestServer = await aiohttp_server(app)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    requests = b"".join(b"GET /r%d HTTP/1.1\r\nHost: test\r\n\r\n" % i for i in range(ahead))
    writer.write(
        requests
        + b"GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        + encode_frame(0x1, b"early", mask=True)
    )
    data = await asyncio.wait_for(reader.readuntil(b"\x81\x0cearly/answer"), 10)
    assert data.count(b"HTTP/1.1 200 OK\r\n") == ahead
    assert b"HTTP/1.1 101 Switching Protocols\r\n" in data
    assert paths == [f"/r{i}" for i in range(ahead)]
    writer.close()


async def test_websocket_on_a_server_with_keepalive_timeout_zero(aiohttp_server: Any) -> None:
    # keepalive_timeout=0 (no idling between requests) must not close a new connection
    # before its first request arrives.
    app = heron_web.Application()
    app.router.add_get("/", echo_handler())
    server: TestServer = await aiohttp_server(app, keepalive_timeout=0)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(server.make_url("/")) as ws,
    ):
        await ws.send_str("hi")
        assert await ws.receive_str() == "hi/answer"


async def test_close_after_the_peer_dropped_the_connection_is_abnormal(
    aiohttp_server: Any,
) -> None:
    # The peer's Close frame arrived, but the connection was gone before ours could be
    # sent: the handshake did not complete (1006 and the error, as in aiohttp).
    result: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()

    async def handler(request: heron_web.Request) -> WebSocketResponse:
        ws = WebSocketResponse(autoclose=False)
        await ws.prepare(request)
        msg = await ws.receive()
        while (transport := request.transport) is not None and not transport.is_closing():
            await asyncio.sleep(0.01)
        closed = await ws.close()
        result.set_result((msg.type, msg.data, closed, ws.close_code, ws.exception()))
        return ws

    server = await serve(aiohttp_server, handler)
    raw = await RawWS.connect(server.port)
    raw.send(0x8, (1000).to_bytes(2, "big"))
    raw.writer.transport.abort()
    kind, code, closed, close_code, exc = await asyncio.wait_for(result, 10)
    assert (kind, code, closed) == (WSMsgType.CLOSE, 1000, True)
    assert close_code == WSCloseCode.ABNORMAL_CLOSURE
    assert isinstance(exc, ConnectionResetError)


async def test_heartbeat_ping_that_cannot_be_written_ends_receive(aiohttp_server: Any) -> None:
    if type(asyncio.get_running_loop()).__module__.startswith("uvloop"):
        pytest.skip("uvloop's transports do not let a test replace write()")
    result: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()

    def refuse(data: bytes) -> None:
        raise ConnectionResetError("the transport refuses to write")

    async def handler(request: heron_web.Request) -> WebSocketResponse:
        ws = WebSocketResponse(heartbeat=0.05)
        await ws.prepare(request)
        transport = request.transport
        assert transport is not None
        transport.write = refuse  # type: ignore[method-assign]
        msg = await ws.receive()
        result.set_result((msg.type, ws.close_code, ws.exception()))
        return ws

    server = await serve(aiohttp_server, handler)
    raw = await RawWS.connect(server.port)
    kind, close_code, exc = await asyncio.wait_for(result, 10)
    assert kind is WSMsgType.ERROR
    assert close_code == WSCloseCode.ABNORMAL_CLOSURE
    assert isinstance(exc, ConnectionResetError)
    assert await raw.eof()


class _UppercasingWebSocket(WebSocketResponse):
    """A subclass that rewrites every TEXT message in ``receive()`` (an app's own hook)."""

    async def receive(self, timeout: float | None = None) -> Any:
        msg = await super().receive(timeout)
        if msg.type is WSMsgType.TEXT:
            return msg._replace(data=msg.data.upper())
        return msg


async def test_an_overridden_receive_serves_receive_str_and_async_for(
    aiohttp_server: Any,
) -> None:
    seen = Seen()

    async def handler(request: heron_web.Request) -> WebSocketResponse:
        ws = _UppercasingWebSocket()
        await ws.prepare(request)
        seen.append(await ws.receive_str())
        seen.append(await ws.receive_json())
        async for msg in ws:
            seen.append(msg.data)
        seen.done.set()
        return ws

    server = await serve(aiohttp_server, handler)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(server.make_url("/")) as ws,
    ):
        await ws.send_str("first")
        await ws.send_str('"second"')
        await ws.send_str("third")
        await ws.send_str("fourth")
        await ws.close()
    await asyncio.wait_for(seen.done.wait(), 10)
    assert list(seen) == ["FIRST", "SECOND", "THIRD", "FOURTH"]
