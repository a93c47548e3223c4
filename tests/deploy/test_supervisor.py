"""``python -m heron.web --workers N`` in real processes on real sockets: a fast check of each
behaviour of the supervisor (the longer runs under load are in test_supervisor_load.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from .supervised import SteadyLoad, Supervised, get, wait_for, write_app

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the supervisor forks")


def serving_pids(port: int, want: int, timeout: float = 10.0) -> set[int]:
    """Fresh connections until ``want`` different workers have answered."""
    seen: set[int] = set()

    def enough() -> bool:
        reply = get(port)
        assert reply.status == 200
        seen.add(reply.pid)
        return len(seen) >= want

    wait_for(enough, timeout, f"{want} workers answering")
    return seen


def test_two_workers_serve_then_sigterm_exits_zero(tmp_path: Path) -> None:
    with Supervised(tmp_path, workers=2) as server:
        server.start()
        workers = server.workers()
        assert len(workers) == 2
        assert serving_pids(server.port, 2) == workers
        server.signal(signal.SIGTERM)
        assert server.wait(15) == 0
        assert not server.workers()
        # Each worker ran the app's on_cleanup: the aiohttp shutdown order ran to its end.
        assert len((tmp_path / "served.txt").read_text().splitlines()) == 2


def test_killed_worker_is_replaced_within_a_second(tmp_path: Path) -> None:
    with Supervised(tmp_path, workers=2) as server:
        server.start()
        before = server.workers()
        victim = min(before)
        with SteadyLoad(server.port) as load:
            killed_at = time.monotonic()
            os.kill(victim, signal.SIGKILL)

            def replacement_answers() -> bool:
                return get(server.port).pid not in before

            wait_for(replacement_answers, 5, "an answer from the replacement")
            elapsed = time.monotonic() - killed_at
            settle = time.monotonic()
            wait_for(lambda: len(load.since(settle)) >= 50, 10, "load after the kill")
        assert elapsed < 1.0, f"the replacement answered {elapsed:.2f} s after the kill"
        assert len(server.workers()) == 2
        assert all(f.pid == victim for f in load.failures()), load.failures()


def test_sighup_reload_serves_new_code_without_failures(tmp_path: Path) -> None:
    with Supervised(tmp_path, workers=2) as server:
        server.start()
        old = server.workers()
        with SteadyLoad(server.port, client="heron") as load:
            write_app(tmp_path, "v2")
            server.signal(signal.SIGHUP)
            wait_for(lambda: not (server.workers() & old), 20, "the old workers to stop")
            after = time.monotonic()
            wait_for(lambda: len(load.since(after)) >= 50, 10, "load after the reload")
        assert not load.failures(), load.failures()
        assert {o.body for o in load.since(after)} == {"v2"}
        assert get(server.port).body == "v2"


def test_sigterm_lets_64_requests_in_flight_finish(tmp_path: Path) -> None:
    with Supervised(tmp_path, workers=2) as server:
        server.start()

        async def sixty_four() -> list[bytes]:
            streams = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(64)]
            for _, writer in streams:
                writer.write(b"GET /slow?s=1 HTTP/1.1\r\nHost: t\r\n\r\n")
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 15
            while _lines(server.inflight) < 64:
                assert loop.time() < deadline, "64 requests never reached their handlers"
                await asyncio.sleep(0.02)
            server.signal(signal.SIGTERM)
            answers = [await asyncio.wait_for(reader.read(), 15) for reader, _ in streams]
            for _, writer in streams:
                writer.close()
            return answers

        answers = asyncio.run(sixty_four())
        assert server.wait(15) == 0
    assert len(answers) == 64
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer[:100]
        assert answer.endswith(b"slow v1")


def _lines(path: Path) -> int:
    try:
        return len(path.read_text().splitlines())
    except FileNotFoundError:
        return 0


def test_app_that_fails_to_start_stops_the_supervisor(tmp_path: Path) -> None:
    started = time.monotonic()
    with Supervised(tmp_path, workers=2, app_args=("--fail",)) as server:
        code = server.wait(10)
        elapsed = time.monotonic() - started
        log = server.log()
    assert code == 3, log
    assert elapsed < 5
    assert "this app cannot start" in log
    # No respawn loop: each of the two workers tried once.
    assert len((tmp_path / "boots.txt").read_text().splitlines()) <= 2


def test_blocked_event_loop_is_killed_and_replaced(tmp_path: Path) -> None:
    with Supervised(tmp_path, "--timeout", "1", workers=2) as server:
        server.start()
        before = server.workers()
        with socket.create_connection(("127.0.0.1", server.port)) as blocked:
            blocked.sendall(b"GET /block?s=60 HTTP/1.1\r\nHost: t\r\n\r\n")
            blocked.settimeout(10)
            assert blocked.recv(100) == b""  # the worker was killed under it
        wait_for(lambda: "event loop blocked" in server.log(), 5, "the timeout")
        wait_for(lambda: len(server.workers() - before) == 1, 5, "a replacement")
        server.wait_ready(count=3)
        assert len(server.workers()) == 2


def test_ttin_adds_and_ttou_removes_a_worker(tmp_path: Path) -> None:
    with Supervised(tmp_path, workers=2) as server:
        server.start()
        server.signal(signal.SIGTTIN)
        wait_for(lambda: len(server.workers()) == 3, 10, "a third worker")
        server.wait_ready(count=3)
        assert len(serving_pids(server.port, 3)) == 3
        server.signal(signal.SIGTTOU)
        wait_for(lambda: len(server.workers()) == 2, 10, "one worker fewer")
        server.signal(signal.SIGTTOU)
        wait_for(lambda: len(server.workers()) == 1, 10, "one worker left")
        server.signal(signal.SIGTTOU)  # never fewer than one
        (only,) = server.workers()
        for _ in range(5):
            assert get(server.port).pid == only


def test_max_requests_recycles_workers_without_failures(tmp_path: Path) -> None:
    args = ("--max-requests", "50", "--max-requests-jitter", "10", "--timeout", "1")
    with Supervised(tmp_path, *args, workers=1) as server:
        server.start()
        with SteadyLoad(server.port, connections=4, client="heron") as load:
            wait_for(lambda: len({o.pid for o in load.outcomes}) >= 3, 15, "two replacements")
        assert not load.failures(), load.failures()
        assert server.log().count("served its max requests") >= 2


def test_unix_socket_and_inherited_fd(tmp_path: Path) -> None:
    path = str(tmp_path / "heron.sock")
    inherited = socket.create_server(("127.0.0.1", 0))
    port = inherited.getsockname()[1]
    fd = inherited.fileno()
    listen = ("--uds", path, "--fd", str(fd))
    with inherited, Supervised(tmp_path, listen=listen, pass_fds=(fd,)) as server:
        banner = server.read_banner()
        server.wait_ready()
        assert f"unix:{path}:" in banner and f":{port}" in banner
        assert get(port).status == 200
        with socket.socket(socket.AF_UNIX) as unix:
            unix.connect(path)
            unix.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            assert unix.makefile("rb").read().endswith(b"\r\n\r\nv1")
        server.signal(signal.SIGTERM)
        assert server.wait(15) == 0
    assert not os.path.exists(path)


def test_systemd_socket_activation_and_notify(tmp_path: Path) -> None:
    activated = socket.create_server(("127.0.0.1", 0))
    port = activated.getsockname()[1]
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(20)
    fd = activated.fileno()
    # systemd passes the socket as fd 3 and names the service's pid in LISTEN_PID.
    wrapper = ["sh", "-c", f'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@" 3<&{fd}', sys.executable]
    env = {"NOTIFY_SOCKET": str(tmp_path / "notify")}
    with (
        activated,
        notify,
        Supervised(tmp_path, listen=(), pass_fds=(fd,), env=env, command=wrapper) as server,
    ):
        assert f"http://127.0.0.1:{port}" in server.read_banner()
        assert notify.recv(1000) == b"READY=1"
        assert get(port).status == 200
        server.signal(signal.SIGHUP)
        assert notify.recv(1000).startswith(b"RELOADING=1\nMONOTONIC_USEC=")
        assert notify.recv(1000) == b"READY=1"
        server.signal(signal.SIGTERM)
        assert notify.recv(1000) == b"STOPPING=1"
        assert server.wait(15) == 0
