"""Runners and sites in-process (TCPSite port 0, UnixSite, SockSite, TLS), and run_app and
``python -m heron.web`` in real processes (host lists, unix paths, pre-bound sockets, an
awaitable app)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from heron import web

from ..engine.conftest import RawClient
from ..engine.test_run_app import free_port


async def hello(request: web.Request) -> web.Response:
    return web.Response(text=f"hello {request.scheme}")


def hello_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", hello)
    return app


async def get_over(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    client = RawClient(reader, writer)
    await client.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    response, body = await client.response()
    assert response.status_code == 200
    client.close()
    return body


async def test_tcp_unix_and_sock_sites(tmp_path: Path) -> None:
    runner = web.AppRunner(hello_app(), access_log=None)
    await runner.setup()
    try:
        tcp = web.TCPSite(runner, "127.0.0.1", 0)
        await tcp.start()
        assert tcp.port != 0
        assert tcp.name == f"http://127.0.0.1:{tcp.port}"
        path = str(tmp_path / "s.sock")
        unix = web.UnixSite(runner, path)
        await unix.start()
        assert unix.name == f"http://unix:{path}:"
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock_port = sock.getsockname()[1]
        by_sock = web.SockSite(runner, sock)
        await by_sock.start()
        assert by_sock.name == f"http://127.0.0.1:{sock_port}"
        assert len(runner.sites) == 3
        assert {a[1] for a in runner.addresses if isinstance(a, tuple)} == {tcp.port, sock_port}

        assert (
            await get_over(*await asyncio.open_connection("127.0.0.1", tcp.port)) == b"hello http"
        )
        assert await get_over(*await asyncio.open_unix_connection(path)) == b"hello http"
        assert (
            await get_over(*await asyncio.open_connection("127.0.0.1", sock_port)) == b"hello http"
        )
    finally:
        await runner.cleanup()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", tcp.port)


def make_certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 made by the openssl command line tool."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl command line tool not available")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


async def test_tls_through_ssl_context(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    runner = web.AppRunner(hello_app(), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
        await site.start()
        assert site.name.startswith("https://127.0.0.1:")
        streams = await asyncio.open_connection("127.0.0.1", site.port, ssl=client_ctx)
        assert await get_over(*streams) == b"hello https"
        # A plain-text client gets no HTTP answer from a TLS port.
        reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = await asyncio.wait_for(reader.read(100), 10)
        assert not data.startswith(b"HTTP/1.1 200")
        writer.close()
    finally:
        await runner.cleanup()


RUN_APP_SCRIPT = """
import socket
import sys
from heron import web

async def hello(request):
    return web.Response(text="hello from " + request.url.host)

async def make_app():
    app = web.Application()
    app.router.add_get("/", hello)
    return app

sock = socket.socket()
sock.bind(("127.0.0.1", 0))

def say(text):
    print(text, flush=True)

say("SOCK %d" % sock.getsockname()[1])
web.run_app(
    make_app(),
    host=["127.0.0.1", "127.0.0.2"],
    port={port},
    path={path!r},
    sock=sock,
    print=say,
    access_log=None,
    shutdown_timeout=5,
    keepalive_timeout=30,
    backlog=16,
    reuse_address=True,
    handler_cancellation=True,
)
"""


async def wait_stopped(proc: asyncio.subprocess.Process, sig: int = signal.SIGINT) -> int:
    proc.send_signal(sig)
    try:
        return await asyncio.wait_for(proc.wait(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_run_app_hosts_path_sock_and_awaitable_app(tmp_path: Path) -> None:
    port = free_port()
    path = str(tmp_path / "app.sock")
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(RUN_APP_SCRIPT.format(port=port, path=path)))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    try:
        sock_port = int((await asyncio.wait_for(proc.stdout.readline(), 20)).split()[1])
        banner = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert banner.startswith("======== Running on "), banner
        for name in (
            f"http://127.0.0.1:{port}",
            f"http://127.0.0.2:{port}",
            f"http://unix:{path}:",
            f"http://127.0.0.1:{sock_port}",
        ):
            assert name in banner
        for host, p in (("127.0.0.1", port), ("127.0.0.2", port), ("127.0.0.1", sock_port)):
            assert await get_over(*await asyncio.open_connection(host, p)) == b"hello from x"
        assert await get_over(*await asyncio.open_unix_connection(path)) == b"hello from x"
    finally:
        assert await wait_stopped(proc) == 0


CLI_MODULE = """
from heron import web

async def echo_argv(request):
    return web.Response(text=" ".join(request.app[ARGV]))

ARGV = web.AppKey("argv", list)

def init_func(argv):
    app = web.Application()
    app[ARGV] = argv
    app.router.add_get("/", echo_argv)
    return app
"""


async def test_cli_serves_module_function(tmp_path: Path) -> None:
    (tmp_path / "cli_pkg").mkdir()
    (tmp_path / "cli_pkg" / "__init__.py").write_text("")
    (tmp_path / "cli_pkg" / "entry.py").write_text(textwrap.dedent(CLI_MODULE))
    port = free_port()
    path = str(tmp_path / "cli.sock")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "heron.web", "-H", "127.0.0.1", "-P", str(port), "-U", path,
        "cli_pkg.entry:init_func", "--flag", "value",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        banner = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert f"http://127.0.0.1:{port}" in banner and f"http://unix:{path}:" in banner
        streams = await asyncio.open_connection("127.0.0.1", port)
        assert await get_over(*streams) == b"--flag value"
        assert await get_over(*await asyncio.open_unix_connection(path)) == b"--flag value"
    finally:
        assert await wait_stopped(proc) == 0
    assert proc.stderr is not None
    assert b"Stopped" in await asyncio.wait_for(proc.stderr.read(), 10)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nocolon"], "not in 'module:function' syntax"),
        ([".rel:f"], "relative module names not supported"),
        (["no_such_module_xyz:f"], "unable to import no_such_module_xyz"),
        (["json:no_such_function"], "has no attribute 'no_such_function'"),
    ],
)
def test_cli_rejects_bad_entry_points(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "heron.web", *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert message in result.stderr


def test_run_app_rejects_non_application() -> None:
    with pytest.raises(TypeError):
        web.AppRunner(object())  # type: ignore[arg-type]


async def test_server_runner_with_lowlevel_server(tmp_path: Path) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text=f"low {request.method} {request.path}")

    server = web.Server(handler, access_log=None)
    runner = web.ServerRunner(server)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        client = await RawClient.connect(site.port)
        await client.send(b"GET /any/path HTTP/1.1\r\nHost: x\r\n\r\n")
        _, body = await client.response()
        assert body == b"low GET /any/path"
        client.close()
    finally:
        await runner.cleanup()
