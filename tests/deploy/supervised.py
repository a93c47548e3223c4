"""Helpers for the supervisor tests: start ``python -m heron.web --workers N`` on a test app in
a temp directory, find its workers, and load it with a steady keep-alive client."""

from __future__ import annotations

import asyncio
import http.client
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The test app; ``VERSION`` is rewritten between reloads.  Every answer names its worker.
APP = """
import asyncio
import os
import time

from heron import web

VERSION = {version!r}
SERVED = 0


def _answer(text):
    return web.Response(text=text, headers={{"X-Pid": str(os.getpid())}})


async def index(request):
    global SERVED
    SERVED += 1
    return _answer(VERSION)


async def report(app):
    with open("served.txt", "a") as f:
        f.write(f"{{os.getpid()}} {{SERVED}}\\n")


async def slow(request):
    # Tell the test this request is in a handler (one line per request, O_APPEND).
    with open(os.environ["INFLIGHT_FILE"], "a") as f:
        f.write("in\\n")
    await asyncio.sleep(float(request.query["s"]))
    return _answer("slow " + VERSION)


async def block(request):
    time.sleep(float(request.query["s"]))  # blocks the event loop on purpose
    return _answer("blocked")


def init(argv):
    with open("boots.txt", "a") as f:
        f.write(f"{{os.getpid()}}\\n")
    if "--fail" in argv:
        raise RuntimeError("this app cannot start")
    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/slow", slow)
    app.router.add_get("/block", block)
    app.on_cleanup.append(report)
    return app
"""


def write_app(directory: Path, version: str = "v1") -> None:
    (directory / "supapp.py").write_text(textwrap.dedent(APP.format(version=version)))


def children(pid: int) -> set[int]:
    """The live (not zombie) child processes of ``pid``, from /proc."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.add(int(entry))
    return found


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    """Poll ``condition`` until it is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


@dataclass
class Reply:
    status: int
    pid: int
    body: str


