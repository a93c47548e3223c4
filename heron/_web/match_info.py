"""The result of resolving a request: the matched values plus the route (or the error)."""

from __future__ import annotations

from typing import Any

from .abc import AbstractMatchInfo
from .exceptions import HTTPException
from .handler_types import ExpectHandler, Handler
from .routes import AbstractRoute, SystemRoute

__all__ = ("MatchInfoError", "UrlMappingMatchInfo")


class UrlMappingMatchInfo(dict[str, str]):
    """The values matched in the path (a dict) plus the route that will handle the request.

    ``route`` is the registered route object itself, the same object for every request it
    handles, so the web layer can cache per-route data (the middleware chain) keyed on it.
    """

    __slots__ = ("_apps", "_current_app", "_frozen", "_route")

    def __init__(self, match_dict: dict[str, str], route: AbstractRoute) -> None:
        # PERF: "plaintext": one per request; no super() lookup, no copy of an empty dict.
        if match_dict:
            dict.update(self, match_dict)
        self._route = route
        self._apps: list[Any] = []
        self._current_app: Any = None
        self._frozen = False

    @property
    def handler(self) -> Handler:
        """The route's handler."""
        return self._route.handler

    @property
    def route(self) -> AbstractRoute:
        """The matched route."""
        return self._route

    @property
    def expect_handler(self) -> ExpectHandler:
        """Handles ``Expect: 100-continue`` for the route."""
        return self._route.handle_expect_header

    @property
    def http_exception(self) -> HTTPException | None:
        """The 404/405 found while resolving; None on a match."""
        return None

    def get_info(self) -> dict[str, Any]:
        """The route's introspection data."""
        return self._route.get_info()

    @property
    def apps(self) -> tuple[Any, ...]:
        """The application stack, the top-level application first."""
        return tuple(self._apps)

    def add_app(self, app: Any) -> None:
        """Push ``app`` as the outermost application (sub-applications add themselves first)."""
        if self._frozen:
            raise RuntimeError("Cannot change apps stack after .freeze() call")
        if self._current_app is None:
            self._current_app = app
        self._apps.insert(0, app)

    @property
    def current_app(self) -> Any:
        """The application whose handler or middleware is running."""
        app = self._current_app
        assert app is not None
        return app

    @current_app.setter
    def current_app(self, app: Any) -> None:
        self._current_app = app

    def freeze(self) -> None:
        """Forbid further ``add_app`` calls."""
        self._frozen = True

    def _add_root_app(self, app: Any) -> None:
        """``add_app(app)`` then ``freeze()``: the top-level application closes the stack.

        PERF: "plaintext" (every routed request): one call instead of two.
        """
        if self._frozen:
            raise RuntimeError("Cannot change apps stack after .freeze() call")
        if self._current_app is None:
            self._current_app = app
        self._apps.insert(0, app)
        self._frozen = True

    def __repr__(self) -> str:
        return f"<MatchInfo {super().__repr__()}: {self._route}>"


# PERF: "plaintext": registered rather than inherited; an ABC base costs ~40 ns on each of
# these per-request objects, and isinstance(match_info, AbstractMatchInfo) works either way.
AbstractMatchInfo.register(UrlMappingMatchInfo)


class MatchInfoError(UrlMappingMatchInfo):
    """A failed resolution: ``http_exception`` is the 404 or 405 to answer with."""

    __slots__ = ("_exception",)

    def __init__(self, http_exception: HTTPException) -> None:
        self._exception = http_exception
        super().__init__({}, SystemRoute(http_exception))

    @property
    def http_exception(self) -> HTTPException:
        """The 404 or 405."""
        return self._exception

    def __repr__(self) -> str:
        return f"<MatchInfoError {self._exception.status}: {self._exception.reason}>"
