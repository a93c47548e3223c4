"""Small apps the deployment tests serve through gunicorn, nginx and heron's own runners."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

from heron import web
from heron.remotes import XForwardedFiltered

#: A file the slow handler creates once it runs (the test waits for it, then signals).
_MARKER = os.environ.get("HERON_TEST_MARKER", "")


async def whoami(request: web.Request) -> web.Response:
    """What the app sees of the client: address, scheme, host, and which process answered."""
    return web.json_response(
        {
            "remote": request.remote,
            "scheme": request.scheme,
            "secure": request.secure,
            "host": request.host,
            "pid": os.getpid(),
        }
    )


async def slow(request: web.Request) -> web.Response:
    """Answers after ``?s=`` seconds (default 1); announces itself through the marker file.

    With ``?held``, it answers as soon as the test removes the marker (``s`` bounds the wait):
    the test, not a fixed delay, decides how long the request stays in flight.
    """
    seconds = float(request.query.get("s", "1"))
    marker = Path(_MARKER) if _MARKER else None
    if marker is not None:
        marker.write_text(str(os.getpid()))
    if marker is None or "held" not in request.query:
        await asyncio.sleep(seconds)
    else:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while marker.exists() and loop.time() < deadline:
            await asyncio.sleep(0.01)
    return web.Response(text="slow done")


async def block(request: web.Request) -> web.Response:
    """Blocks the event loop for ``?s=`` seconds (a handler that forgot to await)."""
    time.sleep(float(request.query.get("s", "5")))
    return web.Response(text="unblocked")


async def echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == web.WSMsgType.TEXT:
            await ws.send_str(f"echo:{msg.data}:{request.remote}")
    return ws


def _routes(app: web.Application) -> web.Application:
    app.router.add_get("/", whoami)
    app.router.add_get("/slow", slow)
    app.router.add_get("/block", block)
    app.router.add_get("/ws", echo)
    return app


async def init() -> web.Application:
    """gunicorn target ``tests.deploy.apps:init`` (an async factory, as aiohttp's worker takes)."""
    app = web.Application()

    async def on_shutdown(app: web.Application) -> None:
        print("on_shutdown", flush=True)

    app.on_shutdown.append(on_shutdown)
    return _routes(app)


async def failing() -> web.Application:
    """A factory that cannot start: the arbiter must halt, not respawn forever."""
    raise RuntimeError("this app cannot start")


def behind_proxy(argv: list[str] | None = None) -> web.Application:
    """The app behind nginx: believes the forwarded headers only from the peers named in
    ``HERON_TRUSTED`` (a JSON list; ``"unix"`` for a Unix-socket peer).  ``argv``: heron's
    CLI passes its unparsed arguments (gunicorn's ``behind_proxy()`` passes none)."""
    trusted = json.loads(os.environ.get("HERON_TRUSTED", '["unix"]'))
    app = web.Application(middlewares=[XForwardedFiltered(trusted).middleware])
    return _routes(app)
