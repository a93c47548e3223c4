"""The polls config: found in default locations, overridden with --config, strictly validated
(each kind of bad config stops start-up with a message naming the key and the file)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from heron_polls import db, init_db, main, settings

from heron import web

from .conftest import POLLS_DIR

GOOD = """\
host: 127.0.0.1
port: 8080
database:
  engine: sqlite
  path: polls.db
"""

GOOD_PG = """\
host: 127.0.0.1
port: 8080
database:
  engine: postgres
  database: polls
  user: polls
  password: secret
  host: localhost
  port: 5432
  maxsize: 5
"""

BAD_CONFIGS = {
    "unknown-top-level-key": (GOOD + "colour: blue\n", ["colour: unknown key"]),
    "unknown-nested-key": (
        GOOD.replace("  path: polls.db\n", "  path: polls.db\n  timeout: 3\n"),
        ["database.timeout: unknown key"],
    ),
    "missing-top-level-key": (
        GOOD.replace("port: 8080\n", ""),
        ["port: required key is missing"],
    ),
    "missing-nested-key": (
        GOOD_PG.replace("  user: polls\n", ""),
        ["database.user: required key is missing"],
    ),
    "wrong-type-port": (
        GOOD.replace("port: 8080", 'port: "8080"'),
        ["port: Input should be a valid integer", "(got '8080')"],
    ),
    "wrong-type-nested": (
        GOOD_PG.replace("  port: 5432", "  port: five"),
        ["database.port: Input should be a valid integer", "(got 'five')"],
    ),
    "wrong-type-section": (
        GOOD.split("database:")[0] + "database: sqlite\n",
        ["database: Input should be a valid dictionary"],
    ),
    "unknown-engine": (
        GOOD.replace("engine: sqlite", "engine: mysql"),
        ["database.engine: must be 'sqlite' or 'postgres', got 'mysql'"],
    ),
    "missing-engine": (
        GOOD.replace("  engine: sqlite\n", ""),
        ["database.engine: required key is missing"],
    ),
    "out-of-range": (GOOD.replace("port: 8080", "port: 70000"), ["port: Input should be less"]),
    "not-a-mapping": ("- just\n- a list\n", ["the config must be a mapping, got list"]),
    "not-yaml": ("host: [unclosed\n", ["not valid YAML"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
@pytest.mark.parametrize("command", [main.main, init_db.main], ids=["serve", "init_db"])
def test_bad_config_stops_with_a_message_naming_key_and_file(
    case: str,
    command: object,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text, expected = BAD_CONFIGS[case]
    path = tmp_path / "polls.yaml"
    path.write_text(text)
    assert callable(command)
    status = command(["--config", str(path)])
    assert status == 1
    err = capsys.readouterr().err
    assert str(path) in err
    for fragment in expected:
        assert fragment in err


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "polls.yaml"
    path.write_text(GOOD.replace("port: 8080\n", "prot: 8080\n"))
    with pytest.raises(settings.ConfigError) as info:
        settings.load_config(path)
    message = str(info.value)
    assert "prot: unknown key" in message
    assert "port: required key is missing" in message


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nope.yaml"
    assert main.main(["--config", str(path)]) == 1
    assert f"{path}: config file not found" in capsys.readouterr().err


def test_good_configs_load() -> None:
    config = settings.parse_config(__import__("yaml").safe_load(GOOD_PG), "<pg>")
    assert config.database.engine == "postgres"
    bundled = settings.load_config(POLLS_DIR / "config" / "polls.yaml")
    assert bundled.port == 8080
    assert bundled.database.engine == "sqlite"
    example_pg = settings.load_config(POLLS_DIR / "config" / "polls-postgres.yaml")
    assert example_pg.database.engine == "postgres"


def test_default_locations_and_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # nothing in the working directory: the example's own config/polls.yaml
    assert settings.find_config() == POLLS_DIR / "config" / "polls.yaml"
    # ./config/polls.yaml wins over it
    (tmp_path / "config").mkdir()
    local = tmp_path / "config" / "polls.yaml"
    local.write_text(GOOD.replace("port: 8080", "port: 8181"))
    assert settings.find_config() == local
    assert settings.load_config().port == 8181
    # --config wins over both
    other = tmp_path / "other.yaml"
    other.write_text(GOOD.replace("port: 8080", "port: 8282"))
    assert settings.load_config(str(other)).port == 8282


def test_the_real_command_exits_non_zero(tmp_path: Path) -> None:
    path = tmp_path / "polls.yaml"
    path.write_text(GOOD + "debug: true\n")
    result = subprocess.run(
        [sys.executable, "-m", "heron_polls", "--config", str(path)],
        cwd=POLLS_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert f"heron_polls: {path}: invalid configuration:" in result.stderr
    assert "debug: unknown key" in result.stderr
    assert "Running on" not in result.stdout


def test_init_app_for_heron_cli(tmp_path: Path) -> None:
    """``python -m heron.web heron_polls.main:init_app --config PATH`` calls init_app(argv)."""
    path = tmp_path / "polls.yaml"
    path.write_text(GOOD.replace("port: 8080", "port: 8383"))
    app = main.init_app(["--config", str(path), "--something-for-someone-else"])
    assert isinstance(app, web.Application)
    assert app[db.config_key].port == 8383
    path.write_text(GOOD + "extra: 1\n")
    with pytest.raises(SystemExit) as info:
        main.init_app(["--config", str(path)])
    assert f"heron_polls: {path}: invalid configuration:" in str(info.value.code)
    assert "extra: unknown key" in str(info.value.code)
