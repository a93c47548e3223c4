"""The polls commands as a user runs them: ``python -m heron_polls.init_db`` and the server
(``python -m heron_polls``), on SQLite and on the session's PostgreSQL cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest
from heron_polls.settings import Config

from .conftest import POLLS_DIR, PostgresCluster, polls_server, sqlite_config, write_config


def run_init_db(config_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "heron_polls.init_db", "--config", str(config_path), *args],
        cwd=config_path.parent,
        env={**os.environ, "PYTHONPATH": str(POLLS_DIR)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(params=["sqlite", "postgres"])
def config_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    config: Config
    if request.param == "sqlite":
        config = sqlite_config(Path("polls.db"))  # relative: under the working directory
    else:
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        config = cluster.config()
    return write_config(tmp_path / "polls.yaml", config)


def test_init_db_creates_and_seeds_once(config_file: Path) -> None:
    first = run_init_db(config_file, "--drop")
    assert first.returncode == 0, first.stderr
    assert "tables ready; sample data added" in first.stdout
    # where it went, without the password
    assert first.stdout.startswith(("sqlite+aiosqlite:///", "postgresql+asyncpg://postgres:***@"))
    second = run_init_db(config_file)
    assert second.returncode == 0, second.stderr
    assert "tables ready; data kept" in second.stdout


def test_server_command_serves_the_seeded_question(config_file: Path) -> None:
    if "postgres" in config_file.read_text():  # PostgreSQL needs init_db first (as documented)
        result = run_init_db(config_file, "--drop")
        assert result.returncode == 0, result.stderr
    with polls_server(config_file, cwd=config_file.parent) as base:
        with urlopen(f"{base}/", timeout=10) as resp:
            assert resp.status == 200
            assert "What&#39;s new?" in resp.read().decode()
        vote = Request(f"{base}/poll/1/vote", data=urlencode({"choice": "1"}).encode())
        with urlopen(vote, timeout=10) as resp:  # follows the 302 like a browser
            assert resp.status == 200
            assert resp.url == f"{base}/poll/1/results"
            assert '<span class="votes">1</span> vote<' in resp.read().decode()
    if "sqlite" in config_file.read_text():
        assert (config_file.parent / "polls.db").is_file()  # under the working directory
