"""Graceful shutdown under load: SIGTERM to a run_app process while clients hammer it.

Every request whose handler started gets a full 200 (none truncated, none non-2xx);
connections opened after the shutdown began are refused; on_shutdown and on_cleanup
run; the process exits 0 within shutdown_timeout.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import h11
import pytest

from ..engine.test_run_app import free_port

APP = """
import asyncio, sys
from heron import web

started = 0
finished = 0

def say(text):
    print(text, flush=True)

async def work(request):
    global started, finished
    started += 1
    await asyncio.sleep(0.005 * (started % 5))  # simulated work, 0-20 ms
    body = b"x" * (1000 + started % 7000)
    finished += 1
    return web.Response(body=body, headers={{"X-Len": str(len(body))}})

async def on_shutdown(app):
    say("on_shutdown")

async def on_cleanup(app):
    say(f"on_cleanup started={{started}} finished={{finished}}")

app = web.Application()
app.router.add_get("/", work)
app.on_shutdown.append(on_shutdown)
app.on_cleanup.append(on_cleanup)
web.run_app(app, host="127.0.0.1", port={port}, shutdown_timeout={timeout}, print=say,
            access_log=None)
"""


class Tally:
    def __init__(self) -> None:
        self.ok = 0
        self.non_2xx = 0
        self.truncated = 0
        self.unanswered = 0  # request sent, connection closed before any response byte
        self.refused = 0


async def worker(port: int, tally: Tally) -> None:
    """Keep-alive client: one request at a time; reconnects until connecting fails."""
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            tally.refused += 1
            return
        conn = h11.Connection(h11.CLIENT)
        try:
            while True:
                if conn.our_state is h11.DONE:
                    conn.start_next_cycle()
                writer.write(
                    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
                )
                writer.write(conn.send(h11.EndOfMessage()))
                got_bytes = False
                status = 0
                expected = -1
                body = 0
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        try:
                            data = await asyncio.wait_for(reader.read(65536), 20)
                        except ConnectionError:
                            data = b""
                        got_bytes = got_bytes or bool(data)
                        conn.receive_data(data)
                        continue
                    if isinstance(event, h11.Response):
                        status = event.status_code
                        expected = int(dict(event.headers)[b"x-len"])
                    elif isinstance(event, h11.Data):
                        body += len(event.data)
                    elif isinstance(event, h11.EndOfMessage):
                        if status != 200:
                            tally.non_2xx += 1
                        elif body != expected:
                            tally.truncated += 1
                        else:
                            tally.ok += 1
                        break
                    elif isinstance(event, h11.ConnectionClosed):
                        raise ConnectionResetError
                if conn.their_state is h11.MUST_CLOSE:
                    break
        except (ConnectionError, h11.RemoteProtocolError):
            if got_bytes:
                tally.truncated += 1  # part of a response arrived, not all of it
            else:
                tally.unanswered += 1
        finally:
            writer.close()


async def test_sigterm_under_load_loses_nothing_accepted(tmp_path: Path) -> None:
    timeout = 5.0
    port = free_port()
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(APP.format(port=port, timeout=timeout)))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    tally = Tally()
    workers: list[asyncio.Task[None]] = []
    try:
        banner = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert banner.startswith(b"======== Running on"), banner
        await asyncio.wait_for(proc.stdout.readline(), 5)
        workers = [asyncio.create_task(worker(port, tally)) for _ in range(16)]
        # Under load: wait (bounded) for a few hundred answered requests, then SIGTERM.
        deadline = time.monotonic() + 20
        while tally.ok < 300 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert tally.ok >= 300
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.stdout.readline(), 20) == b"on_shutdown\n"
        with pytest.raises(OSError):  # the listening socket is gone
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
        rest = (await asyncio.wait_for(proc.stdout.read(), 20)).decode().splitlines()
        code = await asyncio.wait_for(proc.wait(), 20)
        elapsed = time.monotonic() - t0
        await asyncio.wait_for(asyncio.gather(*workers), 20)
    finally:
        for task in workers:
            task.cancel()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert code == 0
    assert elapsed < timeout, elapsed
    assert len(rest) == 1 and rest[0].startswith("on_cleanup"), rest
    started, finished = (int(kv.split("=")[1]) for kv in rest[0].split()[1:])
    # Nothing accepted was lost: every handler that started finished, and every one of
    # them reached its client complete with a 200.
    assert started == finished == tally.ok, (started, finished, vars(tally))
    assert tally.non_2xx == 0 and tally.truncated == 0, vars(tally)
    assert tally.refused == 16  # every worker ended on a refused connection
