"""Request ids: one per request, taken from a trusted ``X-Request-ID`` or generated.

    from heron.observability import request_ids

    request_ids.setup(app)                 # trust a valid incoming X-Request-ID
    request_ids.setup(app, trust_incoming=False)   # always generate

A handler reads the id as ``request[REQUEST_ID]`` (or ``request_id(request)``); every
response carries it back in the same header, the JSON access log records it, and
:class:`RequestIdFilter` adds it to any log record emitted while the request is handled.

An incoming id is used only when it is at most :data:`MAX_LENGTH` characters from a safe
set (letters, digits and ``-._~:+/=@``): anything else is replaced by a generated id, so a
client can neither forge log lines nor bloat them.  Trust it only when a proxy you run sets
or strips the header.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
from collections.abc import Awaitable, Callable

from .. import web

__all__ = (
    "MAX_LENGTH",
    "REQUEST_ID",
    "RequestIdFilter",
    "current_request_id",
    "new_request_id",
    "request_id",
    "setup",
)

#: ``request[REQUEST_ID]``: the request's id (a ``str``).
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)

#: The longest incoming id accepted.
MAX_LENGTH = 128

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_SAFE_ID = re.compile(rf"[A-Za-z0-9\-._~:+/=@]{{1,{MAX_LENGTH}}}")

# The id of the request being handled.  Each request runs in its own copy of the
# connection's context, so it is set without being reset: it stays visible to whatever
# the server logs for this request after the middleware chain (errors, the access log).
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "heron_request_id", default=None
)


def request_id(request: web.BaseRequest) -> str | None:
    """The id of ``request``, or None when the request-id middleware is not set up."""
    # (The request's mapping is typed with str keys; a RequestKey is what aiohttp advises.)
    value: str | None = request.get(REQUEST_ID)  # type: ignore[call-overload]
    return value


def current_request_id() -> str | None:
    """The id of the request being handled by the current task, if any."""
    return _current.get()


def new_request_id() -> str:
    """A fresh id: 128 random bits as 32 hex digits."""
    return os.urandom(16).hex()


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (the current request's id, or ``"-"``) to every record.

    Attach it to a handler and use ``%(request_id)s`` in its format.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get() or "-"
        return True


def setup(
    app: web.Application,
    *,
    header: str = "X-Request-ID",
    trust_incoming: bool = True,
) -> None:
    """Give every request of ``app`` an id and echo it in ``header`` (before the app starts).

    With ``trust_incoming`` (the default) a valid id in the request's ``header`` is kept;
    otherwise, or when it is missing or invalid, a random one is generated.
    """
    fullmatch = _SAFE_ID.fullmatch

    @web.middleware
    async def request_id_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
        incoming = request.headers.get(header) if trust_incoming else None
        rid = incoming if incoming is not None and fullmatch(incoming) else new_request_id()
        request[REQUEST_ID] = rid
        _current.set(rid)
        return await handler(request)

    async def echo(request: web.BaseRequest, response: web.StreamResponse) -> None:
        # on_response_prepare: every response, streamed ones and the server's own 500s
        # included, gets the id before its head is written.
        rid = request_id(request)
        if rid is not None:
            response.headers[header] = rid

    app.middlewares.insert(0, request_id_middleware)
    app.on_response_prepare.append(echo)
