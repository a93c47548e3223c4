"""Start, probe and stop one benchmark server (``bench/serve.py``) or client as a child.

Every wait is bounded; ``ServerProcess`` and ``ClientProcess`` are context managers whose exit
always kills the child (SIGTERM, then SIGKILL), and on Linux the child also dies if this
process is killed. The ``/proc`` readers (CPU time, RSS, open files, limits) are Linux-only and
return None elsewhere.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from serve import EXIT_IMPORT_ERROR

HOST = "127.0.0.1"
BENCH_DIR = Path(__file__).resolve().parent
SERVE = BENCH_DIR / "serve.py"
_PR_SET_PDEATHSIG = 1


class ServerError(Exception):
    """The server did not start, died, or answered wrongly."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def die_with_parent() -> None:  # runs in the child, between fork and exec
    """Ask Linux to SIGTERM this child when the runner dies (best effort; no-op elsewhere)."""
    if sys.platform != "linux":
        return
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ServerProcess:
    """One ``serve.py`` child: ``with ServerProcess(...) as server: server.wait_ready(10)``."""

    def __init__(
        self,
        impl: str,
        extra_args: Sequence[str],
        log_path: Path,
        python: str = sys.executable,
        cpu: int = 0,
    ) -> None:
        self.impl = impl
        self.port = free_port()
        self.log_path = log_path
        self.argv = [python, str(SERVE), "--impl", impl, "--port", str(self.port)]
        self.argv += ["--cpu", str(cpu), *extra_args]
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=BENCH_DIR,
                start_new_session=True,  # Ctrl-C goes to the runner, which stops us in order
                preexec_fn=die_with_parent,
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        """The child's pid, once started."""
        return self._proc.pid if self._proc else None

    def log_tail(self, lines: int = 15) -> str:
        """The last ``lines`` lines the server printed."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def _check_alive(self) -> None:
        assert self._proc is not None
        code = self._proc.poll()
        if code is None:
            return
        tail = self.log_tail()
        if code == EXIT_IMPORT_ERROR:
            raise ServerError(f"{self.impl} is not importable: {tail.splitlines()[-1]}")
        raise ServerError(f"{self.impl} server exited with status {code}:\n{tail}")

    def wait_ready(self, timeout_s: float) -> None:
        """Poll the port until it accepts a connection; raise ServerError after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with socket.create_connection((HOST, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self._check_alive()
        raise ServerError(f"{self.impl} server not listening after {timeout_s:.0f}s")

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM the child (graceful for run_app), SIGKILL it if it lingers; idempotent."""
        _stop_popen(self._proc, timeout_s)

    def check_alive(self) -> None:
        """Raise ServerError (with the log's tail) if the server has exited."""
        self._check_alive()


def _stop_popen(proc: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
    """SIGTERM ``proc``, SIGKILL it if it lingers past ``timeout_s``; no-op once it exited."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(timeout=timeout_s)


class ClientProcess:
    """A load or connection-holding child that reports on stdout, one JSON object a line.

    ``with ClientProcess(argv, log_path) as client: event = client.expect("ready", 30)``.
    Its stderr goes to ``log_path``; ``send`` writes a line to its stdin; exit kills it.
    """

    def __init__(self, argv: Sequence[str], log_path: Path) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""

    def __enter__(self) -> ClientProcess:
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=BENCH_DIR,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None and self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        _stop_popen(self._proc, 5.0)
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()

    def _failure(self, what: str) -> ServerError:
        """A ServerError saying ``what`` went wrong, with the tail of the child's stderr."""
        try:
            tail = self.log_path.read_text(errors="replace").strip().splitlines()[-5:]
        except OSError:
            tail = []
        detail = "\n".join(tail) or "(no output on stderr)"
        return ServerError(f"client {Path(self.argv[1]).name}: {what}:\n{detail}")

    def _readline(self, timeout_s: float) -> bytes:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            readable = select.select([fd], [], [], remaining)[0] if remaining > 0 else []
            if not readable:
                raise self._failure(f"no report within {timeout_s:.0f}s")
            chunk = os.read(fd, 65536)
            if not chunk:
                self._proc.wait(timeout=5)
                raise self._failure(f"exited with status {self._proc.returncode}")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def expect(self, event: str, timeout_s: float) -> dict[str, Any]:
        """Wait (at most ``timeout_s``) for the next report; it must be ``event``."""
        line = self._readline(timeout_s)
        try:
            report: dict[str, Any] = json.loads(line)
        except ValueError as exc:
            raise self._failure(f"unparsable report {line[:80]!r}") from exc
        if report.get("event") != event:
            raise self._failure(f"expected {event!r}, got {report}")
        return report

    def send(self, line: str) -> None:
        """Write one line to the child's stdin."""
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(line.encode() + b"\n")
            self._proc.stdin.flush()
        except OSError as exc:  # it exited: say why
            raise self._failure(f"cannot write to it ({exc})") from exc

    def wait(self, timeout_s: float) -> int:
        """Wait (at most ``timeout_s``) for the child to exit; return its status."""
        assert self._proc is not None
        try:
            return self._proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise self._failure(f"did not exit within {timeout_s:.0f}s") from exc


def report_line(event: str, **fields: Any) -> None:
    """Child side of ``ClientProcess``: print one JSON report line on stdout."""
    print(json.dumps({"event": event, **fields}), flush=True)


def preflight(
    port: int,
    method: str,
    path: str,
    body: bytes | None,
    expect_status: int,
    expect_body: bytes | None,
    timeout_s: float = 5.0,
) -> None:
    """Send the scenario's request once and check status (and body when given)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout_s)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        data = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise ServerError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
    finally:
        conn.close()
    if response.status != expect_status:
        raise ServerError(f"{method} {path}: status {response.status}, want {expect_status}")
    if expect_body is not None and data != expect_body:
        raise ServerError(f"{method} {path}: body {data[:60]!r}..., want {expect_body[:60]!r}...")


def check_impl(python: str, impl: str, timeout_s: float = 60.0) -> tuple[bool, str]:
    """Import ``impl`` exactly as the server will (``serve.py --check``); (ok, version or why)."""
    ok, line = probe(python, str(SERVE), "--impl", impl, "--check", timeout_s=timeout_s)
    return ok, line.removeprefix("IMPORT-ERROR ")


def probe(python: str, *args: str, timeout_s: float = 60.0) -> tuple[bool, str]:
    """Run ``python *args`` in bench/; return (succeeded, the last line it printed)."""
    try:
        proc = subprocess.run(
            [python, *args],
            cwd=BENCH_DIR,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
    except subprocess.TimeoutExpired:
        return False, f"took more than {timeout_s:.0f}s"
    ok = proc.returncode == 0
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    return ok, lines[-1] if lines else f"exit status {proc.returncode}"


def process_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds used so far by process ``pid`` (Linux /proc), or None."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_status_kib(pid: int | None, field: str) -> int | None:
    """A ``kB`` field (``VmRSS``, ``VmHWM``...) of ``/proc/<pid>/status``, or None."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def rss_kib(pid: int | None) -> int | None:
    """Resident set size of process ``pid`` in KiB (``VmRSS``), or None."""
    return _proc_status_kib(pid, "VmRSS")


def open_fds(pid: int | None) -> int | None:
    """How many file descriptors process ``pid`` has open, or None."""
    if pid is None:
        return None
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def nofile_limit(pid: int | None) -> int | None:
    """The soft RLIMIT_NOFILE of process ``pid`` (``/proc/<pid>/limits``), or None."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/limits") as f:
            for line in f:
                if line.startswith("Max open files"):
                    soft = line.split()[3]
                    return 1 << 62 if soft == "unlimited" else int(soft)
    except (OSError, ValueError, IndexError):
        return None
    return None
