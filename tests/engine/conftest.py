"""Fixtures for engine tests: a real heron server on a free port and a raw client.

The raw client parses every response with h11, an independent HTTP/1.1
implementation, so each test also checks that what heron writes is valid.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import h11
import pytest

from heron import web


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a server started later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


Serve = Callable[..., Awaitable[int]]
Started = Callable[..., Awaitable[tuple[int, web.Server]]]


@pytest.fixture
async def started() -> AsyncIterator[Started]:
    """``port, server = await started(app_or_handler, **server_kwargs)``; cleaned up at
    teardown."""
    runners: list[web.BaseRunner] = []

    async def start(target: Any, **kwargs: Any) -> tuple[int, web.Server]:
        runner: web.BaseRunner
        if isinstance(target, web.Application):
            runner = web.AppRunner(target, access_log=None, **kwargs)
        else:
            runner = web.ServerRunner(web.Server(target, access_log=None, **kwargs))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        runners.append(runner)
        assert runner.server is not None
        return site.port, runner.server

    yield start
    for runner in runners:
        await asyncio.wait_for(runner.cleanup(), 30)


@pytest.fixture
async def serve(started: Started) -> Serve:
    """``port = await serve(app_or_handler, **server_kwargs)``; stopped at teardown."""

    async def start(target: Any, **kwargs: Any) -> int:
        port, _ = await started(target, **kwargs)
        return port

    return start


class RawClient:
    """Bytes out over a real socket; responses parsed by h11."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.conn = h11.Connection(h11.CLIENT)
        self.informational: list[h11.InformationalResponse] = []

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self, method: str = "GET") -> tuple[h11.Response, bytes]:
        """Read the next response (to a request made with ``method``)."""
        conn = self.conn
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        if conn.our_state is h11.IDLE:
            conn.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
            conn.send(h11.EndOfMessage())
        response: h11.Response | None = None
        body = b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await asyncio.wait_for(self.reader.read(65536), 10)
                conn.receive_data(data)
            elif isinstance(event, h11.InformationalResponse):
                self.informational.append(event)
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert response is not None
                return response, body
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("closed before a response")

    async def read_raw(self) -> bytes:
        return await asyncio.wait_for(self.reader.read(65536), 10)

    async def closed_by_peer(self, timeout: float = 10) -> bool:
        """True once the server closes the connection (bounded wait)."""
        while True:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                return True

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
async def raw() -> AsyncIterator[Callable[[int], Awaitable[RawClient]]]:
    clients: list[RawClient] = []

    async def connect(port: int) -> RawClient:
        client = await RawClient.connect(port)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


def header(response: h11.Response, name: bytes) -> bytes | None:
    for key, value in response.headers:
        if key == name.lower():
            return bytes(value)
    return None
