"""heron.remotes over real sockets: which client address, scheme and host the app sees for
each peer (trusted proxy on 127.0.0.2 or a Unix socket, untrusted client on 127.0.0.1) and
header combination, table-driven for each tool."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from heron import web
from heron.remotes import (
    ForwardedFiltered,
    ForwardedRelaxed,
    ForwardedStrict,
    Secure,
    XForwardedFiltered,
    XForwardedRelaxed,
    XForwardedStrict,
    setup,
)

from .apps import whoami

PROXY = "127.0.0.2"  # the trusted proxy's source address
CLIENT = "127.0.0.1"  # anyone else on the machine
UNIX = "unix"

Fetch = Callable[..., Awaitable[tuple[int, dict[str, Any], str]]]


class Served:
    def __init__(self, port: int, path: str, logged: list[str | None]) -> None:
        self.port = port
        self.path = path
        self.logged = logged  # request.remote as the access log saw it


class RemoteLog(web.AbstractAccessLogger):
    seen: list[str | None] = []

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        RemoteLog.seen.append(request.remote)


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Served]]]:
    runners: list[web.AppRunner] = []

    async def start(*tools: Any) -> Served:
        app = web.Application()
        await setup(app, *tools)
        app.router.add_get("/", whoami)
        app.router.add_get("/health", whoami)
        RemoteLog.seen = []
        runner = web.AppRunner(app, access_log_class=RemoteLog, access_log=logging.getLogger("t"))
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        path = str(tmp_path / f"app{len(runners)}.sock")
        await web.UnixSite(runner, path).start()
        return Served(site.port, path, RemoteLog.seen)

    yield start
    for runner in runners:
        await runner.cleanup()


async def fetch(
    served: Served, source: str, headers: list[tuple[str, str]] = (), path: str = "/"
) -> tuple[int, dict[str, Any], str]:
    """GET ``path`` from ``source`` (an address on this machine, or ``unix``)."""
    if source == UNIX:
        reader, writer = await asyncio.open_unix_connection(served.path)
    else:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", served.port, local_addr=(source, 0)
        )
    lines = [f"GET {path} HTTP/1.1", "Host: app.internal", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    seen = json.loads(body) if status == 200 else {}
    return status, seen, head.decode()


XFF = "X-Forwarded-For"
XFP = "X-Forwarded-Proto"
XFH = "X-Forwarded-Host"
FWD = "Forwarded"

# (source, headers, expected remote / scheme / host, or the status when not 200)
FILTERED = [
    # from the trusted proxy: believed
    (
        PROXY,
        [(XFF, "203.0.113.7"), (XFP, "https"), (XFH, "example.com")],
        ("203.0.113.7", "https", "example.com"),
    ),
    (UNIX, [(XFF, "198.51.100.1"), (XFP, "https")], ("198.51.100.1", "https", "app.internal")),
    # a client's own left-most entry is never used; trusted hops are skipped
    (PROXY, [(XFF, "1.1.1.1, 203.0.113.7")], ("203.0.113.7", "http", "app.internal")),
    (PROXY, [(XFF, "1.1.1.1, 203.0.113.7, 127.0.0.2")], ("203.0.113.7", "http", "app.internal")),
    (PROXY, [(XFF, "2001:db8::1")], ("2001:db8::1", "http", "app.internal")),
    (PROXY, [(XFF, "::ffff:203.0.113.7")], ("203.0.113.7", "http", "app.internal")),
    (PROXY, [], (PROXY, "http", "app.internal")),
    # straight from a client: the headers are ignored
    (
        CLIENT,
        [(XFF, "203.0.113.7"), (XFP, "https"), (XFH, "example.com")],
        (CLIENT, "http", "app.internal"),
    ),
    (CLIENT, [(XFF, "not an address")], (CLIENT, "http", "app.internal")),
    # malformed from the proxy: 400
    (PROXY, [(XFF, "not an address")], 400),
    (PROXY, [(XFF, "203.0.113.7"), (XFF, "1.1.1.1")], 400),
    (PROXY, [(XFF, "203.0.113.7,,1.1.1.1")], 400),
    (PROXY, [(XFF, "203.0.113.7"), (XFP, "javascript")], 400),
    (PROXY, [(XFF, "203.0.113.7"), (XFH, "evil host/x")], 400),
]


@pytest.mark.parametrize(("source", "headers", "expected"), FILTERED)
async def test_x_forwarded_filtered(serve: Any, source: str, headers: Any, expected: Any) -> None:
    served = await serve(XForwardedFiltered([PROXY, UNIX]))
    await check(served, source, headers, expected)


async def check(served: Served, source: str, headers: Any, expected: Any) -> None:
    status, seen, head = await fetch(served, source, headers)
    if isinstance(expected, int):
        assert status == expected, head
        return
    assert status == 200, head
    remote, scheme, host = expected
    assert (seen["remote"], seen["scheme"], seen["host"]) == (remote, scheme, host)
    assert seen["secure"] is (scheme == "https")
    assert served.logged[-1] == remote  # the access log sees the resolved address too


async def test_x_forwarded_filtered_hops(serve: Any) -> None:
    served = await serve(XForwardedFiltered([PROXY], hops=2))
    # two proxies in a row: the client is the second entry from the right, whatever it is
    await check(
        served,
        PROXY,
        [(XFF, "1.1.1.1, 203.0.113.7, 10.0.0.9")],
        ("203.0.113.7", "http", "app.internal"),
    )
    await check(served, PROXY, [(XFF, "203.0.113.7")], 400)


STRICT = [
    (
        [[PROXY]],
        PROXY,
        [(XFF, "203.0.113.7"), (XFP, "https")],
        ("203.0.113.7", "https", "app.internal"),
    ),
    ([[UNIX]], UNIX, [(XFF, "203.0.113.7")], ("203.0.113.7", "http", "app.internal")),
    ([[PROXY]], CLIENT, [(XFF, "203.0.113.7")], 400),  # not through the proxy: refused
    ([[PROXY]], CLIENT, [], 400),
    ([[PROXY]], PROXY, [(XFF, "1.1.1.1, 203.0.113.7")], 400),  # more hops than trusted
    ([[PROXY]], PROXY, [], 400),
    (
        [[PROXY], ...],
        PROXY,
        [(XFF, "1.1.1.1, 203.0.113.7")],
        ("203.0.113.7", "http", "app.internal"),
    ),
    (
        [[PROXY], ["10.0.0.0/8"]],
        PROXY,
        [(XFF, "203.0.113.7, 10.1.2.3")],
        ("203.0.113.7", "http", "app.internal"),
    ),
    ([[PROXY], ["10.0.0.0/8"]], PROXY, [(XFF, "203.0.113.7, 8.8.8.8")], 400),
    ([[PROXY]], PROXY, [(XFF, "203.0.113.7"), (XFP, "https, http")], 400),
]


@pytest.mark.parametrize(("trusted", "source", "headers", "expected"), STRICT)
async def test_x_forwarded_strict(
    serve: Any, trusted: Any, source: str, headers: Any, expected: Any
) -> None:
    served = await serve(XForwardedStrict(trusted, white_paths=["/health"]))
    await check(served, source, headers, expected)


async def test_strict_white_paths(serve: Any) -> None:
    served = await serve(XForwardedStrict([[PROXY]], white_paths=["/health"]))
    status, seen, _ = await fetch(served, CLIENT, [(XFF, "203.0.113.7")], path="/health")
    assert (status, seen["remote"]) == (200, CLIENT)


RELAXED = [
    (1, [(XFF, "1.1.1.1, 203.0.113.7"), (XFP, "https")], ("203.0.113.7", "https", "app.internal")),
    (2, [(XFF, "1.1.1.1, 203.0.113.7")], ("1.1.1.1", "http", "app.internal")),
    (1, [(XFF, "garbage"), (XFP, "https")], (CLIENT, "https", "app.internal")),  # ignored
    (3, [(XFF, "1.1.1.1")], (CLIENT, "http", "app.internal")),
]


@pytest.mark.parametrize(("num", "headers", "expected"), RELAXED)
async def test_x_forwarded_relaxed(serve: Any, num: int, headers: Any, expected: Any) -> None:
    served = await serve(XForwardedRelaxed(num))
    await check(served, CLIENT, headers, expected)


FORWARDED = [
    (
        ForwardedFiltered([PROXY]),
        PROXY,
        [(FWD, "for=1.1.1.1, for=203.0.113.7;proto=https;host=example.com")],
        ("203.0.113.7", "https", "example.com"),
    ),
    (
        ForwardedFiltered([PROXY]),
        PROXY,
        [(FWD, 'for="[2001:db8::1]:4711";proto=http')],
        ("2001:db8::1", "http", "app.internal"),
    ),
    (
        ForwardedFiltered([PROXY]),
        PROXY,
        [(FWD, "for=192.0.2.60:8080, for=127.0.0.2")],
        ("192.0.2.60", "http", "app.internal"),
    ),
    (
        ForwardedFiltered([PROXY]),
        CLIENT,
        [(FWD, "for=203.0.113.7;proto=https")],
        (CLIENT, "http", "app.internal"),
    ),
    (ForwardedFiltered([PROXY]), PROXY, [(FWD, "for=nonsense!")], 400),
    (ForwardedFiltered([PROXY]), PROXY, [(FWD, "for=203.0.113.7;proto=ftp")], 400),
    (
        ForwardedStrict([[PROXY]]),
        PROXY,
        [(FWD, "for=203.0.113.7;proto=https")],
        ("203.0.113.7", "https", "app.internal"),
    ),
    (ForwardedStrict([[PROXY]]), PROXY, [(FWD, "for=1.1.1.1, for=203.0.113.7")], 400),
    (ForwardedStrict([[PROXY]]), CLIENT, [(FWD, "for=203.0.113.7")], 400),
    (ForwardedStrict([[PROXY]]), PROXY, [(FWD, "proto=https")], 400),
    (
        ForwardedRelaxed(),
        CLIENT,
        [(FWD, "for=1.1.1.1;proto=https, for=203.0.113.7")],
        ("203.0.113.7", "http", "app.internal"),
    ),
    (
        ForwardedRelaxed(2),
        CLIENT,
        [(FWD, "for=1.1.1.1;proto=https, for=203.0.113.7")],
        ("1.1.1.1", "https", "app.internal"),
    ),
    (
        ForwardedRelaxed(),
        CLIENT,
        [(FWD, "for=bogus!;host=example.com")],
        (CLIENT, "http", "example.com"),
    ),
]


@pytest.mark.parametrize(("tool", "source", "headers", "expected"), FORWARDED)
async def test_forwarded(serve: Any, tool: Any, source: str, headers: Any, expected: Any) -> None:
    served = await serve(tool)
    await check(served, source, headers, expected)


async def test_secure_redirects_what_the_proxy_says_is_plain_http(serve: Any) -> None:
    served = await serve(XForwardedFiltered([PROXY]), Secure())
    status, _, head = await fetch(served, PROXY, [(XFF, "203.0.113.7"), (XFP, "http")])
    assert status == 308
    assert "Location: https://app.internal/" in head
    status, seen, head = await fetch(served, PROXY, [(XFF, "203.0.113.7"), (XFP, "https")])
    assert status == 200 and seen["secure"] is True
    assert "Strict-Transport-Security: max-age=31536000; includeSubDomains" in head
    assert "X-Frame-Options: DENY" in head
    # a client that bypasses the proxy and claims https is still plain http
    status, _, _ = await fetch(served, CLIENT, [(XFP, "https")])
    assert status == 308


def test_bad_trust_settings() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        XForwardedFiltered(["nginx.local"])
    with pytest.raises(TypeError):
        XForwardedFiltered("127.0.0.1")
    with pytest.raises(ValueError, match="Ellipsis"):
        XForwardedStrict([..., [PROXY]])
    with pytest.raises(ValueError, match="HTTPS"):
        Secure(redirect_url="http://example.com")
