"""Hostile clients over real sockets: every limit holds and the server keeps serving others.

Small limits and timeouts are injected per test so each runs in well under a second or two.
See docs/reliability.md for the table these tests prove.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from typing import Any

from heron import web

from .conftest import RawClient, Started, header, raise_nofile, wait_for

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


async def hello(request: web.BaseRequest) -> web.Response:
    return web.Response(text="Hello, world")


async def still_serving(port: int) -> float:
    """A fresh client gets its answer; return how long it took."""
    t0 = time.monotonic()
    client = await RawClient.connect(port)
    try:
        await client.send(GET)
        response, body = await client.response()
        assert response.status_code == 200 and body == b"Hello, world"
    finally:
        client.close()
    return time.monotonic() - t0


# --------------------------------------------------------------------------- slow clients


async def test_slowloris_head_dribble_gets_408_within_head_timeout(started: Started) -> None:
    """A head dribbled byte by byte does not extend the head deadline."""
    port, server = await started(hello, head_timeout=0.3)
    client = await RawClient.connect(port)
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 2000
    t0 = time.monotonic()

    sent = [0]

    async def dribble() -> None:
        for i in range(len(head)):  # bounded: 2000 bytes, 10 ms apart (pacing, not syncing)
            sent[0] = i
            client.writer.write(head[i : i + 1])
            try:
                await client.writer.drain()
            except ConnectionError:
                return
            await asyncio.sleep(0.01)

    sender = asyncio.create_task(dribble())
    data = b""
    try:
        # The server answers 408 and closes while the client is still sending: the client
        # may see the 408 then EOF, or (bytes arriving after the close) a reset that
        # discards the 408 in its receive buffer. Either way the server cut it off in time.
        with contextlib.suppress(ConnectionResetError):
            while chunk := await asyncio.wait_for(client.reader.read(65536), 10):
                data += chunk
        elapsed = time.monotonic() - t0
        assert data == b"" or data.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), data
        assert data == b"" or b"\r\nConnection: close\r\n" in data
        # The deadline runs from the first byte, whatever arrives later.
        assert 0.25 <= elapsed < 3.0, elapsed
        assert sent[0] < len(head) // 2  # the client was still dribbling when cut off
    finally:
        sender.cancel()
        client.close()
    await still_serving(port)
    await wait_for(lambda: not server.connections)


async def test_slow_body_times_out_per_wait(started: Started) -> None:
    """A body that stops arriving fails the handler's read after body_timeout."""
    outcome: asyncio.Future[BaseException | bytes] = asyncio.get_running_loop().create_future()

    async def handler(request: web.BaseRequest) -> web.Response:
        if request.method == "GET":
            return await hello(request)
        try:
            data = await request.read()
        except BaseException as exc:
            outcome.set_result(exc)
            raise
        outcome.set_result(data)
        return web.Response(text="read")

    port, server = await started(handler, body_timeout=0.3)
    client = await RawClient.connect(port)
    t0 = time.monotonic()
    await client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
    result = await asyncio.wait_for(outcome, 10)
    elapsed = time.monotonic() - t0
    assert isinstance(result, asyncio.TimeoutError), result
    assert 0.25 <= elapsed < 3.0, elapsed
    response, _ = await client.response("POST")
    assert response.status_code == 500
    # The stalled connection is not kept for lingering_time: it closes with the 500.
    assert header(response, b"connection") == b"close"
    assert await client.closed_by_peer(timeout=2)
    await still_serving(port)
    client.close()
    await wait_for(lambda: not server.connections, timeout=2)


async def test_body_dribble_within_body_timeout_is_served(started: Started) -> None:
    """body_timeout bounds each wait, not the whole body: a slow-but-steady upload completes."""

    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(body=await request.read())

    port, _ = await started(handler, body_timeout=0.5)
    client = await RawClient.connect(port)
    await client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n")
    for b in b"abcdefgh":  # 8 bytes, 0.1 s apart: 0.8 s in total, longer than body_timeout
        await client.send(bytes([b]))
        await asyncio.sleep(0.1)
    response, body = await client.response("POST")
    assert response.status_code == 200 and body == b"abcdefgh"
    client.close()


# --------------------------------------------------------------------------- never reads


def _non_reading_socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    return sock


