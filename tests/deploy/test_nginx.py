"""A real nginx in front of heron (gunicorn with heron's worker, two workers), configured
with the configuration docs/deployment.md shows: client address and scheme from the trusted
proxy over a Unix socket, over TCP and over TLS; a WebSocket echo; static files from nginx; a
spoofed X-Forwarded-For sent straight to heron ignored; no 502 across an nginx reload and a
heron reload under a steady client."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from .conftest import (
    BIN,
    POLLS_DIR,
    ROOT,
    Processes,
    accepts,
    children,
    free_port,
    until,
    wait_until,
)

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None
)
pytestmark = pytest.mark.skipif(
    NGINX is None or shutil.which("openssl") is None,
    reason="nginx or openssl not installed (scripts/ensure-system-deps.sh installs them "
    "when run as root)",
)

DOC = ROOT / "docs" / "deployment.md"
STATIC = POLLS_DIR / "heron_polls" / "static"
PROXY = "127.0.0.2"  # nginx's source address towards heron's TCP port (proxy_bind)
CLIENT = "127.0.0.3"  # the browser's address, as nginx sees it


def documented_config() -> str:
    """The nginx configuration block of docs/deployment.md."""
    match = re.search(r"```nginx\n(.*?)```", DOC.read_text(), re.S)
    assert match, "docs/deployment.md has no nginx block"
    return match.group(1)


@dataclass
class Stack:
    tmp: Path
    nginx: subprocess.Popen[bytes]
    server: subprocess.Popen[bytes]  # heron: gunicorn's arbiter or heron's supervisor
    processes: Processes
    unix_port: int  # nginx -> heron over the Unix socket
    tcp_port: int  # nginx -> heron over TCP
    tls_port: int  # nginx with TLS -> heron over the Unix socket
    heron_port: int  # heron's own TCP port

    def nginx_signal(self, action: str) -> None:
        subprocess.run(
            [str(NGINX), "-p", str(self.tmp), "-c", str(self.tmp / "nginx.conf"), "-s", action],
            check=True,
            capture_output=True,
            timeout=30,
        )

    def access_statuses(self) -> collections.Counter[str]:
        log = self.tmp / "logs" / "access.log"
        return collections.Counter(line.split()[0] for line in log.read_text().splitlines())


def nginx_conf(tmp: Path, sock: Path, stack_ports: dict[str, int], cert: Path, key: Path) -> str:
    doc = documented_config()
    static = f"{STATIC}/"
    unix = (
        doc.replace("unix:/run/heron/heron.sock", f"unix:{sock}")
        .replace(
            "listen 80;",
            f"listen 127.0.0.1:{stack_ports['unix']};\n"
            f"    listen 127.0.0.1:{stack_ports['tls']} ssl;\n"
            f"    ssl_certificate {cert};\n    ssl_certificate_key {key};",
        )
        .replace("/srv/polls/static/", static)
    )
    tcp = (
        re.sub(r"map \$http_upgrade.*?\n}\n", "", doc, flags=re.S)  # one map for both
        .replace("upstream heron {", "upstream heron_tcp {")
        .replace(
            "proxy_pass http://heron;", f"proxy_pass http://heron_tcp;\n        proxy_bind {PROXY};"
        )
        .replace("server unix:/run/heron/heron.sock;", f"server 127.0.0.1:{stack_ports['heron']};")
        .replace("listen 80;", f"listen 127.0.0.1:{stack_ports['tcp']};")
        .replace("/srv/polls/static/", static)
    )
    user = "user root root;" if os.geteuid() == 0 else ""
    temps = "\n".join(
        f"    {kind}_temp_path {tmp}/temp/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
{user}
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/logs/error.log info;
events {{ worker_connections 1024; }}
http {{
    log_format statuses '$status $upstream_status $request_uri';
    access_log {tmp}/logs/access.log statuses;
{temps}
{unix}
{tcp}
}}
"""


SERVERS = {
    # heron under gunicorn, with heron's worker class
    "gunicorn": lambda sock, port: [
        *(str(BIN / "gunicorn"), "-k", "heron.worker.GunicornWebWorker", "-w", "2"),
        *("-b", f"unix:{sock}", "-b", f"127.0.0.1:{port}"),
        *("--graceful-timeout", "10", "--keep-alive", "75", "--pythonpath", str(ROOT)),
        "tests.deploy.apps:behind_proxy()",
    ],
    # heron's own supervisor
    "supervisor": lambda sock, port: [
        *(sys.executable, "-m", "heron.web", "--workers", "2", "-U", str(sock)),
        *("-H", "127.0.0.1", "-P", str(port), "--graceful-timeout", "10"),
        *("--log-level", "warning", "tests.deploy.apps:behind_proxy"),
    ],
}


