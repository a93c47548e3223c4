"""Configuration: a YAML file, found in default locations or given with ``--config PATH``.

The file is validated strictly (pydantic, strict mode, no extra keys): an unknown key, a
missing key or a value of the wrong type stops start-up with a :class:`ConfigError` whose
message names the key and the file.
"""

from __future__ import annotations

import argparse
import pathlib
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

PACKAGE_DIR = pathlib.Path(__file__).resolve().parent
BASE_DIR = PACKAGE_DIR.parent


def default_config_paths() -> list[pathlib.Path]:
    """Where the config is looked for, in order (the first that exists wins)."""
    return [
        pathlib.Path.cwd() / "config" / "polls.yaml",
        BASE_DIR / "config" / "polls.yaml",
        pathlib.Path("/etc/heron_polls/polls.yaml"),
    ]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class SqliteConfig(_Strict):
    engine: Literal["sqlite"]
    path: str = Field(min_length=1)
    """The database file; a relative path is relative to the working directory."""


class PostgresConfig(_Strict):
    engine: Literal["postgres"]
    database: str
    user: str
    password: str
    host: str
    port: int = Field(ge=1, le=65535)
    maxsize: int = Field(ge=1)
    """Connections in the pool at most."""


DatabaseConfig = Annotated[SqliteConfig | PostgresConfig, Field(discriminator="engine")]


class Config(_Strict):
    host: str
    port: int = Field(ge=0, le=65535)
    database: DatabaseConfig


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key of which file."""


def _describe(error: Any) -> str:
    # pydantic puts the union's tag ("sqlite"/"postgres") in the location: leave it out.
    loc = [str(part) for part in error["loc"]]
    if len(loc) >= 2 and loc[0] == "database" and loc[1] in ("sqlite", "postgres"):
        del loc[1]
    key = ".".join(loc) or "(top level)"
    kind = error["type"]
    if kind == "missing":
        return f"{key}: required key is missing"
    if kind == "extra_forbidden":
        return f"{key}: unknown key"
    if kind == "union_tag_invalid":
        return f"{key}.engine: must be 'sqlite' or 'postgres', got {error['input'].get('engine')!r}"
    if kind == "union_tag_not_found":
        return f"{key}.engine: required key is missing (one of 'sqlite', 'postgres')"
    return f"{key}: {error['msg']} (got {error['input']!r})"


def parse_config(data: Any, source: str) -> Config:
    """Validate a loaded YAML document; ``source`` names it in error messages."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a mapping, got {type(data).__name__}")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = "\n".join(f"  {_describe(error)}" for error in exc.errors())
        raise ConfigError(f"{source}: invalid configuration:\n{problems}") from None


def find_config(path: str | pathlib.Path | None = None) -> pathlib.Path:
    """The config file to use: ``path`` if given, else the first default location found."""
    if path is not None:
        candidate = pathlib.Path(path)
        if not candidate.is_file():
            raise ConfigError(f"{candidate}: config file not found")
        return candidate
    for candidate in default_config_paths():
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(p) for p in default_config_paths())
    raise ConfigError(f"no config file found (looked for {tried}); pass --config PATH")


def load_config(path: str | pathlib.Path | None = None) -> Config:
    """Find, read and validate the configuration."""
    config_path = find_config(path)
    try:
        with config_path.open(encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{config_path}: not valid YAML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{config_path}: cannot read: {exc.strerror}") from None
    return parse_config(data, str(config_path))


def argument_parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="YAML config file (default: the first of "
        + ", ".join(str(p) for p in default_config_paths())
        + ")",
    )
    return parser


def config_from_argv(argv: Sequence[str] | None, prog: str, description: str) -> Config:
    """Parse ``--config PATH`` from ``argv`` and load that (or the default) config."""
    args = argument_parser(prog, description).parse_args(argv)
    return load_config(args.config)
