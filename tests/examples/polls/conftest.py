"""Fixtures for the polls example: its package on sys.path, a throwaway PostgreSQL cluster, and
the app served on a real socket against SQLite or PostgreSQL."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
POLLS_DIR = ROOT / "examples" / "polls"
if str(POLLS_DIR) not in sys.path:
    sys.path.insert(0, str(POLLS_DIR))

from heron_polls import db  # noqa: E402
from heron_polls.main import create_app  # noqa: E402
from heron_polls.settings import Config, parse_config  # noqa: E402

from heron.client import TCPConnector  # noqa: E402
from heron.test_utils import TestClient  # noqa: E402

from ...engine.conftest import free_port  # noqa: E402

PG_MISSING = (
    "PostgreSQL binaries (initdb, pg_ctl, postgres) not found on PATH nor under "
    "/usr/lib/postgresql/*/bin: install Debian's postgresql package "
    "(`make pytest` does it via scripts/ensure-system-deps.sh when run as root)"
)


def find_pg_bindir() -> Path | None:
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(os.path.realpath(initdb)).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(candidates[-1]).parent if candidates else None


@dataclass
class PostgresCluster:
    bindir: Path
    workdir: Path
    port: int
    user: str = "postgres"
    database: str = "postgres"
    run_as: str | None = None  # the system user that owns the cluster, when we are root

    @property
    def datadir(self) -> Path:
        return self.workdir / "data"

    @property
    def logfile(self) -> Path:
        return self.workdir / "postgres.log"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            cwd=self.workdir,
            user=self.run_as,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.logfile.read_text()[-3000:]
        return "(no log)"

    def start(self) -> None:
        result = self._run(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            self.user,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        if result.returncode:
            raise RuntimeError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
        options = (
            f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        # -w: pg_ctl returns once the server accepts connections (bounded by -t seconds).
        result = self._run(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-l",
            str(self.logfile),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
            timeout=90,
        )
        if result.returncode:
            raise RuntimeError(
                f"pg_ctl start failed:\n{result.stdout}\n{result.stderr}\n{self._log_tail()}"
            )

    def stop(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")

    def config(self, **overrides: Any) -> Config:
        database = {
            "engine": "postgres",
            "database": self.database,
            "user": self.user,
            "password": "",
            "host": "127.0.0.1",
            "port": self.port,
            "maxsize": 10,
        }
        return parse_config(
            {"host": "127.0.0.1", "port": 0, "database": {**database, **overrides}}, "<test>"
        )


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster for the session: temp dir, free port, stopped after."""
    bindir = find_pg_bindir()
    if bindir is None:
        pytest.skip(PG_MISSING)
    run_as = None
    workdir = Path(tempfile.mkdtemp(prefix="heron-polls-pg-"))
    if os.geteuid() == 0:  # postgres refuses to run as root: hand the cluster to a plain user
        for name in ("postgres", "nobody"):
            with contextlib.suppress(KeyError):
                entry = pwd.getpwnam(name)
                os.chown(workdir, entry.pw_uid, entry.pw_gid)
                run_as = name
                break
    cluster = PostgresCluster(bindir=bindir, workdir=workdir, port=free_port(), run_as=run_as)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def sqlite_config(path: Path) -> Config:
    return parse_config(
        {"host": "127.0.0.1", "port": 0, "database": {"engine": "sqlite", "path": str(path)}},
        "<test>",
    )


@pytest.fixture(params=["sqlite", "postgres"])
def polls_config(request: pytest.FixtureRequest, tmp_path: Path) -> Config:
    """The app's config for each database (PostgreSQL: the session's cluster)."""
    if request.param == "sqlite":
        return sqlite_config(tmp_path / "polls.db")
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.config()


@pytest.fixture
async def polls_client(polls_config: Config, aiohttp_client: Any) -> AsyncIterator[TestClient]:
    """The polls app on a real socket, on fresh sample data; a client that does not follow
    redirects by default and may open as many connections as it likes."""
    if polls_config.database.engine == "postgres":
        engine = db.create_engine(polls_config)
        try:
            await db.init_db(engine, drop=True)  # a fresh database for each test
        finally:
            await engine.dispose()
    client: TestClient = await aiohttp_client(
        create_app(polls_config), connector=TCPConnector(limit=0)
    )
    yield client


@contextlib.contextmanager
def polls_server(config_path: Path, cwd: Path, *, timeout: float = 30) -> Iterator[str]:
    """``python -m heron_polls --config PATH --port N`` as a subprocess; yields its base URL.

    Ready when it prints run_app's "Running on" line (bounded by ``timeout``); stopped with
    SIGINT (graceful: the app's cleanup runs) and killed if it does not exit in time.
    """
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(POLLS_DIR), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "heron_polls", "--config", str(config_path), "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if "Running on" in line:
                ready.set()
        ready.set()  # EOF: the process ended

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        if not ready.wait(timeout) or proc.poll() is not None:
            raise RuntimeError(f"polls server did not start:\n{''.join(output)}")
        yield f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
        reader.join(timeout=15)


def write_config(path: Path, config: Config) -> Path:
    path.write_text(yaml.safe_dump(config.model_dump(), sort_keys=False))
    return path