@contextlib.contextmanager
def launched(server: str) -> Iterator[Stack]:
    """nginx (the documented config) in front of heron served by ``server``."""
    # Short: a Unix socket path has a length limit.
    tmp = Path(tempfile.mkdtemp(prefix="heron-nginx-"))
    processes = Processes(tmp)
    try:
        (tmp / "logs").mkdir()
        (tmp / "temp").mkdir()
        ports = {name: free_port() for name in ("unix", "tcp", "tls", "heron")}
        sock = tmp / "heron.sock"
        cert, key = tmp / "cert.pem", tmp / "key.pem"
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
                *("-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        app_server = processes.start(
            SERVERS[server](sock, ports["heron"]),
            name=server,
            cwd=ROOT,
            HERON_TRUSTED=json.dumps(["unix", PROXY]),
            PYTHONPATH=str(ROOT),
        )
        (tmp / "nginx.conf").write_text(nginx_conf(tmp, sock, ports, cert, key))
        nginx = processes.start(
            [
                *(str(NGINX), "-p", str(tmp), "-c", str(tmp / "nginx.conf")),
                *("-e", str(tmp / "logs" / "error.log"), "-g", "daemon off;"),
            ],
            name="nginx",
        )

        def up() -> bool:
            assert nginx.poll() is None, (tmp / "logs" / "error.log").read_text()
            assert app_server.poll() is None, processes.log_of(app_server)
            return (
                all(accepts(("127.0.0.1", port)) for port in ports.values())
                and accepts(str(sock))
                and len(children(app_server.pid)) == 2
            )

        wait_until(up, timeout=30, what=f"nginx and {server}")
        yield Stack(
            tmp,
            nginx,
            app_server,
            processes,
            ports["unix"],
            ports["tcp"],
            ports["tls"],
            ports["heron"],
        )
    finally:
        processes.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with launched("gunicorn") as running:
        yield running


async def seen_by_app(url: str, headers: dict[str, str] | None = None) -> dict[str, object]:
    connector = aiohttp.TCPConnector(local_addr=(CLIENT, 0), ssl=False)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.get(url, headers=headers) as resp,
    ):
        assert resp.status == 200, await resp.text()
        seen: dict[str, object] = await resp.json()
        return seen


def test_app_sees_the_client_through_nginx(stack: Stack) -> None:
    for port in (stack.unix_port, stack.tcp_port):
        seen = asyncio.run(seen_by_app(f"http://127.0.0.1:{port}/"))
        assert (seen["remote"], seen["scheme"], seen["secure"]) == (CLIENT, "http", False)
        assert seen["host"] == f"127.0.0.1:{port}"
        # what the client claims about itself is never believed
        spoofed = asyncio.run(
            seen_by_app(
                f"http://127.0.0.1:{port}/",
                {"X-Forwarded-For": "1.1.1.1", "X-Forwarded-Proto": "https"},
            )
        )
        assert (spoofed["remote"], spoofed["scheme"]) == (CLIENT, "http")
    seen = asyncio.run(seen_by_app(f"https://127.0.0.1:{stack.tls_port}/"))
    assert (seen["remote"], seen["scheme"], seen["secure"]) == (CLIENT, "https", True)


def test_spoofed_forwarded_for_straight_to_heron_is_ignored(stack: Stack) -> None:
    seen = asyncio.run(
        seen_by_app(
            f"http://127.0.0.1:{stack.heron_port}/",
            {"X-Forwarded-For": "1.1.1.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "x"},
        )
    )
    assert (seen["remote"], seen["scheme"], seen["host"]) == (
        CLIENT,
        "http",
        f"127.0.0.1:{stack.heron_port}",
    )


def test_websocket_echoes_through_nginx(stack: Stack) -> None:
    async def echo(port: int) -> str:
        connector = aiohttp.TCPConnector(local_addr=(CLIENT, 0))
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.ws_connect(f"http://127.0.0.1:{port}/ws") as ws,
        ):
            await ws.send_str("hello")
            reply = await ws.receive_str(timeout=10)
            await ws.send_str("again")
            assert await ws.receive_str(timeout=10) == f"echo:again:{CLIENT}"
            return reply

    for port in (stack.unix_port, stack.tcp_port):
        assert asyncio.run(echo(port)) == f"echo:hello:{CLIENT}"


