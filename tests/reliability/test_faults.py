"""Faults inside the server: none takes down the process or another connection.

Covered elsewhere (see docs/reliability.md): a handler that raises
(tests/engine/test_http11.py::test_handler_exception_500_without_traceback), hangs past
shutdown (tests/engine/test_run_app.py::test_shutdown_timeout_cancels_stuck_handler), an
on_startup that fails (test_run_app.py::test_startup_failure_runs_cleanup_and_exits_nonzero).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h11
import pytest

from heron import web

from .conftest import RawClient, Started, header, wait_for

GET = b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n"


async def hello(request: web.BaseRequest) -> web.Response:
    return web.Response(text="Hello, world")


async def _bystander(port: int) -> RawClient:
    """A keep-alive connection opened before the fault, checked after it."""
    client = await RawClient.connect(port)
    await client.send(GET % b"/ok")
    response, _ = await client.response()
    assert response.status_code == 200
    return client


async def _still_ok(client: RawClient) -> None:
    await client.send(GET % b"/ok")
    response, body = await client.response()
    assert response.status_code == 200 and body == b"Hello, world"


async def test_middleware_raising_is_a_500(started: Started, raw: Any) -> None:
    @web.middleware
    async def broken(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == "/boom":
            raise RuntimeError("middleware bug")
        response: web.StreamResponse = await handler(request)
        return response

    app = web.Application(middlewares=[broken])
    app.router.add_get("/ok", hello)
    app.router.add_get("/boom", hello)
    port, _ = await started(app)
    other = await _bystander(port)
    client: RawClient = await raw(port)
    await client.send(GET % b"/boom")
    response, body = await client.response()
    assert response.status_code == 500 and b"middleware bug" not in body
    assert await client.closed_by_peer()  # closed after the 500, as by aiohttp
    await _still_ok(await raw(port))  # the server keeps working
    await _still_ok(other)
    other.close()


async def test_handler_reusing_a_response_is_a_500(started: Started, raw: Any) -> None:
    """A handler that leaks its response object into a second request."""
    leaked: list[web.Response] = []

    async def handler(request: web.Request) -> web.Response:
        if not leaked:
            leaked.append(web.Response(text="first"))
        return leaked[0]

    app = web.Application()
    app.router.add_get("/ok", hello)
    app.router.add_get("/leak", handler)
    port, _ = await started(app)
    other = await _bystander(port)
    client: RawClient = await raw(port)
    await client.send(GET % b"/leak")
    response, body = await client.response()
    assert response.status_code == 200 and body == b"first"
    await client.send(GET % b"/leak")
    response, _ = await client.response()
    assert response.status_code == 500
    await _still_ok(other)
    other.close()


async def test_stream_handler_failing_mid_body_closes_only_its_connection(
    started: Started, raw: Any
) -> None:
    """Head and part of the body out, then the handler raises: that connection is closed
    (the client sees a truncated chunked body, never a silent success); others continue."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"partial")
        raise RuntimeError("failed half way")

    app = web.Application()
    app.router.add_get("/ok", hello)
    app.router.add_get("/half", handler)
    port, server = await started(app)
    other = await _bystander(port)
    client: RawClient = await raw(port)
    await client.send(GET % b"/half")
    with pytest.raises(h11.RemoteProtocolError, match="incomplete chunked read"):
        await client.response()
    await wait_for(lambda: len(server.connections) == 1)
    await _still_ok(other)
    other.close()


async def test_client_reset_mid_body(started: Started) -> None:
    """The client sends half a body and resets: the handler's read fails, the
    connection is dropped, the server carries on."""
    outcome: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()
    reading = asyncio.Event()

    async def upload(request: web.Request) -> web.Response:
        reading.set()
        try:
            await request.read()
        except BaseException as exc:
            outcome.set_result(exc)
            raise
        raise AssertionError("the body cannot be complete")

    app = web.Application(client_max_size=10 * 2**20)
    app.router.add_get("/ok", hello)
    app.router.add_post("/up", upload)
    port, server = await started(app)
    other = await _bystander(port)
    sock = socket.create_connection(("127.0.0.1", port))
    try:
        sock.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
        sock.sendall(b"x" * 300_000)
        await asyncio.wait_for(reading.wait(), 10)
    finally:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # RST
    exc = await asyncio.wait_for(outcome, 10)
    assert isinstance(exc, (ConnectionError, web.RequestPayloadError)), exc
    await wait_for(lambda: len(server.connections) == 1)
    await _still_ok(other)
    other.close()


# --------------------------------------------------------------------------- disk full


@contextlib.contextmanager
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _free_blocks(path: Path) -> int:
    return os.statvfs(path).f_bfree


def _open_tempfiles() -> int:
    return sum("(deleted)" in os.readlink(f"/proc/self/fd/{fd}") for fd in _fds())


def _fds() -> list[str]:
    out = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            os.readlink(f"/proc/self/fd/{fd}")
            out.append(fd)
    return out


async def test_disk_full_while_spooling_upload(
    started: Started, raw: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upload spooled to a full disk: a clean 500, no temporary file left behind
    (the filesystem's free space comes back), and the server keeps serving."""
    with tiny_tmpfs(tmp_path) as spool:
        monkeypatch.setattr(tempfile, "tempdir", str(spool))
        free_before = _free_blocks(spool)
        deleted_before = _open_tempfiles()

        async def upload(request: web.Request) -> web.Response:
            form = await request.post()
            field: Any = form["f"]
            return web.Response(text=str(len(field.file.read())))

        app = web.Application(client_max_size=8 * 2**20)
        app.router.add_get("/ok", hello)
        app.router.add_post("/up", upload)
        port, _ = await started(app)
        other = await _bystander(port)
        big = b"z" * (3 * 2**20)  # 3 MiB into a 1 MiB filesystem
        body = (
            b'--B\r\nContent-Disposition: form-data; name="f"; filename="big.bin"\r\n\r\n'
            + big
            + b"\r\n--B--\r\n"
        )
        client: RawClient = await raw(port)
        await client.send(
            b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body
        )
        response, text = await client.response("POST")
        assert response.status_code in (500, 507), (response, text)
        assert b"Traceback" not in text and b"No space" not in text
        await wait_for(lambda: _free_blocks(spool) == free_before, timeout=5)
        await wait_for(lambda: _open_tempfiles() == deleted_before, timeout=5)
        await _still_ok(other)
        # A small upload (kept in memory) still works on the same server.
        small = body.replace(big, b"small")
        fresh: RawClient = await raw(port)
        await fresh.send(
            b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\n"
            b"Content-Length: %d\r\n\r\n" % len(small) + small
        )
        response, text = await fresh.response("POST")
        assert response.status_code == 200 and text == b"5"
        assert header(response, b"connection") is None
        other.close()
