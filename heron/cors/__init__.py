"""Cross-Origin Resource Sharing with aiohttp_cors's API: change the import, keep the code.

    from heron import cors as aiohttp_cors

    cors = aiohttp_cors.setup(app, defaults={
        "*": aiohttp_cors.ResourceOptions(
            allow_credentials=True, expose_headers="*", allow_headers="*"
        ),
    })
    for route in list(app.router.routes()):
        cors.add(route)

or, for every route of the app and its sub-applications, ``setup(app, defaults=...,
app_wide=True)``.  See docs/cors.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import web
from .._version import __version__
from .cors_config import CorsConfig
from .mixin import APP_CONFIG_KEY, CorsViewMixin, custom_cors
from .resource_options import OriginWarning, ResourceOptions

__all__ = (
    "APP_CONFIG_KEY",
    "CorsConfig",
    "CorsViewMixin",
    "OriginWarning",
    "ResourceOptions",
    "__version__",
    "custom_cors",
    "setup",
)


def setup(
    app: web.Application,
    *,
    defaults: Mapping[str, Any] | None = None,
    app_wide: bool = False,
) -> CorsConfig:
    """Set CORS up on ``app`` (before it starts); returns the config to ``add()`` routes to.

    ``defaults`` (``{origin: ResourceOptions}``, ``"*"`` for any origin) applies to every
    route added without its own options, and with ``app_wide=True`` to every route of the
    app and of its sub-applications without calling ``add()``.  The config is also kept as
    ``app[APP_CONFIG_KEY]``.
    """
    cors = CorsConfig(app, defaults=defaults, app_wide=app_wide)
    app[APP_CONFIG_KEY] = cors
    return cors
