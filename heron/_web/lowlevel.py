"""web.Server: the low-level server that turns a handler into connections.

``Server(handler)`` is an asyncio protocol factory.  For each request it
builds a request object, awaits ``handler(request)``, and sends the response
the handler returned (or raised, for HTTP exceptions).  Any other exception
becomes a 500 whose body carries no traceback (aiohttp's text, or its HTML page when
the client accepts ``text/html``); the traceback is logged. Only a server built with
``debug=True`` (a development opt-in, never implied by the loop's debug mode) shows the
traceback in the page as well, as aiohttp does.  A ``TimeoutError`` out of
the handler is a 504, as in aiohttp, unless the request body stopped arriving
(``body_timeout``): that is a 500 and the connection closes.  An ``aiohttp.web``
HTTPException (from code written for aiohttp) is answered as aiohttp answers it.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
import traceback
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from .. import hdrs
from .._io.config import ServerConfig
from .._io.limits import ConcurrencyLimit
from .._io.protocol import Handle, HttpProtocol
from .._io.proxy_protocol import ProxyProtocolReceiver
from .._io.registry import ConnectionRegistry
from .._io.streams import StreamReader
from .._io.writer import ResponseWriter
from .._proto.errors import PayloadEncodingError, RequestPayloadError
from .._proto.h1 import RequestHead
from .._util.dates import DateCache
from .exceptions import (
    HTTPBadRequest,
    HTTPException,
    HTTPGatewayTimeout,
    HTTPInternalServerError,
    from_aiohttp,
)
from .log import AbstractAccessLogger, AccessLogger, access_logger
from .request import BaseRequest, bad_body, bad_input_reason
from .response import Response, StreamResponse

__all__ = ("RequestHandler", "Server", "server_logger")

# aiohttp's logger names: logging configured for an aiohttp app applies unchanged.
server_logger = logging.getLogger("aiohttp.server")

RequestFactory = Callable[
    [RequestHead, StreamReader, HttpProtocol, Any, "asyncio.Task[None] | None"], BaseRequest
]

# aiohttp's RequestHandler keyword arguments that map onto ServerConfig fields.
_CONFIG_KEYS = frozenset(ServerConfig.__dataclass_fields__)
# aiohttp keyword arguments accepted for compatibility that heron does not need.
_IGNORED_KEYS = frozenset({"timeout_ceil_threshold", "auto_decompress", "loop"})

#: The low-level protocol class, under aiohttp's name.
RequestHandler = HttpProtocol

_ERROR_TITLE = "500 Internal Server Error"
_ERROR_MESSAGE = "Server got itself in trouble"
_ERROR_TEXT = f"{_ERROR_TITLE}\n\n{_ERROR_MESSAGE}"
_ERROR_HTML = (
    f"<html><head><title>{_ERROR_TITLE}</title></head><body>\n"
    f"<h1>{_ERROR_TITLE}</h1>\n{_ERROR_MESSAGE}\n</body></html>\n"
)


def internal_error(
    request: BaseRequest, shown: BaseException | None = None
) -> HTTPInternalServerError:
    """The 500 for a failed handler: aiohttp's page, as HTML if the client accepts it.

    ``shown`` (only from a server built with ``debug=True``) puts its traceback in the page.
    The connection closes after it, as after aiohttp's: what failed may have left the
    request's body, or the connection's state, half read.
    """
    try:
        as_html = "text/html" in request.headers.get(hdrs.ACCEPT, "")
    except Exception:  # a hand-made request without usable headers
        as_html = False
    trace = "".join(traceback.format_exception(shown)) if shown is not None else None
    if as_html:
        page = _ERROR_HTML
        if trace is not None:
            detail = f"<h2>Traceback:</h2>\n<pre>{html.escape(trace)}</pre>"
            page = page.replace(_ERROR_MESSAGE, detail)
        response = HTTPInternalServerError(text=page, content_type="text/html")
    elif trace is not None:
        response = HTTPInternalServerError(text=f"{_ERROR_TITLE}\n\n{trace}")
    else:
        response = HTTPInternalServerError(text=_ERROR_TEXT)
    response.force_close()
    return response


class Server:
    """A protocol factory serving ``handler`` (``async def handler(request) -> response``)."""

    def __init__(
        self,
        handler: Callable[[BaseRequest], Awaitable[StreamResponse]],
        *,
        request_factory: RequestFactory | None = None,
        handler_cancellation: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
        access_log_class: type[AbstractAccessLogger] = AccessLogger,
        access_log: logging.Logger | None = access_logger,
        access_log_format: str = AccessLogger.LOG_FORMAT,
        logger: logging.Logger = server_logger,
        debug: bool = False,
        **kwargs: Any,
    ) -> None:
        unknown = set(kwargs) - _CONFIG_KEYS - _IGNORED_KEYS
        if unknown:
            # aiohttp serves on with a warning (dropping every handler argument); heron
            # drops only the ones it does not know, once, here rather than per connection.
            logger.warning(
                "Ignoring unknown request handler arguments: %s", ", ".join(sorted(unknown))
            )
        config_kwargs = {k: v for k, v in kwargs.items() if k in _CONFIG_KEYS}
        self.config = ServerConfig(
            handler_cancellation=handler_cancellation, logger=logger, **config_kwargs
        )
        self.request_handler = handler
        self._request_factory: RequestFactory = request_factory or self._make_request
        self._loop = loop
        self._registry = ConnectionRegistry()
        self._dates = DateCache()
        self.logger = logger
        self.requests_count = 0
        self.access_logger: AbstractAccessLogger | None = None
        if access_log is not None:
            logger_obj = access_log_class(access_log, access_log_format)
            if logger_obj.enabled:
                self.access_logger = logger_obj
        self.handler_cancellation = handler_cancellation
        #: Show a failed handler's traceback in its 500 page (development only).
        self.debug = debug
        # What each connection calls per request: the in-flight limit wraps _handle only
        # when it is set, so a server without it runs _handle directly.
        self._entry: Handle = self._handle
        if self.config.max_concurrent_requests is not None:
            self._entry = ConcurrencyLimit(
                self._handle, self.config.max_concurrent_requests, self.config.retry_after
            )

    @property
    def connections(self) -> list[HttpProtocol]:
        return list(self._registry.connections)

    def __call__(self) -> asyncio.Protocol:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        protocol = HttpProtocol(self.config, self._registry, self._entry, self._dates, loop)
        if self.config.proxy_protocol:
            return ProxyProtocolReceiver(protocol, self.config.head_timeout, loop)
        return protocol

    def pre_shutdown(self) -> None:
        """Close idle keep-alive connections; busy ones close after their response."""
        self._registry.begin_shutdown()

    async def wait_handlers(self, timeout: float) -> None:
        """Close upgraded connections (WebSockets: 1001), then wait up to ``timeout``
        seconds for running handlers to finish."""
        self._close_upgraded()
        await self._registry.wait_idle(timeout)

    async def shutdown(self, timeout: float | None = None) -> None:
        """Finish in-flight requests within ``timeout``, then close every connection."""
        self._close_upgraded()
        await self._registry.shutdown(timeout if timeout is not None else 0.0)

    def _close_upgraded(self) -> None:
        for conn in list(self._registry.connections):
            conn.close_upgraded()

    @staticmethod
    async def _send(request: BaseRequest, response: StreamResponse, writer: Any) -> None:
        if not response.prepared:
            await response._send(request)
            return
        finished: bool = writer.eof
        if response._writer is not writer:
            raise RuntimeError(
                "This response was already used for another request: "
                "one request, one response (create a new response object for each request)"
            )
        if not finished:
            await response.write_eof()

    def _log_error(self, request: BaseRequest, exc: BaseException) -> None:
        # aiohttp's message and arguments (log filters and tests match on them).
        try:
            remote = request.remote
        except Exception:  # a hand-made request without a transport
            remote = None
        self.logger.exception("Error handling request from %s", remote, exc_info=exc)

    def _make_request(
        self,
        head: RequestHead,
        payload: StreamReader,
        protocol: HttpProtocol,
        writer: Any,
        task: asyncio.Task[None] | None,
    ) -> BaseRequest:
        loop = self._loop
        assert loop is not None
        return BaseRequest(head, payload, protocol, writer, task, loop)

    async def _handle(
        self, protocol: HttpProtocol, head: RequestHead, payload: StreamReader
    ) -> bool:
        """Answer one request; return whether the connection may be reused."""
        self.requests_count += 1
        # PERF: "plaintext": the connection's task read directly, not through its property.
        writer = ResponseWriter(protocol, head_only=head.method == "HEAD")
        # (A Task an eager task factory started is not the connection's ``task`` until it
        # suspends.)
        task = protocol._task or asyncio.current_task()
        request = self._request_factory(head, payload, protocol, writer, task)
        access = self.access_logger
        started = time.perf_counter() if access is not None else 0.0
        response: StreamResponse
        try:
            response = await self.request_handler(request)
        except HTTPException as exc:
            # Its traceback holds this frame, which holds it: a cycle, and nothing reads it.
            exc.__traceback__ = None
            response = exc
        except asyncio.CancelledError:
            # aiohttp's words: the usual cause is the client going away (handler_cancellation).
            self.logger.debug("Ignored premature client disconnection")
            raise
        except (RequestPayloadError, ConnectionError) as exc:
            self.logger.debug("Request aborted: %r", exc)
            if writer.eof or writer.output_size:
                return False
            if isinstance(exc, PayloadEncodingError):
                # The client's fault (bad framing or coding, a body cut short): a 4xx.
                response = bad_body(exc.reason, exc.status)
            else:
                response = internal_error(request)
        except asyncio.TimeoutError as exc:
            stalled = not payload.is_eof()
            if stalled or writer.eof or writer.output_size:
                self._log_error(request, exc)
                if writer.eof or writer.output_size:
                    return False
                # The body stopped arriving (body_timeout): waiting lingering_time for the
                # rest of it would only hold the connection for a stalled peer.
                response = internal_error(request)
            else:
                self.logger.debug("Request handler timed out.", exc_info=exc)
                response = HTTPGatewayTimeout()
        except Exception as exc:
            if writer.eof or writer.output_size:
                # The head is out already: only closing can tell the client.
                self._log_error(request, exc)
                return False
            reason = bad_input_reason(exc)
            converted = from_aiohttp(exc)
            if converted is not None:
                # Code written for aiohttp.web raised aiohttp's class: answered as aiohttp
                # answers it (a middleware chain converts it earlier, see build_chain).
                self.logger.debug("Answered aiohttp's %r", exc)
                response = converted
            elif reason is None:
                self._log_error(request, exc)
                response = internal_error(request, exc if self.debug else None)
            else:
                # The client's input was bad (an undecodable body, a malformed Range) and
                # the handler let the error out: the client's fault, told as post() tells it.
                self.logger.debug("Bad request input: %r", exc)
                response = HTTPBadRequest(text=reason)
        except BaseException:
            # SystemExit, KeyboardInterrupt and the like go on up; the client is not left
            # waiting for an answer that will never come.
            protocol.close()
            raise
        else:
            # PERF: "plaintext" (every scenario): a class attribute, not isinstance(), whose
            # check against these ABCMeta classes costs ~0.1 µs per request.
            if getattr(response, "__http_exception__", False) and (
                response is not _router_answer(request)
            ):
                warnings.warn(
                    "returning HTTPException object is deprecated (#2415) and will be "
                    "removed, please raise the exception instead",
                    DeprecationWarning,
                    stacklevel=1,
                )
        # PERF: "plaintext", "json": the exact type first (see above: isinstance is slow here).
        if response.__class__ is not Response and not isinstance(response, StreamResponse):
            self.logger.error(
                "Web handler %r returned %r: handlers must return a StreamResponse",
                self.request_handler,
                response,
            )
            response = internal_error(request)
        try:
            if response._writer is None and not response._eof_sent:
                # PERF: "plaintext": the common case without the _send coroutine around it.
                await response._send(request)
            else:
                await self._send(request, response, writer)
        except (ConnectionError, asyncio.TimeoutError) as exc:
            self.logger.debug("Could not send the response: %r", exc)
            return False
        except asyncio.CancelledError:
            # Cancelled while sending (handler_cancellation: the client went away).
            self.logger.debug("Ignored premature client disconnection")
            raise
        except Exception:
            self.logger.exception("Error sending the response to %s %s", head.method, head.path)
            if writer.output_size:
                return False
            response = internal_error(request)
            await self._send(request, response, writer)
        if access is not None:
            access.log(request, response, time.perf_counter() - started)
        # Sent: the response forgets its request, as aiohttp's does after write_eof.  A
        # response the request refers to (the router's 404/405 in match_info) would otherwise
        # make a cycle only the garbage collector frees.
        response._req = None
        return bool(response.keep_alive)


def _router_answer(request: BaseRequest) -> HTTPException | None:
    """The 404/405 the router itself answered with (returned, not raised: no warning)."""
    match_info = getattr(request, "_match_info", None)
    return getattr(match_info, "http_exception", None)
