"""Routes: a handler bound to a method on a resource (``ResourceRoute``), and the
``SystemRoute`` that carries a 404/405 found while resolving."""

from __future__ import annotations

import abc
import functools
import inspect
import re
import warnings
from typing import TYPE_CHECKING, Any, Final

from yarl import URL

from .. import hdrs
from .._util.grammar import TOKEN
from .exceptions import HTTPException, HTTPExpectationFailed
from .handler_types import ExpectHandler, Handler
from .view import AbstractView

if TYPE_CHECKING:
    from .resources import AbstractResource

__all__ = (
    "AbstractRoute",
    "ResourceRoute",
    "SystemRoute",
    "default_expect_handler",
    "raise_match_error",
)

_METHOD_RE: Final = re.compile(TOKEN)
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"


async def default_expect_handler(request: Any) -> None:
    """Answer ``Expect: 100-continue`` with an interim 100 response; 417 for other values.

    HTTP/1.0 requests are left alone, as aiohttp does.
    """
    expect = request.headers.get(hdrs.EXPECT, "")
    if tuple(request.version) == (1, 1):
        if expect.lower() == "100-continue":
            await request.writer.write(_CONTINUE)
            # The interim response is not part of the response body size.
            request.writer.output_size = 0
        else:
            raise HTTPExpectationFailed(text=f"Unknown Expect: {expect}")


async def raise_match_error(request: Any) -> Any:
    """A handler that raises ``request.match_info.http_exception``.

    The same for every failed resolution, so the web layer can build the middleware chain
    for 404/405 once and share it (``MatchInfoError.route`` is a fresh ``SystemRoute``).
    """
    raise request.match_info.http_exception


def _is_coroutine_function(func: Any) -> bool:
    return inspect.iscoroutinefunction(func)


def _normalize_handler(handler: Any) -> Handler:
    """Return ``handler`` ready to be awaited, warning like aiohttp 3.14 for plain functions.

    Coroutine functions (and partials or bound methods of them) and view classes are used as
    they are. Any other callable is wrapped with a DeprecationWarning ("Bare functions are
    deprecated"); the wrapper awaits the result when it is a coroutine.
    """
    if not callable(handler):
        raise TypeError(f"Handler must be callable, got {handler!r}")
    if _is_coroutine_function(handler):
        return handler  # type: ignore[no-any-return]
    if isinstance(handler, type) and issubclass(handler, AbstractView):
        return handler
    if inspect.isgeneratorfunction(handler):
        warnings.warn(
            "Bare generators are deprecated, use @coroutine wrapper",
            DeprecationWarning,
            stacklevel=4,
        )
        return handler  # type: ignore[no-any-return]
    warnings.warn("Bare functions are deprecated, use async ones", DeprecationWarning, stacklevel=4)
    sync_handler = handler

    @functools.wraps(sync_handler)
    async def handler_wrapper(request: Any) -> Any:
        result = sync_handler(request)
        if inspect.isawaitable(result):
            result = await result
        return result

    return handler_wrapper


class _NotACoroutine(TypeError, AssertionError):
    """An expect handler that is not a coroutine function.

    A TypeError, and an AssertionError too: aiohttp refuses one with an ``assert``, so
    code written for aiohttp may catch that.
    """


class AbstractRoute(abc.ABC):
    """A handler for one method (or ``*``) with its expect handler."""

    __slots__ = ("_expect_handler", "_handler", "_method", "_resource")

    def __init__(
        self,
        method: str,
        handler: Handler | type[AbstractView],
        *,
        expect_handler: ExpectHandler | None = None,
        resource: AbstractResource | None = None,
    ) -> None:
        if expect_handler is None:
            expect_handler = default_expect_handler
        if not _is_coroutine_function(expect_handler):
            raise _NotACoroutine(f"Coroutine is expected, got {expect_handler!r}")
        method = method.upper()
        if not _METHOD_RE.fullmatch(method):
            raise ValueError(f"{method} is not allowed HTTP method")
        self._method = method
        self._handler = _normalize_handler(handler)
        self._expect_handler = expect_handler
        self._resource = resource

    @property
    def method(self) -> str:
        """The method, upper case, or ``*`` for any method."""
        return self._method

    @property
    def handler(self) -> Handler:
        """The handler, ready to be called with the request and awaited."""
        return self._handler

    @property
    @abc.abstractmethod
    def name(self) -> str | None:
        """The route's name: its resource's name."""

    @property
    def resource(self) -> AbstractResource | None:
        """The resource the route belongs to."""
        return self._resource

    @abc.abstractmethod
    def get_info(self) -> dict[str, Any]:
        """Introspection data (see ``AbstractResource.get_info``)."""

    @abc.abstractmethod
    def url_for(self, *args: str, **kwargs: str) -> URL:
        """Build a URL for the route."""

    async def handle_expect_header(self, request: Any) -> Any:
        """Run the expect handler (``Expect: 100-continue``)."""
        return await self._expect_handler(request)


class ResourceRoute(AbstractRoute):
    """A route registered on a resource."""

    __slots__ = ()

    def __init__(
        self,
        method: str,
        handler: Handler | type[AbstractView],
        resource: AbstractResource,
        *,
        expect_handler: ExpectHandler | None = None,
    ) -> None:
        super().__init__(method, handler, expect_handler=expect_handler, resource=resource)

    def __repr__(self) -> str:
        return f"<ResourceRoute [{self.method}] {self._resource} -> {self.handler!r}"

    @property
    def name(self) -> str | None:
        """The resource's name."""
        return None if self._resource is None else self._resource.name

    def url_for(self, *args: str, **kwargs: str) -> URL:
        """Build a URL with the resource's ``url_for``."""
        assert self._resource is not None
        return self._resource.url_for(*args, **kwargs)

    def get_info(self) -> dict[str, Any]:
        """The resource's introspection data."""
        assert self._resource is not None
        return self._resource.get_info()


class SystemRoute(AbstractRoute):
    """The route of a failed resolution: its handler raises the HTTP exception."""

    __slots__ = ("_http_exception",)

    def __init__(self, http_exception: HTTPException) -> None:
        # PERF: "404": skip AbstractRoute's validation; nothing here comes from the user.
        # No bound method stored on self (``handler`` makes it on demand): that would be
        # a reference cycle, and every 404 would wait for the garbage collector.
        self._method = hdrs.METH_ANY
        self._expect_handler = default_expect_handler
        self._resource = None
        self._http_exception = http_exception

    @property
    def handler(self) -> Handler:
        """Raises the route's HTTP exception."""
        return self._handle

    def url_for(self, *args: str, **kwargs: str) -> URL:
        """Not available: raises RuntimeError."""
        raise RuntimeError(".url_for() is not allowed for SystemRoute")

    @property
    def name(self) -> str | None:
        """Always None."""
        return None

    def get_info(self) -> dict[str, Any]:
        """``{"http_exception": exc}``."""
        return {"http_exception": self._http_exception}

    async def _handle(self, request: Any) -> Any:
        raise self._http_exception

    @property
    def status(self) -> int:
        """The exception's status code."""
        return int(self._http_exception.status)

    @property
    def reason(self) -> str:
        """The exception's reason phrase."""
        return str(self._http_exception.reason)

    def __repr__(self) -> str:
        return f"<SystemRoute {self.status}: {self.reason}>"
