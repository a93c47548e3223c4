"""web.Server: the low-level server that turns a handler into connections.

``Server(handler)`` is an asyncio protocol factory.  For each request it
builds a request object, awaits ``handler(request)``, and sends the response
the handler returned (or raised, for HTTP exceptions).  Any other exception
becomes a 500 whose body carries no traceback; the traceback is logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .._io.config import ServerConfig
from .._io.protocol import HttpProtocol
from .._io.registry import ConnectionRegistry
from .._io.streams import StreamReader
from .._io.writer import ResponseWriter
from .._proto.errors import RequestPayloadError
from .._proto.h1 import RequestHead
from .._util.dates import DateCache
from .exceptions import HTTPException, HTTPInternalServerError
from .log import AbstractAccessLogger, AccessLogger, access_logger
from .request import BaseRequest
from .response import StreamResponse

__all__ = ("RequestHandler", "Server", "server_logger")

server_logger = logging.getLogger("heron.server")

RequestFactory = Callable[
    [RequestHead, StreamReader, HttpProtocol, Any, "asyncio.Task[None] | None"], BaseRequest
]

# aiohttp's RequestHandler keyword arguments that map onto ServerConfig fields.
_CONFIG_KEYS = frozenset(ServerConfig.__dataclass_fields__)
# aiohttp keyword arguments accepted for compatibility that heron does not need.
_IGNORED_KEYS = frozenset({"debug", "timeout_ceil_threshold", "auto_decompress", "loop"})

#: The low-level protocol class, under aiohttp's name.
RequestHandler = HttpProtocol


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
        **kwargs: Any,
    ) -> None:
        unknown = set(kwargs) - _CONFIG_KEYS - _IGNORED_KEYS
        if unknown:
            raise TypeError(f"Unexpected keyword arguments: {', '.join(sorted(unknown))}")
        config_kwargs = {k: v for k, v in kwargs.items() if k in _CONFIG_KEYS}
        self.config = ServerConfig(handler_cancellation=handler_cancellation, **config_kwargs)
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

    @property
    def connections(self) -> list[HttpProtocol]:
        return list(self._registry.connections)

    def __call__(self) -> HttpProtocol:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return HttpProtocol(self.config, self._registry, self._handle, self._dates, loop)

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
        # (A Task started eagerly is not the connection's ``task`` until it suspends.)
        task = protocol._task or asyncio.current_task()
        request = self._request_factory(head, payload, protocol, writer, task)
        access = self.access_logger
        started = time.perf_counter() if access is not None else 0.0
        response: StreamResponse
        try:
            response = await self.request_handler(request)
        except HTTPException as exc:
            response = exc
        except asyncio.CancelledError:
            raise
        except (RequestPayloadError, ConnectionError) as exc:
            self.logger.debug("Request aborted: %r", exc)
            if writer.eof or writer.output_size:
                return False
            response = HTTPInternalServerError()
            response.force_close()
        except Exception as exc:
            self.logger.exception("Error handling request %s %s", head.method, head.path)
            if writer.eof or writer.output_size:
                # The head is out already: only closing can tell the client.
                return False
            response = HTTPInternalServerError()
            if isinstance(exc, asyncio.TimeoutError) and not payload.is_eof():
                # The body stopped arriving (body_timeout): waiting lingering_time for the
                # rest of it would only hold the connection for a stalled peer.
                response.force_close()
        if not isinstance(response, StreamResponse):
            self.logger.error(
                "Web handler %r returned %r: handlers must return a StreamResponse",
                self.request_handler,
                response,
            )
            response = HTTPInternalServerError()
        try:
            if response._writer is None and not response._eof_sent:
                # PERF: "plaintext": the common case without the _send coroutine around it.
                await response._send(request)
            else:
                await self._send(request, response, writer)
        except (ConnectionError, asyncio.TimeoutError) as exc:
            self.logger.debug("Could not send the response: %r", exc)
            return False
        except Exception:
            self.logger.exception("Error sending the response to %s %s", head.method, head.path)
            if writer.output_size:
                return False
            response = HTTPInternalServerError()
            await self._send(request, response, writer)
        if access is not None:
            access.log(request, response, time.perf_counter() - started)
        return bool(response.keep_alive)
