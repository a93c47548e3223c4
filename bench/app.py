"""The benchmark application, written once against the aiohttp.web API.

``build_app(web)`` takes the ``web`` *module* (``aiohttp.web`` or ``heron.web``), so the very
same code is served by both implementations; nothing here imports either of them.

Routes (every scenario in ``scenarios.py`` hits one of them):

- ``GET /plaintext``: text ``Hello, World!``
- ``GET /json``: ``json_response`` of a small dict
- ``GET /api/v1/items/{item_id}``: the last of ``routes`` API routes (plain and dynamic mixed),
  reads ``match_info`` and the query string (``?fields=name,price``)
- ``POST /echo``: echoes the request body (``await request.read()``)
- ``GET /sub/hello``: a sub-application behind three trivial ``@web.middleware`` middlewares
- ``GET /ws``: a WebSocket echo (``web.WebSocketResponse``; text and binary messages echoed)
- ``GET /static/<file>``: ``app.router.add_static`` of ``static_dir``, only when one is given
  (``write_static_dir`` writes the 64 KiB ``STATIC_FILE`` the static scenario fetches)
- anything else: 404 from the router
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

PLAINTEXT = "Hello, World!"
JSON_BODY: dict[str, Any] = {"message": "Hello, World!", "id": 1, "tags": ["a", "b"]}
DEFAULT_ROUTES = 50
ITEMS_PATH = "/api/v1/items/{item_id}"
WS_PATH = "/ws"
STATIC_PREFIX = "/static"
STATIC_FILE = "64k.bin"
STATIC_SIZE = 64 * 1024

_Middleware = Callable[[Any, Any], Awaitable[Any]]


def build_app(
    web: ModuleType, routes: int = DEFAULT_ROUTES, static_dir: str | Path | None = None
) -> Any:
    """Return the benchmark ``web.Application`` built with the given ``web`` module.

    ``routes`` is the size of the API route table (``routes - 1`` filler routes, then the
    ``/api/v1/items/{item_id}`` route the routing scenarios hit, registered last so that no
    matcher finds it by luck of order). ``static_dir``, when given, is served under
    ``/static`` with ``app.router.add_static``.
    """
    if routes < 1:
        raise ValueError(f"routes must be >= 1, got {routes}")
    app = web.Application()
    app.router.add_get("/plaintext", _plaintext_handler(web))
    app.router.add_get("/json", _json_handler(web))
    app.router.add_post("/echo", _echo_handler(web))
    app.router.add_get(WS_PATH, _ws_echo_handler(web))
    _add_api_routes(web, app, routes)
    if static_dir is not None:
        app.router.add_static(STATIC_PREFIX, static_dir)
    app.add_subapp("/sub", _build_subapp(web))
    return app


def static_body() -> bytes:
    """The content of ``STATIC_FILE``: ``STATIC_SIZE`` fixed pseudo-random bytes."""
    return hashlib.shake_256(STATIC_FILE.encode()).digest(STATIC_SIZE)


def write_static_dir(directory: Path) -> Path:
    """Create ``directory`` holding ``STATIC_FILE`` (for ``build_app(static_dir=...)``)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / STATIC_FILE).write_bytes(static_body())
    return directory


def _plaintext_handler(web: ModuleType) -> Any:
    async def plaintext(request: Any) -> Any:
        return web.Response(text=PLAINTEXT)

    return plaintext


def _json_handler(web: ModuleType) -> Any:
    async def json(request: Any) -> Any:
        return web.json_response(JSON_BODY)

    return json


def _echo_handler(web: ModuleType) -> Any:
    async def echo(request: Any) -> Any:
        body = await request.read()
        return web.Response(body=body, content_type="application/octet-stream")

    return echo


def _ws_echo_handler(web: ModuleType) -> Any:
    async def ws_echo(request: Any) -> Any:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == web.WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type == web.WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    return ws_echo


def _item_handler(web: ModuleType) -> Any:
    async def item(request: Any) -> Any:
        fields = request.query.get("fields", "")
        return web.json_response(
            {"id": request.match_info["item_id"], "fields": fields.split(",") if fields else []}
        )

    return item


def _filler_handler(web: ModuleType) -> Any:
    async def filler(request: Any) -> Any:
        return web.Response(text="filler")

    return filler


def filler_paths(count: int) -> list[str]:
    """Return ``count`` API paths alternating plain (``/api/v1/res3``) and dynamic ones."""
    return [f"/api/v1/res{i}" if i % 2 == 0 else f"/api/v1/res{i}/{{res_id}}" for i in range(count)]


def _add_api_routes(web: ModuleType, app: Any, routes: int) -> None:
    filler = _filler_handler(web)
    for path in filler_paths(routes - 1):
        app.router.add_get(path, filler)
    app.router.add_get(ITEMS_PATH, _item_handler(web))


def _tagging_middleware(web: ModuleType, key: str) -> Any:
    """Return a trivial middleware that sets ``request[key]`` and calls the handler."""

    middleware: Callable[[_Middleware], _Middleware] = web.middleware

    @middleware
    async def tag(request: Any, handler: Any) -> Any:
        request[key] = True
        return await handler(request)

    return tag


def _build_subapp(web: ModuleType) -> Any:
    middlewares = [_tagging_middleware(web, f"bench_mw{i}") for i in range(3)]
    sub = web.Application(middlewares=middlewares)

    async def hello(request: Any) -> Any:
        return web.Response(text=PLAINTEXT)

    sub.router.add_get("/hello", hello)
    return sub
