"""``PreflightHandler``: the answer to a CORS preflight request, or the 403 that refuses it.

Shared by the preflight middleware of :class:`heron.cors.CorsConfig` and by
``CorsViewMixin.options``; each says where the ``{origin: ResourceOptions}`` for the
requested method comes from (``_get_config``).  The refusals carry aiohttp_cors's texts.
"""

from __future__ import annotations

from collections.abc import Mapping

from .. import hdrs, web
from .resource_options import ResourceOptions

__all__ = (
    "PREFLIGHT_VARY",
    "PreflightForbidden",
    "PreflightHandler",
    "PreflightResponse",
    "answer_preflight",
    "method_refused",
    "parse_preflight",
)

PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


class PreflightResponse(web.Response):
    """An answer to a preflight: the CORS response hook leaves it as it is."""


class PreflightForbidden(web.HTTPForbidden):
    """A refused preflight (403): no ``Access-Control-Allow-*`` header, the reason as text."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            text=f"CORS preflight request failed: {reason}",
            headers={hdrs.VARY: PREFLIGHT_VARY},
        )


class PreflightHandler:
    """Checks a preflight against a config and builds the answer (CORS 6.2, Fetch)."""

    async def _get_config(
        self, request: web.Request, origin: str, request_method: str
    ) -> Mapping[str, ResourceOptions]:
        """``{origin: ResourceOptions}`` for ``request_method``; KeyError: not allowed."""
        raise NotImplementedError()

    async def _preflight_handler(self, request: web.Request) -> web.Response:
        """Answer the preflight ``request`` (raises :class:`PreflightForbidden` to refuse)."""
        origin, method = parse_preflight(request)
        try:
            config = await self._get_config(request, origin, method)
        except KeyError:
            raise method_refused(method, origin) from None
        return answer_preflight(request, origin, method, config, routed=True)


def parse_preflight(request: web.Request) -> tuple[str, str]:
    """The preflight's ``Origin`` and requested method; a 403 when either is missing."""
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        raise PreflightForbidden("origin header is not specified in the request")
    method = request.headers.get(hdrs.ACCESS_CONTROL_REQUEST_METHOD)
    if method is None:
        raise PreflightForbidden("'Access-Control-Request-Method' header is not specified")
    return origin, method.strip()


def method_refused(method: str, origin: str) -> PreflightForbidden:
    """The 403 for a method the origin may not use there."""
    return PreflightForbidden(f"request method {method!r} is not allowed for {origin!r} origin")


def answer_preflight(
    request: web.Request,
    origin: str,
    method: str,
    config: Mapping[str, ResourceOptions],
    *,
    routed: bool,
) -> PreflightResponse:
    """The 200 answer allowing ``method`` for ``origin`` under ``config``, or a 403.

    ``routed``: a route with CORS serves ``method`` (``allow_methods=None`` allows it then).
    """
    if not config:
        raise PreflightForbidden("no origins are allowed")
    options = config.get(origin) or config.get("*")
    if options is None:
        raise PreflightForbidden(f"origin {origin!r} is not allowed")
    if not options.allows_method(method, routed=routed):
        raise method_refused(method, origin)
    raw = request.headers.get(hdrs.ACCESS_CONTROL_REQUEST_HEADERS, "")
    requested = [h.strip(" \t").lower() for h in raw.split(",") if h.strip(" \t")]
    refused = options.disallowed_headers(requested)
    if refused:
        names = ", ".join(name.upper() for name in refused)
        raise PreflightForbidden(f"headers are not allowed: {names}")
    response = PreflightResponse()
    out = response.headers
    out[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
    if options.allow_credentials:
        out[hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS] = "true"
    if options.max_age is not None:
        out[hdrs.ACCESS_CONTROL_MAX_AGE] = str(options.max_age)
    out[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = method
    if requested:
        # Echoed, never "*": "*" does not cover Authorization, nor anything with credentials.
        out[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = ",".join(requested)
    out[hdrs.VARY] = PREFLIGHT_VARY
    return response


#: aiohttp_cors's name for it (its tests import it from this module).
_PreflightHandler = PreflightHandler
