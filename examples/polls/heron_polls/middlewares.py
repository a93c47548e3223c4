"""Custom error pages: the tutorial's error middleware, for 404 and 500."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from heron import templating, web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Override = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

logger = logging.getLogger("heron_polls")


async def handle_404(request: web.Request) -> web.StreamResponse:
    return templating.render_template("404.html", request, {}, status=404)


async def handle_500(request: web.Request) -> web.StreamResponse:
    return templating.render_template("500.html", request, {}, status=500)


def create_error_middleware(overrides: Mapping[int, Override]) -> Middleware:
    @web.middleware
    async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            override = overrides.get(exc.status)
            if override is None:
                raise
            return await override(request)
        except Exception:
            logger.exception("Error handling %s %s", request.method, request.path)
            return await overrides[500](request)
        override = overrides.get(response.status)
        if override is None:
            return response
        return await override(request)

    return error_middleware


def setup_middlewares(app: web.Application) -> None:
    app.middlewares.append(create_error_middleware({404: handle_404, 500: handle_500}))