def get(port: int, path: str = "/", timeout: float = 10.0) -> Reply:
    """One request on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return Reply(
            response.status, int(response.getheader("X-Pid", "0")), response.read().decode()
        )
    finally:
        conn.close()


class Supervised:
    """A running ``python -m heron.web ... --workers N supapp:init`` in ``directory``."""

    def __init__(
        self,
        directory: Path,
        *args: str,
        workers: int = 2,
        listen: tuple[str, ...] = ("-H", "127.0.0.1", "-P", "0"),
        app_args: tuple[str, ...] = (),
        pass_fds: tuple[int, ...] = (),
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
    ) -> None:
        self.directory = directory
        if not (directory / "supapp.py").exists():
            write_app(directory)
        self.log_path = directory / "supervisor.log"
        self.inflight = directory / "inflight.txt"
        self.workers_wanted = workers
        full_env = {
            **os.environ,
            "PYTHONDONTWRITEBYTECODE": "1",  # a rewritten module is never read from a stale .pyc
            "INFLIGHT_FILE": str(self.inflight),
            **(env or {}),
        }
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [
                *(command or [sys.executable]),
                "-m",
                "heron.web",
                *listen,
                "--workers",
                str(workers),
                "--log-level",
                "info",
                *args,
                "supapp:init",
                *app_args,
            ],
            cwd=directory,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=self._log,
            pass_fds=pass_fds,
        )
        self.pid = self.proc.pid
        self.port = 0
        self.banner = ""

    def read_banner(self, timeout: float = 20.0) -> str:
        """The supervisor's first line (it names the addresses); sets ``port`` for TCP."""
        assert self.proc.stdout is not None
        result: list[bytes] = []
        reader = threading.Thread(target=lambda: result.append(self.proc.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        assert result and result[0], f"no banner; log:\n{self.log()}"
        self.banner = result[0].decode()
        if "http://127.0.0.1:" in self.banner:
            self.port = int(self.banner.split("http://127.0.0.1:")[1].split()[0].rstrip(","))
        return self.banner

    def start(self, timeout: float = 20.0) -> Supervised:
        """Wait for the banner and for every worker to be ready."""
        self.read_banner(timeout)
        self.wait_ready(timeout)
        return self

    def ready_count(self) -> int:
        return self.log().count(" ready\n")

    def wait_ready(self, timeout: float = 20.0, count: int | None = None) -> None:
        want = count if count is not None else self.workers_wanted

        def ready() -> bool:
            assert self.proc.poll() is None, f"the supervisor exited; log:\n{self.log()}"
            return self.ready_count() >= want

        wait_for(ready, timeout, f"{want} ready workers")

    def workers(self) -> set[int]:
        return children(self.pid)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        for pid in children(self.pid):
            os.kill(pid, signal.SIGKILL)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()

    def __enter__(self) -> Supervised:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------- steady load


@dataclass
class Outcome:
    """One request of the steady client."""

    at: float
    ok: bool
    pid: int  # who answered; for a failure, who answered before on the connection (0: none)
    body: str = ""
    error: str = ""

    def line(self) -> str:
        return f"{self.at}\t{int(self.ok)}\t{self.pid}\t{self.body}\t{self.error}\t.\n"

    @classmethod
    def parse(cls, line: str) -> Outcome:
        at, ok, pid, body, error, _ = line.split("\t")
        return cls(float(at), ok == "1", int(pid), body, error)


class SteadyLoad:
    """``rate`` requests/s spread over ``connections`` keep-alive connections, sent by a
    separate process (so the test's own work never delays the client).

    ``client="raw"``: each connection is a plain socket stream; before each request a
    connection the server has closed (EOF seen) is replaced by a new one, and anything that
    then goes wrong is a failure, so a request sent just as the server closes an idle
    connection fails too.  Each outcome names the worker of its connection.

    ``client="heron"``: heron's ``ClientSession`` (a pool of ``connections``), which, like
    aiohttp's client, browsers and nginx, sends an idempotent request again once when the
    server closed a reused keep-alive connection under it (RFC 9112, section 9.3.1).
    """

    def __init__(
        self, port: int, rate: float = 200.0, connections: int = 8, client: str = "raw"
    ) -> None:
        self.port = port
        self.rate = rate
        self.connections = connections
        self.client = client
        self._stop = threading.Event()
        self._out: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> SteadyLoad:
        import tempfile

        fd, name = tempfile.mkstemp(prefix="steady-", suffix=".txt")
        os.close(fd)
        self._out = Path(name)
        root = Path(__file__).resolve().parents[2]
        args = [str(self.port), str(self.rate), str(self.connections), self.client, name]
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.deploy.supervised", *args], cwd=root
        )
        wait_for(lambda: len(self.outcomes) >= self.connections, 10, "the first answers")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._proc is not None and self._out is not None
        self._proc.send_signal(signal.SIGTERM)
        self._proc.wait(30)
        self.final = self.outcomes
        self._out.unlink()

    @property
    def outcomes(self) -> list[Outcome]:
        if self._proc is not None and self._proc.poll() is not None and hasattr(self, "final"):
            return self.final
        assert self._out is not None
        lines = self._out.read_text().splitlines()
        return [Outcome.parse(line) for line in lines if line.endswith("\t.")]

    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def since(self, t: float) -> list[Outcome]:
        return [o for o in self.outcomes if o.at >= t]

    # --------------------------------------------------------------- in the load process

    def run(self, out: str) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
        self.outcomes_file = open(out, "a", buffering=1)  # noqa: SIM115 - one line per answer
        asyncio.run(self._main())

    def _record(self, outcome: Outcome) -> None:
        self.outcomes_file.write(outcome.line())

    async def _main(self) -> None:
        if self.client == "raw":
            await asyncio.gather(*(self._connection(i) for i in range(self.connections)))
            return
        from heron.client import ClientSession, ClientTimeout, TCPConnector

        connector = TCPConnector(limit=self.connections)
        timeout = ClientTimeout(total=5)
        async with ClientSession(connector=connector, timeout=timeout) as session:
            await asyncio.gather(*(self._pooled(i, session) for i in range(self.connections)))

    async def _pooled(self, index: int, session: Any) -> None:
        loop = asyncio.get_running_loop()
        interval = self.connections / self.rate
        next_at = loop.time() + interval * index / self.connections
        url = f"http://127.0.0.1:{self.port}/"
        while not self._stop.is_set():
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            next_at += interval
            try:
                async with session.get(url) as response:
                    body = await response.text()
                    pid = int(response.headers.get("X-Pid", "0"))
                    assert response.status == 200, response.status
                self._record(Outcome(time.monotonic(), True, pid, body))
            except Exception as exc:
                self._record(Outcome(time.monotonic(), False, 0, error=repr(exc)))

    async def _connection(self, index: int) -> None:
        loop = asyncio.get_running_loop()
        interval = self.connections / self.rate
        next_at = loop.time() + interval * index / self.connections
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        pid = 0
        while not self._stop.is_set():
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            next_at += interval
            if reader is None or writer is None or reader.at_eof():
                if writer is not None:
                    writer.close()
                reader, writer, pid = None, None, 0
            try:
                if reader is None or writer is None:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection("127.0.0.1", self.port), 5
                    )
                writer.write(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
                headers = dict(
                    line.split(": ", 1) for line in head.decode().split("\r\n")[1:] if line
                )
                body = await asyncio.wait_for(reader.readexactly(int(headers["Content-Length"])), 5)
                pid = int(headers.get("X-Pid", "0"))
                if not head.startswith(b"HTTP/1.1 200 "):
                    raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
                self._record(Outcome(time.monotonic(), True, pid, body.decode()))
                if headers.get("Connection", "").lower() == "close":
                    writer.close()
                    reader, writer = None, None
            except Exception as exc:
                self._record(Outcome(time.monotonic(), False, pid, error=repr(exc)))
                if writer is not None:
                    writer.close()
                reader, writer, pid = None, None, 0
        if writer is not None:
            writer.close()


def kill_one_under_load(
    directory: Path, *, warm_up: int, after: float
) -> tuple[float, int, SteadyLoad]:
    """Two workers under a steady raw client: ``warm_up`` answers, ``kill -9`` of one worker,
    then ``after`` seconds more.  Returns the seconds until a replacement answered a fresh
    connection, the killed pid and the load (with its outcomes)."""
    with Supervised(directory, workers=2) as server:
        server.start()
        before = server.workers()
        victim = min(before)
        with SteadyLoad(server.port) as load:
            wait_for(lambda: len(load.outcomes) >= warm_up, 20, "load before the kill")
            killed_at = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            wait_for(lambda: get(server.port).pid not in before, 5, "the replacement")
            elapsed = time.monotonic() - killed_at
            wait_for(lambda: len(load.since(killed_at + after)) >= 20, 20, "load after the kill")
        assert len(server.workers()) == 2
    return elapsed, victim, load


def notify_socket(directory: Path) -> socket.socket:
    """A datagram socket standing in for systemd's ``NOTIFY_SOCKET`` (at ``directory/notify``)."""
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(directory / "notify"))
    notify.settimeout(20)
    return notify


if __name__ == "__main__":  # the load process: PORT RATE CONNECTIONS CLIENT OUTFILE
    port, rate, connections, client, out = sys.argv[1:]
    SteadyLoad(int(port), float(rate), int(connections), client).run(out)