def test_static_files_come_from_nginx(stack: Stack) -> None:
    async def fetch() -> tuple[int, str, bytes]:
        url = f"http://127.0.0.1:{stack.unix_port}/static/style.css"
        async with aiohttp.ClientSession() as session, session.get(url) as r:
            return r.status, r.headers.get("Server", ""), await r.read()

    status, server, body = asyncio.run(fetch())
    assert status == 200
    assert server.startswith("nginx")
    assert body == (STATIC / "style.css").read_bytes()


class SteadyClient:
    """Keep-alive requests through nginx at a steady pace until stopped; counts outcomes."""

    def __init__(self, port: int, rate: float = 200.0, concurrency: int = 4) -> None:
        self.url = f"http://127.0.0.1:{port}/"
        self.interval = concurrency / rate
        self.concurrency = concurrency
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.pids: list[int] = []
        self.stop = asyncio.Event()

    async def run(self) -> None:
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(self._one(session) for _ in range(self.concurrency)))

    async def _one(self, session: aiohttp.ClientSession) -> None:
        while not self.stop.is_set():
            try:
                async with session.get(self.url, timeout=aiohttp.ClientTimeout(10)) as resp:
                    self.outcomes[str(resp.status)] += 1
                    if resp.status == 200:
                        self.pids.append((await resp.json())["pid"])
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                self.outcomes[type(exc).__name__] += 1
            await asyncio.sleep(self.interval)  # pacing, not synchronisation


def test_no_502_across_an_nginx_reload(stack: Stack) -> None:
    async def scenario() -> SteadyClient:
        client = SteadyClient(stack.unix_port)
        load = asyncio.ensure_future(client.run())
        await until(lambda: sum(client.outcomes.values()) >= 100)
        old_workers = set(children(stack.nginx.pid))
        await asyncio.to_thread(stack.nginx_signal, "reload")
        # new nginx workers serve and the old ones are gone
        await until(lambda: old_workers.isdisjoint(children(stack.nginx.pid)))
        served = sum(client.outcomes.values())
        await until(lambda: sum(client.outcomes.values()) >= served + 100)
        client.stop.set()
        await load
        return client

    client = asyncio.run(scenario())
    assert set(client.outcomes) == {"200"}, client.outcomes
    assert stack.access_statuses()["502"] == 0


def heron_reload_under_load(stack: Stack) -> None:
    """SIGHUP to heron's master under a steady client: new workers serve, nothing fails."""

    async def scenario() -> tuple[SteadyClient, set[int]]:
        client = SteadyClient(stack.unix_port)
        load = asyncio.ensure_future(client.run())
        await until(lambda: sum(client.outcomes.values()) >= 100)
        old_workers = set(children(stack.server.pid))
        stack.server.send_signal(signal.SIGHUP)  # new workers first, then the old ones stop
        await until(
            lambda: (
                old_workers.isdisjoint(children(stack.server.pid))
                and len(children(stack.server.pid)) == 2
            )
        )
        new_workers = set(children(stack.server.pid))
        await until(lambda: len(new_workers & set(client.pids[-20:])) > 0)
        served = sum(client.outcomes.values())
        await until(lambda: sum(client.outcomes.values()) >= served + 100)
        client.stop.set()
        await load
        return client, old_workers

    client, old_workers = asyncio.run(scenario())
    assert set(client.outcomes) == {"200"}, client.outcomes
    assert old_workers & set(client.pids)  # served before the reload, by the old workers
    assert stack.access_statuses()["502"] == 0


def test_no_502_across_a_heron_reload(stack: Stack) -> None:
    heron_reload_under_load(stack)


def test_no_502_across_a_supervisor_reload() -> None:
    """The same through heron's own supervisor (``python -m heron.web --workers 2``)."""
    with launched("supervisor") as running:
        seen = asyncio.run(seen_by_app(f"http://127.0.0.1:{running.tcp_port}/"))
        assert (seen["remote"], seen["scheme"]) == (CLIENT, "http")
        heron_reload_under_load(running)
