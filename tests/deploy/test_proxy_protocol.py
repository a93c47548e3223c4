"""The PROXY protocol (v1/v2) ahead of HTTP, over real sockets: headers built by hand, and
nginx's stream proxy (``proxy_protocol on``) in front of heron."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import shutil
import struct
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from heron import web
from heron._io.proxy_protocol import V2_SIGNATURE, ProxyHeaderError, parse_proxy_header
from heron.remotes import XForwardedFiltered

from .apps import whoami
from .conftest import Processes, ServeApp, accepts, free_port, wait_until

REQUEST = b"GET / HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
STREAM_MODULE = Path("/usr/lib/nginx/modules/ngx_stream_module.so")


@pytest.fixture
def start(serve_app: ServeApp) -> Callable[..., Awaitable[int]]:
    """The app behind a PROXY-protocol load balancer (trusting 127.0.0.2's X-Forwarded-For)."""

    async def go(**kwargs: Any) -> int:
        app = web.Application(middlewares=[XForwardedFiltered(["127.0.0.2"]).middleware])
        app.router.add_get("/", whoami)
        return await serve_app(app, proxy_protocol=True, **kwargs)

    return go


Start = Callable[..., Awaitable[int]]


def v2(source: str, destination: str, sport: int, dport: int, command: int = 1) -> bytes:
    src, dst = ipaddress.ip_address(source), ipaddress.ip_address(destination)
    family = 0x11 if src.version == 4 else 0x21
    body = src.packed + dst.packed + struct.pack("!HH", sport, dport)
    tlv = b"\x04\x00\x03abc"  # a TLV (NOOP) to be skipped
    return (
        V2_SIGNATURE
        + bytes([0x20 | command, family])
        + struct.pack("!H", len(body) + len(tlv))
        + body
        + tlv
    )


async def exchange(port: int, *pieces: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for piece in pieces:
        writer.write(piece)
        await writer.drain()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return data


def seen(answer: bytes) -> dict[str, Any]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), answer
    result: dict[str, Any] = json.loads(body)
    return result


@pytest.mark.parametrize(
    ("header", "remote"),
    [
        (b"PROXY TCP4 203.0.113.7 127.0.0.1 51000 80\r\n", "203.0.113.7"),
        (b"PROXY TCP6 2001:db8::7 ::1 51000 443\r\n", "2001:db8::7"),
        (b"PROXY UNKNOWN\r\n", "127.0.0.1"),  # a health check: the connection's own peer
        (v2("198.51.100.9", "10.0.0.1", 40000, 80), "198.51.100.9"),
        (v2("2001:db8::9", "2001:db8::1", 40000, 80), "2001:db8::9"),
        (v2("0.0.0.0", "0.0.0.0", 0, 0, command=0), "127.0.0.1"),  # LOCAL
    ],
)
async def test_the_header_names_the_client(start: Start, header: bytes, remote: str) -> None:
    port = await start()
    assert seen(await exchange(port, header + REQUEST))["remote"] == remote
    # the same bytes a few at a time
    pieces = [(header + REQUEST)[i : i + 5] for i in range(0, len(header + REQUEST), 5)]
    assert seen(await exchange(port, *pieces))["remote"] == remote


async def test_the_proxied_client_cannot_claim_another_address(start: Start) -> None:
    port = await start()
    header = b"PROXY TCP4 203.0.113.7 127.0.0.1 51000 80\r\n"
    spoof = REQUEST.replace(b"Host: app\r\n", b"Host: app\r\nX-Forwarded-For: 1.1.1.1\r\n")
    assert seen(await exchange(port, header + spoof))["remote"] == "203.0.113.7"


@pytest.mark.parametrize(
    "data",
    [
        REQUEST,  # plain HTTP: no header
        b"PROXY TCP4 nonsense 127.0.0.1 1 2\r\n" + REQUEST,
        b"PROXY TCP4 203.0.113.7 127.0.0.1 99999 80\r\n" + REQUEST,
        b"PROXY " + b"x" * 200,
        V2_SIGNATURE + b"\x30\x11\x00\x0c" + b"\x00" * 12 + REQUEST,  # version 3
        V2_SIGNATURE + b"\x21\x11\xff\xff",  # longer than heron accepts
    ],
)
async def test_no_valid_header_closes_without_an_answer(start: Start, data: bytes) -> None:
    port = await start()
    assert await exchange(port, data) == b""


async def test_a_missing_header_times_out(start: Start) -> None:
    port = await start(head_timeout=0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"PROXY TCP4 ")
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


def test_parser_bounds() -> None:
    assert parse_proxy_header(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2") is None  # needs more
    assert parse_proxy_header(V2_SIGNATURE[:7]) is None
    with pytest.raises(ProxyHeaderError):
        parse_proxy_header(b"PROXY TCP4 1.2.3.4 ::1 1 2\r\n")  # mixed families
    with pytest.raises(ProxyHeaderError):
        parse_proxy_header(b"GET / HTTP/1.1\r\n")


@pytest.mark.skipif(
    not STREAM_MODULE.exists() or not os.path.exists(NGINX),
    reason="nginx's stream module not installed (scripts/ensure-system-deps.sh installs "
    "libnginx-mod-stream when run as root)",
)
async def test_behind_nginx_stream_proxy(start: Start) -> None:
    heron_port = await start()
    tmp = Path(tempfile.mkdtemp(prefix="heron-stream-"))
    processes = Processes(tmp)
    try:
        port = free_port()
        user = "user root root;" if os.geteuid() == 0 else ""
        (tmp / "nginx.conf").write_text(
            f"""
load_module {STREAM_MODULE};
{user}
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 64; }}
stream {{
    server {{
        listen 127.0.0.1:{port};
        proxy_pass 127.0.0.1:{heron_port};
        proxy_protocol on;
    }}
}}
"""
        )
        nginx = processes.start(
            [
                *(NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf")),
                *("-e", str(tmp / "error.log"), "-g", "daemon off;"),
            ],
            name="nginx",
        )
        await asyncio.to_thread(
            wait_until, lambda: nginx.poll() is None and accepts(("127.0.0.1", port))
        )
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, local_addr=("127.0.0.3", 0)
        )
        writer.write(REQUEST)
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert seen(answer)["remote"] == "127.0.0.3"
    finally:
        await asyncio.to_thread(processes.stop_all)
        shutil.rmtree(tmp, ignore_errors=True)
