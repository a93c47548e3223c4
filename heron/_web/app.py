"""Application: routes, middlewares, signals and state of one web app.

An application is a mutable mapping for shared state (keyed by ``AppKey``),
plus a router, a middleware list and life-cycle signals.  It freezes when the
server starts: from then on its routes, middlewares and signals are fixed and
each route's middleware chain is built once and cached.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import warnings
from collections.abc import (
    Awaitable,
    Callable,
    Generator,
    Iterable,
)
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, get_args, overload

from .._io.protocol import HttpProtocol
from .._io.streams import StreamReader
from .._proto.h1 import RequestHead
from .._util.aiohttp_types import is_aiohttp_instance
from .domain import Domain, MaskDomain, MatchedSubAppResource
from .log import AbstractAccessLogger, AccessLogger
from .lowlevel import Server
from .match_info import UrlMappingMatchInfo
from .middlewares import build_chain, is_new_style, warn_old_style
from .request import Request
from .resources import AbstractResource, PrefixedSubAppResource
from .response import StreamResponse
from .routes import raise_match_error
from .signals import CleanupContext, FrozenList, Signal
from .state import NotAppKeyWarning, StateMapping
from .urldispatcher import UrlDispatcher

if TYPE_CHECKING:
    from .routedef import AbstractRouteDef

__all__ = ("AppKey", "Application", "NotAppKeyWarning", "RequestKey", "ResponseKey", "web_logger")

# aiohttp's logger names: logging configured for an aiohttp app applies unchanged.
web_logger = logging.getLogger("aiohttp.web")

T = TypeVar("T")
_R = TypeVar("_R", bound=AbstractResource)
_Handler = Callable[[Any], Awaitable[StreamResponse]]


class _Key(Generic[T]):
    __slots__ = ("__orig_class__", "_name", "_t")

    __orig_class__: Any  # set by typing for ``AppKey[int]("name")``

    def __init__(self, name: str, t: type[T] | None = None) -> None:
        # As aiohttp: the name is prefixed with the defining module's name, so that
        # keys of the same name from different modules are told apart in reprs.
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_name != "<module>":
            frame = frame.f_back  # type: ignore[assignment]
        self._name = f"{frame.f_globals['__name__']}.{name}" if frame is not None else name
        self._t = t

    def __lt__(self, other: object) -> bool:
        if isinstance(other, _Key):
            return self._name < other._name
        return True  # keys sort before other keys (str)

    def __gt__(self, other: object) -> bool:
        if isinstance(other, _Key):
            return self._name > other._name
        return False

    def __repr__(self) -> str:
        t: Any = self._t
        if t is None:
            orig = getattr(self, "__orig_class__", None)
            args = get_args(orig) if orig is not None else ()
            t = args[0] if args else None
        if t is None:
            t_repr = "<<Unknown>>"
        elif isinstance(t, type) and not get_args(t):  # (3.10: list[int] passes as a type)
            t_repr = (
                t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
            )
        else:
            t_repr = repr(t)
        return f"<{type(self).__name__}({self._name}, type={t_repr})>"


class AppKey(_Key[T]):
    """A typed key for ``app[key]``."""


class RequestKey(_Key[T]):
    """A typed key for ``request[key]``."""


class ResponseKey(_Key[T]):
    """A typed key for ``response[key]``."""


class Application(StateMapping[Any]):
    """A web application: ``app.router``, ``app.middlewares``, signals and state."""

    def __init__(
        self,
        *,
        logger: logging.Logger = web_logger,
        router: UrlDispatcher | None = None,
        middlewares: Iterable[Any] = (),
        handler_args: dict[str, Any] | None = None,
        client_max_size: int = 1024**2,
        client_max_fields: int = 1000,
        loop: asyncio.AbstractEventLoop | None = None,
        debug: Any = ...,
    ) -> None:
        if router is not None:
            warnings.warn("router argument is deprecated", DeprecationWarning, stacklevel=2)
        if loop is not None:
            warnings.warn("loop argument is deprecated", DeprecationWarning, stacklevel=2)
        if debug is not ...:
            warnings.warn("debug argument is deprecated", DeprecationWarning, stacklevel=2)
        self._router = router if router is not None else UrlDispatcher()
        self._router.post_init(self)
        self._middlewares: FrozenList[Any] = FrozenList(middlewares)
        self._handler_args = handler_args
        self.logger = logger
        self._client_max_size = client_max_size
        self._client_max_fields = client_max_fields
        self._debug = False if debug is ... else bool(debug)
        self._loop = loop
        self._state: dict[Any, Any] = {}
        self._frozen = False
        self._pre_frozen = False
        self._subapps: list[Application] = []
        self._on_response_prepare = Signal(self)
        self._on_startup = Signal(self)
        self._on_shutdown = Signal(self)
        self._on_cleanup = Signal(self)
        self._cleanup_ctx = CleanupContext()
        self._on_startup.append(self._cleanup_ctx._on_startup)
        self._on_cleanup.append(self._cleanup_ctx._on_cleanup)
        self._chains: dict[Any, _Handler] = {}
        self._resolve: Callable[[Any], UrlMappingMatchInfo] | None = None
        self._has_expect_default = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        warnings.warn(
            f"Inheritance class {cls.__name__} from web.Application is discouraged",
            DeprecationWarning,
            stacklevel=3,
        )
        super().__init_subclass__(**kwargs)

    # ------------------------------------------------------------------ state mapping

    @overload
    def __getitem__(self, key: AppKey[T]) -> T: ...

    @overload
    def __getitem__(self, key: str) -> Any: ...

    def __getitem__(self, key: Any) -> Any:
        return self._state[key]

    def _check_frozen(self) -> None:
        if self._frozen:
            warnings.warn(
                "Changing state of started or joined application is deprecated",
                DeprecationWarning,
                stacklevel=3,
            )

    def __setitem__(self, key: Any, value: Any) -> None:
        self._check_frozen()
        if not isinstance(key, AppKey) and not is_aiohttp_instance(key, "AppKey"):
            warnings.warn(
                "It is recommended to use web.AppKey instances for keys.\n"
                "https://docs.aiohttp.org/en/stable/web_advanced.html#application-s-config",
                NotAppKeyWarning,
                stacklevel=2,
            )
        self._state[key] = value

    def __delitem__(self, key: Any) -> None:
        self._check_frozen()
        del self._state[key]

    def __repr__(self) -> str:
        return f"<Application 0x{id(self):x}>"

    # ------------------------------------------------------------------ properties

    @property
    def router(self) -> UrlDispatcher:
        return self._router

    @property
    def middlewares(self) -> FrozenList[Any]:
        return self._middlewares

    @property
    def on_response_prepare(self) -> Signal:
        return self._on_response_prepare

    @property
    def on_startup(self) -> Signal:
        return self._on_startup

    @property
    def on_shutdown(self) -> Signal:
        return self._on_shutdown

    @property
    def on_cleanup(self) -> Signal:
        return self._on_cleanup

    @property
    def cleanup_ctx(self) -> CleanupContext:
        return self._cleanup_ctx

    @property
    def frozen(self) -> bool:
        return self._frozen

    @property
    def pre_frozen(self) -> bool:
        return self._pre_frozen

    @property
    def debug(self) -> bool:
        return self._debug

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """Deprecated (as in aiohttp): the loop the app runs on, None before it starts."""
        warnings.warn("loop property is deprecated", DeprecationWarning, stacklevel=2)
        return cast(asyncio.AbstractEventLoop, self._loop)

    def _set_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        if loop is None:
            loop = asyncio.get_event_loop()
        if self._loop is not None and self._loop is not loop:
            raise RuntimeError("web.Application instance initialized with different loop")
        self._loop = loop
        for subapp in self._subapps:
            subapp._set_loop(loop)

    @property
    def client_max_size(self) -> int:
        return self._client_max_size

    # ------------------------------------------------------------------ composition

    def add_routes(self, routes: Iterable[AbstractRouteDef]) -> list[Any]:
        """Register route definitions (``web.get(...)``, a ``RouteTableDef``…)."""
        return self._router.add_routes(routes)

    def add_subapp(self, prefix: str, subapp: Application) -> PrefixedSubAppResource:
        """Mount ``subapp`` under ``prefix``; its signals run with this app's."""
        if not isinstance(prefix, str):
            raise TypeError("Prefix must be str")
        if not prefix.startswith("/"):
            raise ValueError("Prefix must start with '/'")
        prefix = prefix.rstrip("/")
        if not prefix:
            raise ValueError("Prefix cannot be empty")
        return self._add_subapp(lambda: PrefixedSubAppResource(prefix, subapp), subapp)

    def add_domain(self, domain: str, subapp: Application) -> MatchedSubAppResource:
        """Hand requests whose ``Host`` is ``domain`` to ``subapp``.

        ``domain`` is a host name (``example.com``, optionally with ``:port``) or a mask
        where ``*`` stands for one or more labels (``*.example.com``).  Domain rules are
        tried before any path, in the order they were added.
        """
        if not isinstance(domain, str):
            raise TypeError("Domain must be str")
        rule = MaskDomain(domain) if "*" in domain else Domain(domain)
        return self._add_subapp(lambda: MatchedSubAppResource(rule, subapp), subapp)

    def _add_subapp(self, factory: Callable[[], _R], subapp: Application) -> _R:
        if self._frozen:
            raise RuntimeError("Cannot add sub application to frozen application")
        if subapp.frozen:
            raise RuntimeError("Cannot add frozen application")
        resource = factory()
        self._router.register_resource(resource)
        self._reg_subapp_signals(subapp)
        self._subapps.append(subapp)
        subapp.pre_freeze()
        if self._loop is not None:
            subapp._set_loop(self._loop)
        return resource

    def _reg_subapp_signals(self, subapp: Application) -> None:
        def reg_handler(signal_name: str) -> None:
            subsig = getattr(subapp, signal_name)

            async def handler(app: Application) -> None:
                await subsig.send(subapp)

            getattr(self, signal_name).append(handler)

        reg_handler("on_startup")
        reg_handler("on_shutdown")
        reg_handler("on_cleanup")

    # ------------------------------------------------------------------ life cycle

    def pre_freeze(self) -> None:
        if self._pre_frozen:
            return
        self._pre_frozen = True
        self._middlewares.freeze()
        self._router.freeze()
        self._on_response_prepare.freeze()
        self._cleanup_ctx.freeze()
        self._on_startup.freeze()
        self._on_shutdown.freeze()
        self._on_cleanup.freeze()
        for mw in self._middlewares:
            if not is_new_style(mw):
                warn_old_style(mw)
        for subapp in self._subapps:
            subapp.pre_freeze()
        # A custom router (any AbstractRouter) resolves asynchronously.
        sync_resolver = getattr(self._router, "sync_resolver", None)
        self._resolve = sync_resolver() if sync_resolver is not None else None

    def freeze(self) -> None:
        if self._frozen:
            return
        self.pre_freeze()
        self._frozen = True
        for subapp in self._subapps:
            subapp.freeze()

    async def startup(self) -> None:
        """Run ``on_startup`` (and the first half of ``cleanup_ctx``)."""
        await self.on_startup.send(self)

    async def shutdown(self) -> None:
        """Run ``on_shutdown``."""
        await self.on_shutdown.send(self)

    async def cleanup(self) -> None:
        """Run ``on_cleanup`` (and the second half of ``cleanup_ctx``)."""
        if self.on_cleanup.frozen:
            await self.on_cleanup.send(self)
        else:
            # If an exception occurs in startup, ensure cleanup contexts are completed.
            await self._cleanup_ctx._on_cleanup(self)

    # ------------------------------------------------------------------ request handling

    def _make_request(
        self,
        head: RequestHead,
        payload: StreamReader,
        protocol: HttpProtocol,
        writer: Any,
        task: asyncio.Task[None] | None,
    ) -> Request:
        request = Request(
            head,
            payload,
            protocol,
            writer,
            task,
            protocol._loop,
            client_max_size=self._client_max_size,
            client_max_fields=self._client_max_fields,
        )
        request._app = self
        return request

    def _handle(self, request: Request) -> Awaitable[StreamResponse]:
        """Answer ``request``: return the awaitable of its route's handler chain.

        PERF: "plaintext", "json", "routing", "middleware": a plain method that returns
        the chain's own coroutine, so a request runs one coroutine fewer.  Anything it
        raises, the server handles as if the handler had raised it.
        """
        resolve = self._resolve
        if resolve is None or request._head.expect is not None:
            return self._handle_general(request)
        match_info = resolve(request)
        match_info._add_root_app(self)
        request._match_info = match_info
        chain = self._chain_for(match_info)
        if chain is raise_match_error:
            # PERF: "notfound": no middleware would see the 404/405 raised, so it is
            # returned (the server answers a raised and a returned HTTPException alike).
            return _answered(match_info.http_exception)  # type: ignore[arg-type]
        return chain(request)

    async def _handle_general(self, request: Request) -> StreamResponse:
        """``_handle`` for a router that resolves asynchronously or an ``Expect`` header."""
        resolve = self._resolve
        if resolve is not None:
            match_info = resolve(request)
        else:
            match_info = await self._router.resolve(request)
        match_info.add_app(self)
        match_info.freeze()
        request._match_info = match_info
        if request._head.expect is not None:
            expect_response = await match_info.expect_handler(request)
            if expect_response is not None:
                return cast(StreamResponse, expect_response)
        chain = self._chain_for(match_info)
        if chain is raise_match_error:
            return match_info.http_exception  # type: ignore[return-value]
        return await chain(request)

    def _chain_for(self, match_info: UrlMappingMatchInfo) -> _Handler:
        """The handler wrapped in its middlewares: built once per route, then cached."""
        if type(match_info) is UrlMappingMatchInfo:
            # PERF: "plaintext", "routing", "middleware": a route's chain is one dict lookup.
            chain = self._chains.get(match_info._route)
            if chain is not None:
                return chain
        apps = match_info.apps
        if match_info.http_exception is not None:
            key: Any = apps
            handler: _Handler = raise_match_error
        else:
            key = match_info.route
            handler = match_info.handler
        chain = self._chains.get(key)
        if chain is None:
            chain = self._chains[key] = build_chain(
                handler, [(app, app._middlewares) for app in apps]
            )
        return chain

    # ------------------------------------------------------------------ legacy

    def _make_handler(
        self,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        access_log_class: type[AbstractAccessLogger] = AccessLogger,
        **kwargs: Any,
    ) -> Server:
        """Freeze the app and build the low-level server (a protocol factory) for it.

        Does not run the start-up signals: ``AppRunner`` does, before calling this.
        """
        log_class: Any = access_log_class
        if not (isinstance(log_class, type) and issubclass(log_class, AbstractAccessLogger)):
            raise TypeError(
                "access_log_class must be subclass of heron.abc.AbstractAccessLogger, "
                f"got {access_log_class!r}"
            )
        self._set_loop(loop)
        self.freeze()
        # As in aiohttp, Application(handler_args=...) override the caller's keywords.
        kwargs.update(self._handler_args or {})
        handler: Callable[..., Any] = self._handle
        return Server(
            handler,
            request_factory=self._make_request,
            loop=self._loop,
            access_log_class=access_log_class,
            **kwargs,
        )

    def make_handler(
        self,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        access_log_class: type[AbstractAccessLogger] = AccessLogger,
        **kwargs: Any,
    ) -> Server:
        """Deprecated (as in aiohttp): use ``AppRunner``. A protocol factory for the app."""
        warnings.warn(
            "Application.make_handler(...) is deprecated, use AppRunner API instead",
            DeprecationWarning,
            stacklevel=2,
        )
        return self._make_handler(loop=loop, access_log_class=access_log_class, **kwargs)

    def __call__(self) -> Application:
        """gunicorn compatibility."""
        return self


class _answered:
    """An awaitable that is already done: awaiting it returns ``response`` at once."""

    __slots__ = ("_response",)

    def __init__(self, response: StreamResponse) -> None:
        self._response = response

    def __await__(self) -> Generator[Any, None, StreamResponse]:
        return self._response
        yield  # a generator that returns before its first yield
