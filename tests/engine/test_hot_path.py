"""The request hot path keeps asyncio's semantics.

Each test runs twice: with the loop's default task creation, and (3.12+) with
``asyncio.eager_task_factory``, under which a handler that finishes without suspending
runs during its Task's creation.  Either way it must run in its own Task
(``asyncio.current_task()``, ``request.task``), in its own copy of the context,
cancellable, and pipelined requests that finish eagerly must be answered in order
without growing the stack.
"""

from __future__ import annotations

import asyncio
import contextvars
import re
import sys
from collections.abc import AsyncIterator
from typing import Any

import h11
import pytest

from heron import web

from .conftest import RawClient, Serve

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")

GET = b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture(autouse=True, params=["default", "eager"])
async def task_factory(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Run the test's server (on this loop) with each way of starting handler Tasks."""
    if request.param == "default":
        yield
        return
    factory = getattr(asyncio, "eager_task_factory", None)
    if factory is None:
        pytest.skip("asyncio.eager_task_factory is new in 3.12")
    loop = asyncio.get_running_loop()
    loop.set_task_factory(factory)
    probe = asyncio.sleep(0)
    try:
        await loop.create_task(probe)
    except TypeError as exc:  # uvloop on 3.13 (MagicStack/uvloop#746)
        probe.close()
        loop.set_task_factory(None)
        pytest.skip(f"this loop cannot use asyncio.eager_task_factory: {exc}")
    try:
        yield
    finally:
        loop.set_task_factory(None)


async def get(client: RawClient, path: str) -> tuple[h11.Response, bytes]:
    """One request on a keep-alive connection, made through h11 so it parses the reply."""
    conn = client.conn
    if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
        conn.start_next_cycle()
    data = conn.send(h11.Request(method="GET", target=path, headers=[("Host", "x")]))
    data = (data or b"") + (conn.send(h11.EndOfMessage()) or b"")
    await client.send(data)
    return await client.response()


async def read_bodies(client: RawClient, count: int) -> list[bytes]:
    """Read ``count`` pipelined ``text/plain`` responses; return their bodies in order."""
    data = b""
    pattern = re.compile(rb"HTTP/1\.1 200 OK\r\n.*?Content-Length: (\d+)\r\n.*?\r\n\r\n", re.S)
    bodies: list[bytes] = []
    while len(bodies) < count:
        chunk = await client.read_raw()
        assert chunk, f"closed after {len(bodies)} responses"
        data += chunk
        while (match := pattern.match(data)) is not None:
            end = match.end() + int(match.group(1))
            if len(data) < end:
                break
            bodies.append(data[match.end() : end])
            data = data[end:]
    return bodies


async def test_contextvar_from_middleware_reaches_handler_and_does_not_leak(
    serve: Serve, raw: Any
) -> None:
    before: list[str] = []

    @web.middleware
    async def tag(request: web.Request, handler: Any) -> web.StreamResponse:
        before.append(VAR.get())
        VAR.set(request.path)
        return await handler(request)

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=VAR.get())

    app = web.Application(middlewares=[tag])
    app.router.add_get("/{name}", handler)
    client: RawClient = await raw(await serve(app))
    for path in ("/a", "/b", "/c"):
        response, body = await get(client, path)
        assert response.status_code == 200
        assert body == path.encode()
    assert before == ["unset"] * 3
    assert VAR.get() == "unset"


async def test_contextvar_does_not_leak_to_the_next_pipelined_request(
    serve: Serve, raw: Any
) -> None:
    # A request that suspends finishes inside its own Task; the next queued request is
    # started from there and must not inherit what that Task's handler set.
    async def handler(request: web.BaseRequest) -> web.Response:
        seen = VAR.get()
        VAR.set(request.path)
        if request.path.endswith("s"):
            await asyncio.sleep(0.01)
        return web.Response(text=seen)

    client: RawClient = await raw(await serve(handler))
    paths = [b"/1s", b"/2", b"/3s", b"/4s", b"/5", b"/6"]
    await client.send(b"".join(GET % p for p in paths))
    assert await read_bodies(client, len(paths)) == [b"unset"] * len(paths)


