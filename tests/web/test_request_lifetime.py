"""A served request and its response are freed by reference counting alone.

A reference cycle through a request would keep it (its headers, its body, its match info)
alive until the garbage collector runs; under a flood of 404s from a scanner that is memory
the server holds for nothing.  These requests go through a real socket, with the collector
off, and nothing of heron's request or response may be left for it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from heron import web
from heron._web.request import BaseRequest
from heron._web.response import StreamResponse


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _cyclic_garbage_of_heron() -> list[str]:
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        found = [
            type(obj).__name__
            for obj in gc.garbage
            if isinstance(obj, (BaseRequest, StreamResponse))
        ]
    finally:
        gc.garbage.clear()
        gc.set_debug(0)
    return found


async def _raise_forbidden(request: web.Request) -> web.Response:
    raise web.HTTPForbidden()


async def _fail(request: web.Request) -> web.Response:
    raise ValueError("a bug in the handler")


async def _hello(request: web.Request) -> web.Response:
    return web.Response(text="hello")


@web.middleware
async def _passthrough(request: web.Request, handler: Any) -> web.StreamResponse:
    response: web.StreamResponse = await handler(request)
    return response


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/hello", 200),
        ("GET", "/missing", 404),
        ("POST", "/hello", 405),
        ("GET", "/forbidden", 403),
        ("GET", "/fail", 500),
    ],
)
async def test_answered_requests_leave_no_cycles(
    aiohttp_client: Any, collector_off: None, method: str, path: str, status: int
) -> None:
    app = web.Application(middlewares=[_passthrough])
    app.router.add_get("/hello", _hello)
    app.router.add_get("/forbidden", _raise_forbidden)
    app.router.add_get("/fail", _fail)
    client = await aiohttp_client(app)
    for _ in range(5):
        async with client.request(method, path) as response:
            assert response.status == status
            await response.read()
    assert _cyclic_garbage_of_heron() == []
