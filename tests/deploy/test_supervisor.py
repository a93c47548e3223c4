"""``python -m heron.web --workers N`` in real processes on real sockets: a fast check of each
behaviour of the supervisor (the longer runs under load are in test_supervisor_load.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .supervised import (
    SteadyLoad,
    Supervised,
    get,
    kill_one_under_load,
    notify_socket,
    wait_for,
    write_app,
)

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
    elapsed, victim, load = kill_one_under_load(tmp_path, warm_up=8, after=0.2)
    assert elapsed < 1.0, f"the replacement answered {elapsed:.2f} s after the kill"
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
    with socket.socket(socket.AF_UNIX) as stale:  # left behind by a killed server
        stale.bind(path)
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
    notify = notify_socket(tmp_path)
    fd = activated.fileno()
    # systemd passes the socket as fd 3 and names the service's pid in LISTEN_PID.
    activate = (
        "import os, sys; os.dup2(int(sys.argv[1]), 3);"
        "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1');"
        "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])"
    )
    wrapper = [sys.executable, "-c", activate, str(fd)]
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


def test_reload_to_code_that_fails_keeps_the_old_workers(tmp_path: Path) -> None:
    with Supervised(tmp_path, workers=2) as server:
        server.start()
        old = server.workers()
        (tmp_path / "supapp.py").write_text("raise RuntimeError('broken deploy')\n")
        server.signal(signal.SIGHUP)
        wait_for(lambda: "reload failed" in server.log(), 20, "the failed reload")
        wait_for(lambda: server.workers() == old, 10, "only the old workers")
        assert get(server.port).body == "v1"
        write_app(tmp_path, "v2")  # the next reload goes through
        server.signal(signal.SIGHUP)
        wait_for(lambda: not (server.workers() & old), 20, "the old workers to stop")
        assert get(server.port).body == "v2"
        assert server.proc.poll() is None


def test_worker_stops_when_its_supervisor_is_gone(tmp_path: Path) -> None:
    with Supervised(tmp_path, "--timeout", "1", workers=1) as server:
        server.start()
        (worker,) = server.workers()
        server.proc.kill()
        server.proc.wait(10)

        def gone() -> bool:
            try:
                stat = Path(f"/proc/{worker}/stat").read_text()
            except FileNotFoundError:
                return True
            return stat.rsplit(")", 1)[1].split()[0] == "Z"

        wait_for(gone, 10, "the orphaned worker to exit")


def test_single_process_serves_an_inherited_fd_and_notifies(tmp_path: Path) -> None:
    write_app(tmp_path)
    inherited = socket.create_server(("127.0.0.1", 0))
    port = inherited.getsockname()[1]
    notify = notify_socket(tmp_path)
    fd = inherited.fileno()
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify")}
    command = [sys.executable, "-m", "heron.web", "--fd", str(fd), "supapp:init"]
    with inherited, notify:
        proc = subprocess.Popen(
            command,
            cwd=tmp_path,
            env=env,
            pass_fds=(fd,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert notify.recv(100) == b"READY=1"
            assert get(port).body == "v1"
            proc.send_signal(signal.SIGTERM)
            assert notify.recv(100) == b"STOPPING=1"
            assert proc.wait(15) == 0
        finally:
            proc.kill()
            proc.wait()


def test_shutdown_longer_than_the_heartbeat_timeout(tmp_path: Path) -> None:
    # The loop keeps beating while the worker waits for its handlers at a stop.
    with Supervised(tmp_path, "--timeout", "0.5", workers=1) as server:
        server.start()
        with socket.create_connection(("127.0.0.1", server.port)) as conn:
            conn.sendall(b"GET /slow?s=2 HTTP/1.1\r\nHost: t\r\n\r\n")
            wait_for(lambda: _lines(server.inflight) == 1, 10, "the request in its handler")
            server.signal(signal.SIGTERM)
            conn.settimeout(15)
            answer = conn.makefile("rb").read()
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"slow v1")
        assert server.wait(15) == 0
        assert "no heartbeat" not in server.log()


def test_unix_socket_in_use_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "busy.sock")
    with socket.socket(socket.AF_UNIX) as live:
        live.bind(path)
        live.listen()
        result = subprocess.run(
            [sys.executable, "-m", "heron.web", "--uds", path, "--workers", "1", "supapp:init"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert "Address already in use" in result.stderr
