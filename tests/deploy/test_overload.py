"""Overload limits over real sockets: past max_concurrent_requests or max_connections the
server answers 503 with Retry-After at once instead of queueing without bound."""

from __future__ import annotations

import asyncio

from heron import web

from .conftest import ServeApp, until


def gated_app() -> tuple[web.Application, asyncio.Event, list[int]]:
    """``/`` waits for the gate; ``running`` counts handlers inside it."""
    gate = asyncio.Event()
    running = [0]

    async def wait(request: web.Request) -> web.Response:
        running[0] += 1
        try:
            await gate.wait()
        finally:
            running[0] -= 1
        return web.Response(text="done")

    app = web.Application()
    app.router.add_get("/", wait)
    return app, gate, running


async def request(
    writer: asyncio.StreamWriter, reader: asyncio.StreamReader, method: str = "GET"
) -> tuple[int, str, bytes]:
    writer.write(f"{method} / HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode()
    length = int(head.lower().split("content-length:")[1].split("\r\n")[0])
    body = b"" if method == "HEAD" else await reader.readexactly(length)
    return int(head.split()[1]), head, body


async def test_concurrent_request_limit_answers_503_and_keeps_the_connection(
    serve_app: ServeApp,
) -> None:
    app, gate, running = gated_app()
    port = await serve_app(app, max_concurrent_requests=2, retry_after=7)
    busy = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
    for _, writer in busy:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await until(lambda: running[0] == 2)

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    status, head, body = await request(writer, reader)
    assert status == 503
    assert "Retry-After: 7\r\n" in head
    assert "Connection: close" not in head
    assert body.startswith(b"503 Service Unavailable")
    status, head, body = await request(writer, reader, "HEAD")
    assert (status, body) == (503, b"")
    assert running[0] == 2  # the refused handlers never started

    gate.set()
    for busy_reader, _ in busy:
        head = await asyncio.wait_for(busy_reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200")
    # the refused client's connection is still good, and served now
    status, _, body = await request(writer, reader)
    assert (status, body) == (200, b"done")
    for _, w in [*busy, (reader, writer)]:
        w.close()


async def test_burst_past_the_limit_gets_503s_not_a_queue(serve_app: ServeApp) -> None:
    app, gate, running = gated_app()
    port = await serve_app(app, max_concurrent_requests=8)
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(50)]
    for _, writer in conns:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    heads = [asyncio.ensure_future(reader.readuntil(b"\r\n\r\n")) for reader, _ in conns]
    # While the gate is closed, 42 answers arrive: every one a 503 with Retry-After.
    await until(lambda: sum(h.done() for h in heads) == 42)
    refused = [h.result() for h in heads if h.done()]
    assert all(h.startswith(b"HTTP/1.1 503") and b"Retry-After: 1\r\n" in h for h in refused)
    assert running[0] == 8
    gate.set()
    served = await asyncio.wait_for(asyncio.gather(*(h for h in heads if not h.done())), 10)
    assert len(served) == 8 and all(h.startswith(b"HTTP/1.1 200") for h in served)
    for _, writer in conns:
        writer.close()


async def test_unlimited_by_default(serve_app: ServeApp) -> None:
    app, gate, running = gated_app()
    port = await serve_app(app)
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(100)]
    for _, writer in conns:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await until(lambda: running[0] == 100)
    gate.set()
    for reader, writer in conns:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200")
        writer.close()


async def test_connection_limit_503_carries_retry_after(serve_app: ServeApp) -> None:
    app, gate, _ = gated_app()
    port = await serve_app(app, max_connections=1, retry_after=3)
    _, first = await asyncio.open_connection("127.0.0.1", port)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode()
    assert head.startswith("HTTP/1.1 503")
    assert "Retry-After: 3\r\n" in head and "Connection: close\r\n" in head
    gate.set()
    first.close()
    writer.close()


def test_the_limit_costs_nothing_when_off() -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response()

    plain = web.Server(handler)
    limited = web.Server(handler, max_concurrent_requests=4)
    # Without the limit, connections call the server's own request entry point directly.
    assert plain._entry == plain._handle
    assert limited._entry != limited._handle
