"""Start, probe and stop one benchmark server (``bench/serve.py``) as a child process.

Every wait is bounded; ``ServerProcess`` is a context manager whose exit always kills the
child (SIGTERM, then SIGKILL), and on Linux the child also dies if this process is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

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
        proc = self._proc
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
