"""The dev server: a handler edited while a client polls is served anew, no request fails.

The client opens a new connection for every request, so each poll goes through the
listening socket that the dev server keeps across restarts.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytest.importorskip("watchfiles")

MODULE_APP = """
from heron import web

async def hello(request):
    return web.Response(text="{version}")

def init(argv):
    app = web.Application()
    app.router.add_get("/", hello)
    return app
"""

SCRIPT_APP = """
from heron import web

async def hello(request):
    return web.Response(text="{version}")

app = web.Application()
app.router.add_get("/", hello)

if __name__ == "__main__":
    web.run_app(app, host="192.0.2.1", port=1)  # the dev server's socket wins
"""

WAIT = 20.0  # bound on every wait for the dev server


@dataclass
class Poller:
    """Requests ``/`` over and over, each on a new connection; records what came back."""

    port: int
    bodies: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    changed: dict[str, asyncio.Event] = field(default_factory=dict)

    def seen(self, body: str) -> asyncio.Event:
        return self.changed.setdefault(body, asyncio.Event())

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                body = await asyncio.wait_for(self._get(), 5.0)
            except (OSError, asyncio.TimeoutError, ValueError) as exc:
                self.failures.append(repr(exc))
                continue
            self.bodies.append(body)
            self.seen(body).set()

    async def _get(self) -> str:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(b"GET / HTTP/1.1\r\nHost: dev\r\nConnection: close\r\n\r\n")
            raw = await reader.read(65536)
            while chunk := await reader.read(65536):
                raw += chunk
        finally:
            writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200 "):
            raise ValueError(f"unexpected answer {raw[:80]!r}")
        return body.decode()


@asynccontextmanager
async def dev_server(tmp: Path, *argv: str) -> AsyncIterator[tuple[int, asyncio.StreamReader]]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "heron.devserver",
        "run",
        "--reload",
        "-H",
        "127.0.0.1",
        "-P",
        "0",
        *argv,
        cwd=tmp,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        limit=1 << 20,
    )
    assert proc.stdout is not None
    try:
        banner = await asyncio.wait_for(proc.stdout.readline(), WAIT)
        match = re.search(rb"http://127\.0\.0\.1:(\d+)", banner)
        assert match, banner
        yield int(match.group(1)), proc.stdout
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        try:
            status = await asyncio.wait_for(proc.wait(), WAIT)
        except asyncio.TimeoutError:
            proc.kill()
            raise
    assert status == 0


async def _wait_line(output: asyncio.StreamReader, needle: bytes) -> None:
    lines: list[bytes] = []

    async def scan() -> None:
        while needle not in (line := await output.readline()):
            if not line:
                raise AssertionError(b"".join(lines).decode())
            if not line.startswith(b"INFO:aiohttp.access"):
                lines.append(line)

    try:
        await asyncio.wait_for(scan(), WAIT)
    except asyncio.TimeoutError:
        raise AssertionError(b"".join(lines).decode()) from None


def _edit(path: Path, text: str) -> None:
    # Replace the file in one step, as editors do: the watcher never sees half a file.
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


async def _reload_scenario(tmp: Path, source: str, filename: str, entry: str) -> None:
    target = tmp / filename
    target.write_text(source.format(version="v1"))
    async with dev_server(tmp, entry) as (port, output):
        poller = Poller(port)
        stop = asyncio.Event()
        polling = asyncio.create_task(poller.run(stop))
        try:
            await asyncio.wait_for(poller.seen("v1").wait(), WAIT)
            # A broken edit: the previous version keeps serving.
            _edit(target, source.format(version="v1") + "\ndef broken(:\n")
            await _wait_line(output, b"reload failed")
            _edit(target, source.format(version="v2"))
            await asyncio.wait_for(poller.seen("v2").wait(), WAIT)
            # Both versions serve for a moment; once the old one has exited, only v2 answers.
            await _wait_line(output, b"reloaded")
            before = len(poller.bodies)
            await asyncio.wait_for(_polls_after(poller, before + 5), WAIT)
        finally:
            stop.set()
            await asyncio.wait_for(polling, WAIT)
    assert poller.failures == []
    first_v2 = poller.bodies.index("v2")
    assert set(poller.bodies[:first_v2]) == {"v1"}
    assert set(poller.bodies[before:]) == {"v2"}


async def _polls_after(poller: Poller, count: int) -> None:
    while len(poller.bodies) < count:
        await asyncio.sleep(0)


@pytest.mark.parametrize(
    ("source", "filename", "entry"),
    [(MODULE_APP, "devapp.py", "devapp:init"), (SCRIPT_APP, "devscript.py", "devscript.py")],
    ids=["module", "script"],
)
def test_edit_is_served_without_failed_requests(
    tmp_path: Path, source: str, filename: str, entry: str
) -> None:
    # One event loop is enough: what is under test runs in other processes.
    asyncio.run(_reload_scenario(tmp_path, source, filename, entry))


def test_entry_is_checked(tmp_path: Path) -> None:
    from heron.devserver import main

    with pytest.raises(SystemExit):
        main(["run", "not-an-entry"])
    with pytest.raises(SystemExit):
        main(["run", str(tmp_path / "missing.py")])