async def test_current_task_in_a_handler_is_the_request_task(serve: Serve, raw: Any) -> None:
    seen: list[tuple[bool, bool, bool]] = []

    async def handler(request: web.Request) -> web.Response:
        if request.path == "/suspends":
            await asyncio.sleep(0)
        task = asyncio.current_task()
        assert task is not None
        seen.append((isinstance(task, asyncio.Task), task is request.task, task.done()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/{name}", handler)
    client: RawClient = await raw(await serve(app))
    for path in ("/eager", "/suspends", "/eager"):
        response, _ = await get(client, path)
        assert response.status_code == 200
    assert seen == [(True, True, False)] * 3


async def test_tasks_are_distinct_per_request(serve: Serve, raw: Any) -> None:
    tasks: list[asyncio.Task[Any] | None] = []

    async def handler(request: web.BaseRequest) -> web.Response:
        tasks.append(asyncio.current_task())
        return web.Response(text="ok")

    client: RawClient = await raw(await serve(handler))
    for _ in range(3):
        await get(client, "/")
    assert len({id(task) for task in tasks}) == 3
    assert all(task is not None and task.done() for task in tasks)


async def test_handler_cancellation_after_a_synchronous_start(serve: Serve, raw: Any) -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def handler(request: web.BaseRequest) -> web.Response:
        started.set()  # runs before the first suspension: possibly during an eager start
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return web.Response(text="late")

    client: RawClient = await raw(await serve(handler, handler_cancellation=True))
    await client.send(GET % b"/")
    await asyncio.wait_for(started.wait(), 5)
    client.close()
    await asyncio.wait_for(cancelled.wait(), 5)


async def test_handler_not_cancelled_by_default(serve: Serve, raw: Any) -> None:
    started = asyncio.Event()
    finished = asyncio.Event()

    async def handler(request: web.BaseRequest) -> web.Response:
        started.set()
        await asyncio.sleep(0.05)
        finished.set()
        return web.Response(text="done")

    client: RawClient = await raw(await serve(handler))
    await client.send(GET % b"/")
    await asyncio.wait_for(started.wait(), 5)
    client.close()
    await asyncio.wait_for(finished.wait(), 5)


async def test_request_task_can_be_cancelled_from_outside(serve: Serve, raw: Any) -> None:
    # The Task an eagerly started handler sees is the one that runs it: cancelling it
    # later (here from a timer) cancels the handler, and the connection closes.
    cancelled = asyncio.Event()

    async def handler(request: web.BaseRequest) -> web.Response:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().call_later(0.01, task.cancel)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return web.Response(text="late")

    client: RawClient = await raw(await serve(handler))
    await client.send(GET % b"/")
    await asyncio.wait_for(cancelled.wait(), 5)
    assert await client.closed_by_peer()


async def test_many_pipelined_requests_that_never_suspend(serve: Serve, raw: Any) -> None:
    count = sys.getrecursionlimit() // 2  # would overflow if each started the next

    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text=request.path)

    client: RawClient = await raw(await serve(handler))
    client.writer.write(b"".join(GET % b"/%d" % i for i in range(count)))
    bodies = await read_bodies(client, count)
    assert bodies == [b"/%d" % i for i in range(count)]


async def test_pipelined_mix_of_eager_and_suspending_handlers(serve: Serve, raw: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        if int(request.path[1:]) % 3 == 0:
            await asyncio.sleep(0)
        body = await request.read()
        return web.Response(text=request.path + body.decode())

    client: RawClient = await raw(await serve(handler))
    requests = []
    for i in range(60):
        if i % 4 == 0:
            requests.append(b"POST /%d HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n!!" % i)
        else:
            requests.append(GET % b"/%d" % i)
    await client.send(b"".join(requests))
    bodies = await read_bodies(client, 60)
    assert bodies == [b"/%d" % i + (b"!!" if i % 4 == 0 else b"") for i in range(60)]


async def test_cached_head_matches_the_general_path(serve: Serve, raw: Any) -> None:
    # A Response whose only header is Content-Type takes the cached-head path; adding any
    # other header takes the general one.  Both must write the same fields.
    async def handler(request: web.BaseRequest) -> web.Response:
        response = web.Response(text="same", content_type="text/x")
        if request.path == "/general":
            response.headers["X-Extra"] = "1"
        return response

    client: RawClient = await raw(await serve(handler))
    heads = []
    for path in ("/cached", "/general", "/cached"):
        response, body = await get(client, path)
        assert body == b"same"
        heads.append([(k, v) for k, v in response.headers if k not in (b"date", b"x-extra")])
    assert heads[0] == heads[1] == heads[2]
    assert heads[0] == [
        (b"content-type", b"text/x; charset=utf-8"),
        (b"content-length", b"4"),
        (b"server", heads[0][-1][1]),
    ]


async def test_the_task_factory_in_use_is_the_one_requested(
    request: pytest.FixtureRequest,
) -> None:
    # Guards the fixture above: the eager runs really run under the eager factory.
    eager = request.node.callspec.params["task_factory"] == "eager"
    factory = asyncio.get_running_loop().get_task_factory()
    assert factory is (asyncio.eager_task_factory if eager else None)  # type: ignore[attr-defined]
