"""Build and serve the polls application.

    python -m heron_polls [--config PATH] [--host HOST] [--port PORT]

It also works with heron's CLI, which passes the arguments it does not know on:
``python -m heron.web -P 8080 heron_polls.main:init_app --config PATH``, and with gunicorn:
``gunicorn heron_polls.main:init -k heron.worker.GunicornWebWorker -w 2`` (config from the
default locations).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import jinja2

from heron import templating, web

from .db import config_key, engine_ctx
from .middlewares import setup_middlewares
from .routes import setup_routes
from .settings import Config, ConfigError, argument_parser, load_config

DESCRIPTION = "Serve the polls app (heron's version of aiohttp's server tutorial)."


def create_app(config: Config) -> web.Application:
    app = web.Application()
    app[config_key] = config
    templating.setup(
        app,
        loader=jinja2.PackageLoader("heron_polls", "templates"),
        context_processors=[templating.request_processor],
    )
    setup_routes(app)
    setup_middlewares(app)
    app.cleanup_ctx.append(engine_ctx)
    return app


def init_app(argv: Sequence[str] | None = None) -> web.Application:
    """The application for ``argv`` (``--config PATH``); for heron's CLI and the tests."""
    parser = argument_parser("heron_polls", DESCRIPTION)
    args, _ = parser.parse_known_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise SystemExit(f"heron_polls: {exc}") from None  # message on stderr, status 1
    return create_app(config)


async def init(argv: Sequence[str] | None = None) -> web.Application:
    """The async factory gunicorn's worker takes (``heron_polls.main:init``).

    gunicorn calls it without arguments: the config comes from the default locations (never
    from gunicorn's own command line).
    """
    return init_app([] if argv is None else argv)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argument_parser("heron_polls", DESCRIPTION)
    parser.add_argument("--host", help="address to listen on (default: the config's host)")
    parser.add_argument("--port", type=int, help="port to listen on (default: the config's port)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"heron_polls: {exc}", file=sys.stderr)
        return 1
    app = create_app(config)
    host = args.host if args.host is not None else config.host
    port = args.port if args.port is not None else config.port
    web.run_app(app, host=host, port=port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
