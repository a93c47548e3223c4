"""Prometheus metrics of one process: requests, latency, gauges, bytes, limits hit.

The instruments are process-wide (one prometheus_client registry), so each test reads the
change it caused.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from heron import web
from heron.client import ClientSession
from heron.observability import metrics

from .conftest import Start
from .probes import Samples, exchange, scrape, status, value


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="hello")


async def upload(request: web.Request) -> web.Response:
    body = await request.read()
    return web.Response(body=body[::-1])


async def until(condition: Callable[[], object], what: str, timeout: float = 5.0) -> None:
    """Poll ``condition`` until it holds, at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.01)


def app_with_metrics(**kwargs: object) -> web.Application:
    app = web.Application(**kwargs)  # type: ignore[arg-type]
    app.router.add_get("/users/{id}", hello)
    app.router.add_get("/named/{id}", hello, name="named_route")
    app.router.add_post("/upload", upload)
    metrics.setup(app)
    return app


async def test_requests_by_route_method_status(start: Start) -> None:
    _, port = await start(app_with_metrics(), access_log=None)
    before = await scrape(port)
    async with ClientSession(f"http://127.0.0.1:{port}") as session:
        for i in range(3):
            async with session.get(f"/users/{i}") as response:
                assert response.status == 200
        async with session.get("/named/7") as response:
            assert response.status == 200
        async with session.get("/no/such/path") as response:
            assert response.status == 404
        async with session.post("/upload", data=b"x" * 1000) as response:
            assert await response.read() == b"x" * 1000
    after = await scrape(port)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    users = {"route": "/users/{id}", "method": "GET", "status": "200"}
    assert delta("heron_requests_total", **users) == 3
    assert delta("heron_request_duration_seconds_count", **users) == 3
    assert delta("heron_request_duration_seconds_bucket", le="+Inf", **users) == 3
    assert 0 < delta("heron_request_duration_seconds_sum", **users) < 3
    named = {"route": "named_route", "method": "GET", "status": "200"}
    assert delta("heron_requests_total", **named) == 1
    unmatched = {"route": "(unmatched)", "method": "GET", "status": "404"}
    assert delta("heron_requests_total", **unmatched) == 1
    assert delta("heron_request_body_bytes_total", route="/upload") == 1000
    assert delta("heron_response_body_bytes_total", route="/upload") == 1000
    assert delta("heron_response_body_bytes_total", route="/users/{id}") == 3 * len("hello")
    # No raw path ever becomes a label value.
    assert not any("/users/0" in str(key) or "/no/such" in str(key) for key in after)


async def test_in_flight_connections_and_websockets(start: Start) -> None:
    entered = asyncio.Event()
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        entered.set()
        await release.wait()
        return web.Response(text="done")

    async def ws(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        async for message in socket:
            await socket.send_str(message.data)
        return socket

    app = app_with_metrics()
    app.router.add_get("/slow", slow)
    app.router.add_get("/ws", ws)
    _, port = await start(app, access_log=None)
    samples: Samples = await scrape(port)
    base_flight = value(samples, "heron_requests_in_flight")
    base_connections = value(samples, "heron_connections_open")
    base_ws = value(samples, "heron_websockets_open")

    async with ClientSession(f"http://127.0.0.1:{port}") as session:
        pending = asyncio.ensure_future(session.get("/slow"))
        await asyncio.wait_for(entered.wait(), 5)
        samples = await scrape(port)
        # (Each scrape counts itself in flight and its own connection as open.)
        assert value(samples, "heron_requests_in_flight") == base_flight + 1
        assert value(samples, "heron_connections_open") == base_connections + 1
        release.set()
        response = await pending
        assert await response.text() == "done"
        response.release()

        socket = await session.ws_connect("/ws")
        await socket.send_str("ping")
        assert (await socket.receive()).data == "ping"
        samples = await scrape(port)
        assert value(samples, "heron_websockets_open") == base_ws + 1
        await socket.close()

        async def websockets_back() -> bool:
            return value(await scrape(port), "heron_websockets_open") == base_ws

        deadline = time.monotonic() + 5
        while not await websockets_back():
            assert time.monotonic() < deadline, "the WebSocket gauge never went back"
            await asyncio.sleep(0.01)
    deadline = time.monotonic() + 5
    while value(samples := await scrape(port), "heron_connections_open") != base_connections:
        assert time.monotonic() < deadline, "the connection gauge never went back"
        await asyncio.sleep(0.01)
    assert value(samples, "heron_requests_in_flight") == base_flight


async def raw_status(port: int, request: bytes) -> int:
    return status(await exchange(port, request))


async def test_limits_hit(start: Start) -> None:
    _, port = await start(app_with_metrics(client_max_size=100), access_log=None, head_timeout=0.2)
    _, full_port = await start(web.Application(), access_log=None, max_connections=1)
    before = await scrape(port)
    huge = b"X-Big: " + b"a" * 9000 + b"\r\n"
    assert await raw_status(port, b"GET / HTTP/1.1\r\nHost: x\r\n" + huge + b"\r\n") == 431
    assert await raw_status(port, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n") == 414
    assert await raw_status(port, b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n") == 400
    big_body = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n" + b"b" * 200
    assert await raw_status(port, big_body) == 413
    assert await raw_status(port, b"GET / HTTP/1.1\r\nHost: x\r\n") == 408  # head never ends
    held_reader, held = await asyncio.open_connection("127.0.0.1", full_port)
    held.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await held_reader.readuntil(b"Not Found")
    assert await raw_status(full_port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == 503
    held.close()
    after = await scrape(port)
    for code in ("400", "408", "413", "414", "431", "503"):
        assert (
            value(after, "heron_rejections_total", status=code)
            - value(before, "heron_rejections_total", status=code)
            == 1
        ), code


async def test_metrics_path_and_content_type(start: Start) -> None:
    app = web.Application()
    metrics.setup(app, path="/internal/prom")
    _, port = await start(app, access_log=None)
    async with (
        ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/internal/prom") as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = await response.text()
    assert "# TYPE heron_requests_total counter" in text
    assert "# TYPE heron_request_duration_seconds histogram" in text
    async with (
        ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        assert response.status == 404