async def test_client_that_never_reads_is_cut_off_after_write_timeout(started: Started) -> None:
    """Writes pause at the transport's high-water mark; the drain fails after write_timeout."""
    chunk = b"x" * 65536
    record: dict[str, Any] = {"written": 0, "max_buffer": 0}
    failed: asyncio.Future[tuple[BaseException, float]] = asyncio.get_running_loop().create_future()

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if request.path != "/big":
            return await hello(request)
        response = web.StreamResponse()
        await response.prepare(request)
        transport = request.transport
        assert transport is not None
        try:
            for _ in range(4096):  # at most 256 MiB if nothing pushed back
                await response.write(chunk)
                record["written"] += len(chunk)
                record["max_buffer"] = max(record["max_buffer"], transport.get_write_buffer_size())
        except BaseException as exc:
            failed.set_result((exc, time.monotonic()))
            raise
        return response

    port, server = await started(handler, write_timeout=0.5)
    sock = _non_reading_socket()
    loop = asyncio.get_running_loop()
    try:
        await loop.sock_connect(sock, ("127.0.0.1", port))
        await loop.sock_sendall(sock, b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        exc, _ = await asyncio.wait_for(failed, 15)
        assert isinstance(exc, (asyncio.TimeoutError, ConnectionError)), exc
        # Memory stays bounded: the handler was held back long before 256 MiB, and the
        # transport's buffer never held more than its high-water mark plus one write.
        assert record["written"] < 32 * 2**20, record
        assert record["max_buffer"] <= 64 * 1024 + len(chunk) + 100, record
        await wait_for(lambda: not server.connections, timeout=5)
        await still_serving(port)
    finally:
        sock.close()


async def test_pipelined_flood_without_reading_is_bounded(started: Started) -> None:
    """Thousands of pipelined requests from a client that never reads: the queue stays
    bounded, reading pauses, and write_timeout ends the connection."""
    handled = 0
    conns: list[Any] = []
    max_queue = 0

    async def handler(request: web.BaseRequest) -> web.Response:
        nonlocal handled, max_queue
        if request.protocol is not (conns or [request.protocol])[0]:
            return await hello(request)
        handled += 1
        if not conns:
            conns.append(request.protocol)
        max_queue = max(max_queue, len(conns[0]._queue))
        return web.Response(body=b"y" * 16384)

    port, server = await started(handler, max_pipelined=8, write_timeout=0.5)
    sock = _non_reading_socket()
    loop = asyncio.get_running_loop()
    flood = GET * 20000  # 540 KB of requests
    try:
        await loop.sock_connect(sock, ("127.0.0.1", port))
        sender = asyncio.create_task(loop.sock_sendall(sock, flood))
        await wait_for(lambda: bool(conns) and not server.connections, timeout=15)
        sender.cancel()
        # Each read chunk (at most 256 KiB here) holds < 10k requests: the queue was cut at
        # max_pipelined plus what one chunk carried, and far fewer than 20000 were answered.
        assert handled < 20000, handled
        assert max_queue < 10000, max_queue
        await still_serving(port)
    finally:
        sock.close()


# --------------------------------------------------------------------------- half-open


async def test_half_closed_client_still_gets_its_response(started: Started) -> None:
    """A request followed by FIN (shutdown(SHUT_WR)) is answered, then the server closes."""
    port, server = await started(hello)
    client = await RawClient.connect(port)
    await client.send(GET)
    client.writer.write_eof()
    response, body = await client.response()
    assert response.status_code == 200 and body == b"Hello, world"
    assert await client.closed_by_peer(timeout=5)
    client.close()
    await wait_for(lambda: not server.connections)


async def test_half_closed_idle_and_mid_head_connections_are_closed(started: Started) -> None:
    """FIN with no request, or FIN in the middle of a head: closed at once, no timer needed."""
    port, server = await started(hello, keepalive_timeout=60, head_timeout=60)
    idle = await RawClient.connect(port)
    partial = await RawClient.connect(port)
    await partial.send(b"GET / HTTP/1.1\r\nHo")
    idle.writer.write_eof()
    partial.writer.write_eof()
    assert await idle.closed_by_peer(timeout=5)
    assert await partial.closed_by_peer(timeout=5)
    idle.close()
    partial.close()
    await wait_for(lambda: not server.connections, timeout=5)


async def test_silent_peer_is_closed_by_timers(started: Started) -> None:
    """A peer that vanished without FIN (nothing more ever arrives) is closed by the
    keep-alive timer when idle and by the head timer mid-head."""
    port, server = await started(hello, keepalive_timeout=0.3, head_timeout=0.3)
    silent = await RawClient.connect(port)
    mid_head = await RawClient.connect(port)
    await mid_head.send(b"GET / HTTP/1.1\r\n")
    await wait_for(lambda: len(server.connections) == 2)
    t0 = time.monotonic()
    await wait_for(lambda: not server.connections, timeout=5)
    assert time.monotonic() - t0 < 3
    assert await silent.closed_by_peer(timeout=5)
    silent.close()
    mid_head.close()


# --------------------------------------------------------------------------- many connections


async def _open_many(port: int, count: int, first: bytes) -> list[asyncio.StreamWriter]:
    writers: list[asyncio.StreamWriter] = []
    for start in range(0, count, 200):  # batches, so the listen backlog never overflows
        batch = await asyncio.gather(
            *(asyncio.open_connection("127.0.0.1", port) for _ in range(min(200, count - start)))
        )
        for _, w in batch:
            if first:
                w.write(first)
            writers.append(w)
    return writers


async def test_thousands_of_abandoned_connections(started: Started) -> None:
    """2000 connections opened and abandoned (idle or mid-head): the server tracks each,
    answers a new client promptly meanwhile, and its timers reap them all."""
    count = 2000
    raise_nofile(2 * count + 1000)
    port, server = await started(hello, keepalive_timeout=2.0, head_timeout=2.0)
    idle = await _open_many(port, count // 2, b"")
    mid_head = await _open_many(port, count // 2, b"GET / HTTP/1.1\r\nHost: x\r\nX-")
    try:
        await wait_for(lambda: len(server.connections) == count, timeout=20)
        assert await still_serving(port) < 1.0
        # Abandoned: the timers close every one of them (and nothing else is needed).
        await wait_for(lambda: not server.connections, timeout=20)
        await still_serving(port)
    finally:
        for w in idle + mid_head:
            w.close()


# --------------------------------------------------------------------------- max_connections


async def test_max_connections_fast_503(started: Started) -> None:
    port, server = await started(hello, max_connections=2, keepalive_timeout=60)
    a = await RawClient.connect(port)
    b = await RawClient.connect(port)
    for c in (a, b):
        await c.send(GET)
        response, _ = await c.response()
        assert response.status_code == 200
    assert len(server.connections) == 2
    # Past the limit: 503 with Connection: close, without waiting for a request.
    t0 = time.monotonic()
    over = await RawClient.connect(port)
    data = b""
    while chunk := await over.read_raw():
        data += chunk
    assert time.monotonic() - t0 < 0.9  # before reject_linger: the server did not wait
    assert data.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), data
    assert b"\r\nConnection: close\r\n" in data
    over.close()
    # A refused client that sends its request anyway gets the same answer.
    over = await RawClient.connect(port)
    await over.send(GET)
    response, _ = await over.response()
    assert response.status_code == 503
    assert await over.closed_by_peer()
    over.close()
    assert len(server.connections) == 2  # refused connections are never counted
    # Once one closes, a new client is served.
    a.close()
    await wait_for(lambda: len(server.connections) == 1)
    assert await still_serving(port) < 1.0
    b.close()


async def test_max_connections_refuses_a_burst(started: Started) -> None:
    """A burst of 600 connections against max_connections=100: 100 kept, 500 refused."""
    raise_nofile(3000)
    app = web.Application()  # through AppRunner's keyword arguments this time
    app.router.add_get("/", hello)
    port, server = await started(app, max_connections=100, keepalive_timeout=60)
    pairs = []
    for _ in range(3):  # batches of 200, so the listen backlog never overflows
        pairs += await asyncio.gather(
            *(asyncio.open_connection("127.0.0.1", port) for _ in range(200))
        )
    reads = [asyncio.ensure_future(r.read()) for r, _ in pairs]
    try:
        # Every connection is accounted for once 500 refusals have reached their clients.
        await wait_for(lambda: sum(t.done() for t in reads) == 500, timeout=20)
        assert len(server.connections) == 100
        # Close the kept ones from the server side: then every client reads to EOF.
        for conn in server.connections:
            conn.close()
        answers = await asyncio.wait_for(asyncio.gather(*reads), 20)
    finally:
        for t in reads:
            t.cancel()
        for _, w in pairs:
            w.close()
    refused = [a for a in answers if a.startswith(b"HTTP/1.1 503 ")]
    assert len(refused) == 500
    assert answers.count(b"") == 100
    await wait_for(lambda: not server.connections, timeout=10)
    assert await still_serving(port) < 1.0


# --------------------------------------------------------------------------- lingering


async def test_unread_body_is_discarded_within_lingering_limits(started: Started) -> None:
    """A handler that ignores the body: a small remainder is read and dropped and the
    connection reused; past lingering_limit (or lingering_time) the connection closes."""
    port, server = await started(hello, lingering_limit=65536, lingering_time=0.5)
    small = await RawClient.connect(port)
    await small.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"a" * 1000)
    response, _ = await small.response("POST")
    assert response.status_code == 200
    await small.send(GET)  # reused: the 1000 bytes were discarded, not parsed as a request
    response, body = await small.response()
    assert response.status_code == 200 and body == b"Hello, world"
    small.close()
    # Too much to discard: closed after the response.
    big = await RawClient.connect(port)
    big.writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n")
    big.writer.write(b"b" * 200_000)
    response, _ = await big.response("POST")
    assert response.status_code == 200
    assert await big.closed_by_peer(timeout=5)
    big.close()
    # A remainder that never comes: closed after lingering_time.
    stalled = await RawClient.connect(port)
    await stalled.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
    response, _ = await stalled.response("POST")
    t0 = time.monotonic()
    assert await stalled.closed_by_peer(timeout=5)
    assert time.monotonic() - t0 < 3
    stalled.close()
    await wait_for(lambda: not server.connections, timeout=5)
