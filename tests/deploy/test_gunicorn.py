"""gunicorn with heron's worker classes, as real processes: the polls demo served by two
workers, graceful stop with a request in flight, max_requests recycling, boot errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from .conftest import BIN, POLLS_DIR, ROOT, Processes, accepts, children, free_port, wait_until

WORKERS = ["heron.worker.GunicornWebWorker", "heron.worker.GunicornUVLoopWebWorker"]
# The uvloop worker's run of the polls demo is in the slow suite (the same path otherwise).
WORKER_PARAMS = [WORKERS[0], pytest.param(WORKERS[1], marks=pytest.mark.slow)]


def gunicorn(
    processes: Processes, target: str, *args: str, cwd: Path | None = None, **env: str
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = processes.start(
        [
            str(BIN / "gunicorn"),
            "-b",
            f"127.0.0.1:{port}",
            "--pythonpath",
            f"{ROOT},{POLLS_DIR}",
            *args,
            target,
        ],
        name="gunicorn",
        cwd=cwd,
        **env,
    )
    return proc, port


def one_worker(
    processes: Processes, marker: Path, graceful_timeout: int
) -> tuple[subprocess.Popen[bytes], int]:
    """gunicorn with one worker serving tests.deploy.apps:init; the slow handler announces
    itself through ``marker``."""
    return gunicorn(
        processes,
        "tests.deploy.apps:init",
        *("-k", WORKERS[0], "-w", "1", "--graceful-timeout", str(graceful_timeout)),
        HERON_TEST_MARKER=str(marker),
    )


def get(url: str, timeout: float = 10.0) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, resp.read().decode()


def serving(proc: subprocess.Popen[bytes], port: int, workers: int) -> None:
    def ready() -> bool:
        assert proc.poll() is None, "gunicorn exited"
        return accepts(("127.0.0.1", port)) and len(children(proc.pid)) >= workers

    wait_until(ready, timeout=30, what="gunicorn to serve")


def pid_serving(port: int) -> int:
    status, text = get(f"http://127.0.0.1:{port}/")
    assert status == 200
    pid: int = json.loads(text)["pid"]
    return pid


def in_background(url: str, timeout: float = 30.0) -> tuple[threading.Thread, dict[str, object]]:
    result: dict[str, object] = {}

    def fetch() -> None:
        try:
            result["answer"] = get(url, timeout=timeout)
        except Exception as exc:  # the test asserts on what happened
            result["error"] = exc

    thread = threading.Thread(target=fetch)
    thread.start()
    return thread, result


@pytest.mark.parametrize("worker", WORKER_PARAMS)
def test_gunicorn_serves_the_polls_demo(processes: Processes, tmp_path: Path, worker: str) -> None:
    (tmp_path / "config").mkdir()
    config = tmp_path / "config" / "polls.yaml"
    config.write_text(
        "host: 127.0.0.1\nport: 8080\ndatabase:\n  engine: sqlite\n  path: polls.db\n"
    )
    seeded = subprocess.run(
        [sys.executable, "-m", "heron_polls.init_db", "--config", str(config)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(POLLS_DIR)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr
    proc, port = gunicorn(
        processes,
        "heron_polls.main:init",
        "-k",
        worker,
        "-w",
        "2",
        "--access-logfile",
        "-",
        cwd=tmp_path,
    )
    serving(proc, port, 2)
    assert len(children(proc.pid)) == 2
    base = f"http://127.0.0.1:{port}"
    status, text = get(f"{base}/")
    assert status == 200
    assert '<a href="/poll/1">What&#39;s new?</a>' in text
    status, text = get(f"{base}/poll/1")
    assert status == 200
    assert '<form action="/poll/1/vote" method="post">' in text
    status, text = get(f"{base}/static/style.css")
    assert status == 200
    for _ in range(20):  # fresh connections, spread over the workers by the kernel
        assert get(f"{base}/poll/1/results")[0] == 200
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    # gunicorn's default access log format became aiohttp's: '%a %t "%r" %s %b ...'
    log = processes.log_of(proc)
    assert re.search(
        r'^127\.0\.0\.1 \[[^]]+\] "GET /poll/1 HTTP/1\.1" 200 \d+ "-" "Python-urllib', log, re.M
    ), log


def test_term_finishes_the_request_in_flight(processes: Processes, tmp_path: Path) -> None:
    marker = tmp_path / "in-handler"
    proc, port = one_worker(processes, marker, graceful_timeout=20)
    serving(proc, port, 1)
    thread, result = in_background(f"http://127.0.0.1:{port}/slow?held&s=15", timeout=20)
    wait_until(marker.exists, what="the slow handler to start")
    proc.send_signal(signal.SIGTERM)
    # Stopped accepting at once, while the request is still running.
    wait_until(lambda: not accepts(("127.0.0.1", port)), what="the listener to close")
    assert thread.is_alive(), result
    marker.unlink()  # lets the handler answer
    thread.join(timeout=20)
    assert result.get("answer") == (200, "slow done"), result
    assert proc.wait(timeout=20) == 0
    assert "on_shutdown" in processes.log_of(proc)


def test_max_requests_recycles_without_failures(processes: Processes) -> None:
    proc, port = gunicorn(
        processes, "tests.deploy.apps:init", "-k", WORKERS[0], "-w", "1", "--max-requests", "5"
    )
    serving(proc, port, 1)
    pids = set()
    answered = 0

    def recycled() -> bool:
        nonlocal answered
        status, text = get(f"http://127.0.0.1:{port}/")
        assert status == 200
        answered += 1
        pids.add(json.loads(text)["pid"])
        return len(pids) >= 2

    wait_until(recycled, timeout=30, what="a second worker after max_requests")
    assert answered >= 6


@pytest.mark.parametrize(
    ("target", "args", "message"),
    [
        ("tests.deploy.apps:failing", (), "this app cannot start"),
        (
            "tests.deploy.apps:init",
            ("--access-logfile", "-", "--access-logformat", "%(h)s %(r)s"),
            "Gunicorn's style options",
        ),
    ],
)
def test_boot_error_halts_the_arbiter(
    processes: Processes, target: str, args: tuple[str, ...], message: str
) -> None:
    proc, _ = gunicorn(processes, target, "-k", WORKERS[0], "-w", "2", *args)
    assert proc.wait(timeout=30) != 0  # halted, not respawning forever
    log = processes.log_of(proc)
    assert message in log
    assert "Worker failed to boot" in log or "App failed to load" in log, log


def test_worker_signals(processes: Processes, tmp_path: Path) -> None:
    """Sent to a worker: USR1 reopens the logs (it serves on), TERM finishes the request in
    flight, QUIT cancels it; the arbiter replaces a worker that left."""
    marker = tmp_path / "in-handler"
    proc, port = one_worker(processes, marker, graceful_timeout=30)
    serving(proc, port, 1)
    worker = pid_serving(port)
    os.kill(worker, signal.SIGUSR1)
    assert pid_serving(port) == worker

    thread, result = in_background(f"http://127.0.0.1:{port}/slow?s=1")
    wait_until(marker.exists, what="the slow handler to start")
    os.kill(worker, signal.SIGTERM)
    thread.join(timeout=30)
    assert result.get("answer") == (200, "slow done"), result
    wait_until(lambda: pid_serving(port) != worker, what="a new worker")

    worker = pid_serving(port)
    marker.unlink()
    thread, result = in_background(f"http://127.0.0.1:{port}/slow?s=60")
    wait_until(marker.exists, what="the slow handler to start")
    os.kill(worker, signal.SIGQUIT)
    thread.join(timeout=20)  # quick: the 60 s handler was cancelled, not waited for
    assert not thread.is_alive()
    assert "error" in result, result  # the connection closed without an answer
    wait_until(lambda: pid_serving(port) != worker, what="a new worker")


@pytest.mark.parametrize("worker", WORKERS)
def test_term_while_the_app_loads_is_not_lost(
    processes: Processes, tmp_path: Path, worker: str
) -> None:
    """A TERM that reaches a worker while it still imports the app stops it once the app is
    loaded, not at the graceful timeout (uvloop drops a signal its loop is not running for)."""
    marker = tmp_path / "in-import"
    proc, _ = gunicorn(
        processes,
        "tests.deploy.held_import:init",
        *("-k", worker, "-w", "1", "--graceful-timeout", "60"),
        HERON_TEST_MARKER=str(marker),
    )
    wait_until(marker.exists, what="the worker to import the app")
    proc.send_signal(signal.SIGTERM)
    # The arbiter logs the signal, then sends TERM to its worker at once.
    wait_until(lambda: "Handling signal: term" in processes.log_of(proc), what="the arbiter")
    marker.unlink()  # lets the import finish
    assert proc.wait(timeout=20) == 0


@pytest.mark.slow
def test_blocked_loop_is_killed_by_the_arbiter(processes: Processes) -> None:
    """The heartbeat comes from inside the event loop: a loop blocked past --timeout stops it,
    and the arbiter replaces the worker."""
    proc, port = gunicorn(
        processes, "tests.deploy.apps:init", "-k", WORKERS[0], "-w", "1", "--timeout", "2"
    )
    serving(proc, port, 1)
    worker = pid_serving(port)
    thread, result = in_background(f"http://127.0.0.1:{port}/block?s=30")
    thread.join(timeout=25)
    assert not thread.is_alive()
    assert "error" in result, result  # the blocked worker was killed mid-request
    wait_until(lambda: pid_serving(port) != worker, timeout=20, what="a replacement worker")
    assert "WORKER TIMEOUT" in processes.log_of(proc)


@pytest.mark.slow
def test_a_graceful_stop_longer_than_the_timeout_is_not_cut(
    processes: Processes, tmp_path: Path
) -> None:
    """--max-requests 1 retires the worker while its first request (4 s) runs, and the
    arbiter's --timeout is 2 s: the worker beats while it drains, so the request still gets
    its 200 and the arbiter does not kill it as hung."""
    marker = tmp_path / "in-handler"
    proc, port = gunicorn(
        processes,
        "tests.deploy.apps:init",
        *("-k", WORKERS[0], "-w", "1", "--timeout", "2", "--graceful-timeout", "10"),
        *("--max-requests", "1"),
        HERON_TEST_MARKER=str(marker),
    )
    serving(proc, port, 1)
    thread, result = in_background(f"http://127.0.0.1:{port}/slow?s=4")
    wait_until(marker.exists, what="the slow handler to start")
    thread.join(timeout=30)
    assert result.get("answer") == (200, "slow done"), result
    wait_until(lambda: "Worker exiting" in processes.log_of(proc), what="the worker to retire")
    assert "WORKER TIMEOUT" not in processes.log_of(proc)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_certfile_serves_tls(processes: Processes, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    proc, port = gunicorn(
        processes,
        "tests.deploy.apps:init",
        *("-k", WORKERS[0], "-w", "1", "--certfile", str(cert), "--keyfile", str(key)),
    )
    serving(proc, port, 1)
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/", timeout=10, context=context) as r:
        seen = json.loads(r.read())
    assert (seen["scheme"], seen["secure"]) == ("https", True)


def test_worker_classes_are_exported_lazily() -> None:
    """``heron.GunicornWebWorker`` as aiohttp exports it; importing heron (or heron.web)
    does not import gunicorn."""
    code = (
        "import sys, heron, heron.web\n"
        "assert 'gunicorn' not in sys.modules, 'gunicorn imported by heron'\n"
        "import heron.worker\n"
        "assert heron.GunicornWebWorker is heron.worker.GunicornWebWorker\n"
        "assert heron.GunicornUVLoopWebWorker is heron.worker.GunicornUVLoopWebWorker\n"
        "assert issubclass(heron.GunicornUVLoopWebWorker, heron.GunicornWebWorker)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
