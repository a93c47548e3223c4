"""Create the polls tables and the tutorial's sample data.

    python -m heron_polls.init_db [--config PATH] [--drop]

Idempotent: sample data goes only into empty tables.  ``--drop`` starts from scratch.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from . import db
from .settings import Config, ConfigError, argument_parser, load_config


async def _run(config: Config, drop: bool) -> bool:
    engine = db.create_engine(config)
    try:
        return await db.init_db(engine, drop=drop)
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argument_parser("heron_polls.init_db", "Create the polls tables and sample data.")
    parser.add_argument("--drop", action="store_true", help="drop the tables first")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"heron_polls.init_db: {exc}", file=sys.stderr)
        return 1
    seeded = asyncio.run(_run(config, args.drop))
    where = db.database_url(config).render_as_string(hide_password=True)
    print(f"{where}: tables ready; " + ("sample data added" if seeded else "data kept"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
