"""Fixtures for static-file tests: a real heron server and a raw HTTP client.

Requests are written as raw bytes (so a test can send any request target, including the
forms a normal client would normalise away) and responses are parsed by h11, an
independent HTTP/1.1 implementation.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import h11
import pytest

from heron import web

Serve = Callable[..., Awaitable[int]]


@dataclass
class Reply:
    """One parsed response."""

    status: int
    headers: dict[str, str]  # lower-case names; repeated fields joined with ", "
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """``port = await serve(app, **runner_kwargs)``: the app on 127.0.0.1, stopped at teardown."""
    runners: list[web.AppRunner] = []

    async def start(
        app: web.Application, ssl_context: ssl.SSLContext | None = None, **kw: Any
    ) -> int:
        runner = web.AppRunner(app, access_log=None, **kw)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        runners.append(runner)
        return site.port

    yield start
    for runner in runners:
        await runner.cleanup()


def _request_bytes(method: str, target: bytes, headers: Iterable[tuple[str, str | bytes]]) -> bytes:
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: test"]
    for name, value in headers:
        raw = value if isinstance(value, bytes) else value.encode("utf-8")
        lines.append(name.encode() + b": " + raw)
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def read_reply(
    reader: asyncio.StreamReader, conn: h11.Connection, method: str, timeout: float = 10
) -> Reply:
    """Read one response from ``reader`` with ``conn`` (whose request state is set)."""
    response: h11.Response | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await asyncio.wait_for(reader.read(1 << 20), timeout))
        elif isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert response is not None
            headers: dict[str, str] = {}
            for key, value in response.headers:
                name = key.decode("latin-1")
                text = value.decode("latin-1")
                headers[name] = f"{headers[name]}, {text}" if name in headers else text
            return Reply(response.status_code, headers, bytes(body))
        elif isinstance(event, h11.ConnectionClosed):
            raise ConnectionError("closed before a full response")


async def fetch(
    port: int,
    target: str | bytes,
    headers: Iterable[tuple[str, str | bytes]] = (),
    *,
    method: str = "GET",
    ssl_context: ssl.SSLContext | None = None,
) -> Reply:
    """One request on a fresh connection; the request target is sent byte for byte."""
    raw_target = target if isinstance(target, bytes) else target.encode("latin-1")
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ssl_context)
    try:
        conn = h11.Connection(h11.CLIENT)
        # h11 only tracks state here; the bytes sent are ours.
        conn.send(h11.Request(method=method, target="/", headers=[("Host", "test")]))
        conn.send(h11.EndOfMessage())
        writer.write(_request_bytes(method, raw_target, headers))
        await writer.drain()
        return await read_reply(reader, conn, method)
    finally:
        writer.close()


@pytest.fixture
def tree(tmp_path: Any) -> Any:
    """``tmp_path/public`` (the static root) next to ``tmp_path/secret.txt`` (outside it)."""
    public = tmp_path / "public"
    public.mkdir()
    (public / "hello.txt").write_text("hello, world\n")
    (public / "data.bin").write_bytes(bytes(range(256)) * 4)
    (public / "sub").mkdir()
    (public / "sub" / "page.html").write_text("<p>sub</p>\n")
    (tmp_path / "secret.txt").write_text("TOP SECRET\n")
    return tmp_path
