"""Fixtures for client tests: an aiohttp.web echo server and scripted raw servers.

Everything runs on real sockets of 127.0.0.1.  A raw server runs one coroutine per
connection, so a test can script exactly the bytes the client receives.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from yarl import URL

ConnHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    """Read one request: (request line, lower-cased headers, body by Content-Length/chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = b""
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                break
            parts.append(data[:-2])
        body = b"".join(parts)
    return lines[0], headers, body


class RawServer:
    """An asyncio server whose connections are handled by a test-provided coroutine."""

    def __init__(self, handler: ConnHandler) -> None:
        self._handler = handler
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = 0
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_connection, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def url(self, path: str = "/") -> URL:
        return URL(f"http://127.0.0.1:{self.port}").join(URL(path))

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        self._writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)


@pytest.fixture
async def raw_server(
    loop: asyncio.AbstractEventLoop,
) -> AsyncIterator[Callable[[ConnHandler], Awaitable[RawServer]]]:
    servers: list[RawServer] = []

    async def make(handler: ConnHandler) -> RawServer:
        server = RawServer(handler)
        await server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.close()


def _echo_app() -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "headers": dict(request.headers),
                "body": body.decode("latin-1"),
                "peer_port": request.transport.get_extra_info("peername")[1]
                if request.transport
                else None,
            }
        )

    async def redirect(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        target = request.query.get("to", "/echo")
        raise _redirect_exc(code, target)

    async def loop_redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def set_cookie(request: web.Request) -> web.Response:
        resp = web.Response(text="set")
        resp.set_cookie("token", "abc123")
        return resp

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (1024 * 1024))

    async def gzipped(request: web.Request) -> web.Response:
        resp = web.Response(text="hello " * 100)
        resp.enable_compression(web.ContentCoding.gzip)
        return resp

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="status")

    async def text(request: web.Request) -> web.Response:
        return web.Response(text="plain")

    app = web.Application()
    app.router.add_route("*", "/echo", echo)
    app.router.add_route("*", "/redirect/{code}", redirect)
    app.router.add_get("/loop", loop_redirect)
    app.router.add_get("/set-cookie", set_cookie)
    app.router.add_get("/big", big)
    app.router.add_get("/gzip", gzipped)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/text", text)
    return app


def _redirect_exc(code: int, target: str) -> web.HTTPException:
    classes: dict[int, type[web.HTTPMove]] = {
        301: web.HTTPMovedPermanently,
        302: web.HTTPFound,
        303: web.HTTPSeeOther,
        307: web.HTTPTemporaryRedirect,
        308: web.HTTPPermanentRedirect,
    }
    return classes[code](target)


@pytest.fixture
async def aio_url(loop: asyncio.AbstractEventLoop) -> AsyncIterator[URL]:
    """Base URL of an aiohttp.web echo server (an independent server implementation)."""
    runner = web.AppRunner(_echo_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield URL(f"http://127.0.0.1:{site.port}")
    await runner.cleanup()
