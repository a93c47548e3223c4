"""A small notes service, written as an aiohttp.web project writes it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from heron import web


class Database:
    """An in-memory store behind a pool of connections, like asyncpg's pool.

    The pool is an ``asyncio.Queue``: it belongs to the event loop that first waits on
    it, so the fixture that opens the database and the tests that use it must share one.
    """

    def __init__(self) -> None:
        self._pool: asyncio.Queue[str] = asyncio.Queue()
        self.notes: dict[int, str] = {}
        self.closed = False

    @classmethod
    async def connect(cls, size: int = 2) -> Database:
        db = cls()
        for number in range(size):
            await db._pool.put(f"connection-{number}")
        return db

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[str]:
        connection = await asyncio.wait_for(self._pool.get(), timeout=5)
        try:
            yield connection
        finally:
            self._pool.put_nowait(connection)

    async def close(self) -> None:
        self.closed = True


DB = web.AppKey("DB", Database)
routes = web.RouteTableDef()


@routes.get("/notes")
async def list_notes(request: web.Request) -> web.Response:
    async with request.app[DB].acquire():
        notes = request.app[DB].notes
        return web.json_response([{"id": k, "text": v} for k, v in sorted(notes.items())])


@routes.post("/notes")
async def add_note(request: web.Request) -> web.Response:
    data = await request.json()
    text = str(data.get("text", "")).strip()
    if not text:
        raise web.HTTPBadRequest(text="empty note")
    async with request.app[DB].acquire():
        notes = request.app[DB].notes
        note_id = max(notes, default=0) + 1
        notes[note_id] = text
    return web.json_response({"id": note_id, "text": text}, status=201)


@routes.get("/notes/{note_id:\\d+}")
async def get_note(request: web.Request) -> web.Response:
    note_id = int(request.match_info["note_id"])
    async with request.app[DB].acquire():
        text = request.app[DB].notes.get(note_id)
    if text is None:
        raise web.HTTPNotFound(text=f"no note {note_id}")
    return web.json_response({"id": note_id, "text": text})


@routes.post("/login")
async def login(request: web.Request) -> web.Response:
    resp = web.Response(text="welcome")
    resp.set_cookie("session", "alice", path="/notes")
    resp.set_cookie("theme", "dark")
    resp.set_cookie("tracker", "x", domain="ads.example.com")
    return resp


@routes.get("/whoami")
@routes.get("/notes/whoami")
async def whoami(request: web.Request) -> web.Response:
    return web.json_response(dict(request.cookies))


@routes.get("/ws")
async def shout(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        await ws.send_str(msg.data.upper())
    return ws


def create_app(db: Database) -> web.Application:
    app = web.Application()
    app[DB] = db
    app.add_routes(routes)
    return app
