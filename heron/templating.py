"""Jinja2 templates for heron applications: aiohttp_jinja2's API, built in.

Install the ``templating`` extra (``pip install heron[templating]``).  Code written for
aiohttp_jinja2 changes only its import::

    import jinja2
    from heron import templating as aiohttp_jinja2

    aiohttp_jinja2.setup(app, loader=jinja2.PackageLoader("mypkg", "templates"))

    @aiohttp_jinja2.template("detail.html")
    async def detail(request):
        return {"question": ...}

What it provides:

* :func:`setup` makes the application's :class:`jinja2.Environment` (keyword arguments go to
  the environment; ``autoescape`` is on unless you say otherwise) and stores it under
  :data:`APP_KEY`.  ``enable_async=True`` makes every render use Jinja2's async mode, so
  templates may call ``async`` functions.
* :func:`template` decorates a handler (function or class-based view method) that returns a
  mapping (or ``None``, an empty context): it is rendered into a ``text/html`` response.  A
  handler may still return any ``StreamResponse``, which passes through untouched.
* :func:`render_template` / :func:`render_template_async` build a response;
  :func:`render_string` / :func:`render_string_async` give the text.
* Context processors: ``setup(app, context_processors=[...])`` installs a middleware that
  awaits each ``processor(request)`` and merges the mappings they return into every template's
  context (the handler's own context wins).  :func:`request_processor` adds ``request``.
* Helpers available in every template: ``app``, ``url("route-name", query_={...}, **parts)``
  and ``static("css/site.css")``.  ``static`` uses ``app[static_root_key]`` when set (like
  aiohttp_jinja2), else the static resource named ``"static"`` of the router.
* A missing template, or a context that is not a mapping, is a 500 with the cause logged on
  the ``heron.templating`` logger (and given as the 500's text and reason phrase).
* ``url()`` takes ``str`` and ``int`` values for the route's parts; anything else (``True``,
  ``1.5``, ``None``) is a ``TypeError`` rather than a URL with ``True`` in it.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar, cast

import jinja2
from yarl import URL

from .web import (
    AppKey,
    Application,
    HTTPInternalServerError,
    Request,
    Response,
    StreamResponse,
    View,
    middleware,
)

__all__ = (
    "APP_CONTEXT_PROCESSORS_KEY",
    "APP_KEY",
    "REQUEST_CONTEXT_KEY",
    "context_processors_middleware",
    "get_env",
    "render_string",
    "render_string_async",
    "render_template",
    "render_template_async",
    "request_processor",
    "setup",
    "static_root_key",
    "template",
)

logger = logging.getLogger("heron.templating")

ContextProcessor = Callable[[Request], Awaitable[Mapping[str, Any]]]
Filters = Iterable[tuple[str, Callable[..., Any]]] | Mapping[str, Callable[..., Any]]
_Handler = Callable[..., Awaitable[Any]]
_F = TypeVar("_F", bound=_Handler)

APP_KEY: AppKey[jinja2.Environment] = AppKey("heron_templating_environment", jinja2.Environment)
"""Where :func:`setup` stores the environment (pass another ``app_key`` for a second one)."""

APP_CONTEXT_PROCESSORS_KEY: AppKey[tuple[ContextProcessor, ...]] = AppKey(
    "heron_templating_context_processors", tuple
)
"""The context processors the middleware runs."""

REQUEST_CONTEXT_KEY = "aiohttp_jinja2_context"
"""``request[REQUEST_CONTEXT_KEY]``: the context gathered by the processors for this request."""

static_root_key: AppKey[str] = AppKey("static_root_url", str)
"""``app[static_root_key] = "/static"`` makes ``static(path)`` return ``/static/<path>``."""


# ---------------------------------------------------------------------- set-up


def setup(
    app: Application,
    *args: Any,
    app_key: AppKey[jinja2.Environment] = APP_KEY,
    context_processors: Iterable[ContextProcessor] = (),
    filters: Filters | None = None,
    default_helpers: bool = True,
    **kwargs: Any,
) -> jinja2.Environment:
    """Create the Jinja2 environment of ``app`` and return it.

    ``args`` and ``kwargs`` go to :class:`jinja2.Environment` (``loader=...``,
    ``enable_async=True``, ...); ``autoescape`` defaults to on.
    """
    kwargs.setdefault("autoescape", True)
    env = jinja2.Environment(*args, **kwargs)
    if default_helpers:
        env.globals.update(url=_url_helper, static=_static_helper)
    env.globals["app"] = app
    if filters is not None:
        env.filters.update(filters)
    app[app_key] = env
    processors = tuple(context_processors)
    if processors:
        app[APP_CONTEXT_PROCESSORS_KEY] = processors
        app.middlewares.append(context_processors_middleware)
    return env


def get_env(
    app: Application, *, app_key: AppKey[jinja2.Environment] = APP_KEY
) -> jinja2.Environment:
    """The environment :func:`setup` made for ``app`` (``KeyError`` when it was not called)."""
    return app[app_key]


# ---------------------------------------------------------------------- context processors


@middleware
async def context_processors_middleware(
    request: Request, handler: Callable[[Request], Awaitable[StreamResponse]]
) -> StreamResponse:
    """Run the application's context processors before the handler."""
    context = request.get(REQUEST_CONTEXT_KEY)
    if context is None:
        context = {}
        request[REQUEST_CONTEXT_KEY] = context
    for processor in request.app.get(APP_CONTEXT_PROCESSORS_KEY, ()):
        context.update(await processor(request))
    return await handler(request)


async def request_processor(request: Request) -> dict[str, Any]:
    """A context processor that makes ``request`` available in templates."""
    return {"request": request}


# ---------------------------------------------------------------------- helpers in templates


@jinja2.pass_context
def _url_helper(
    context: jinja2.runtime.Context,
    route_name: str,
    /,
    query_: Mapping[str, Any] | None = None,
    **parts: Any,
) -> str:
    """``url("poll", question_id=1)``: the path of a named route; ``query_`` adds a query."""
    app = cast(Application, context["app"])
    try:
        resource = app.router[route_name]
    except KeyError:
        raise jinja2.TemplateRuntimeError(f"url(): no route named {route_name!r}") from None
    url: URL = resource.url_for(**{key: _url_part(key, value) for key, value in parts.items()})
    if query_:
        url = url.with_query(query_)
    return str(url)


def _url_part(key: str, value: Any) -> str:
    # A str (or subclass) or an exact int: a bool or a float in a URL is almost always a bug.
    if isinstance(value, str) or type(value) is int:
        return str(value)
    raise TypeError(f"argument value should be str or int, got {key} -> [{type(value)}] {value!r}")


@jinja2.pass_context
def _static_helper(context: jinja2.runtime.Context, static_file_path: str) -> str:
    """``static("style.css")``: the URL of a static file."""
    app = cast(Application, context["app"])
    root = app.get(static_root_key)
    if root is None:
        root = app.get("static_root_url")  # aiohttp_jinja2's documented plain key
    if root is not None:
        return f"{str(root).rstrip('/')}/{static_file_path.lstrip('/')}"
    try:
        resource = app.router["static"]
    except KeyError:
        raise RuntimeError(
            "static(): set app[heron.templating.static_root_key] = '/static' "
            "or add a static route named 'static' (app.router.add_static(..., name='static'))"
        ) from None
    return str(resource.url_for(filename=static_file_path))


# ---------------------------------------------------------------------- rendering


def _server_error(text: str) -> HTTPInternalServerError:
    """A 500 that says why, in its text and (when it fits in a status line) its reason."""
    reason = text if "\r" not in text and "\n" not in text else None
    return HTTPInternalServerError(reason=reason, text=text)


def _environment(request: Request, app_key: AppKey[jinja2.Environment]) -> jinja2.Environment:
    env = request.config_dict.get(app_key)
    if env is None:
        text = (
            "Template engine is not initialized, "
            "call heron.templating.setup(..., app_key=app_key) first"
        )
        logger.error(text)
        raise _server_error(text)
    return cast(jinja2.Environment, env)


def _prepare(
    template_name: str,
    request: Request,
    context: Any,
    app_key: AppKey[jinja2.Environment],
) -> tuple[jinja2.Template, Mapping[str, Any]]:
    env = _environment(request, app_key)
    try:
        template = env.get_template(template_name)
    except jinja2.TemplateNotFound as exc:
        logger.error("Template %r not found (%s %s)", template_name, request.method, request.path)
        raise _server_error(f"Template '{template_name}' not found") from exc
    if not isinstance(context, Mapping):
        text = f"context should be mapping, not {type(context)!r}"
        logger.error("Cannot render %r: %s", template_name, text)
        raise _server_error(text)
    gathered = request.get(REQUEST_CONTEXT_KEY)
    if gathered:
        context = {**gathered, **context}
    return template, context


def render_string(
    template_name: str,
    request: Request,
    context: Mapping[str, Any],
    *,
    app_key: AppKey[jinja2.Environment] = APP_KEY,
) -> str:
    """Render ``template_name`` with ``context`` (plus the processors' context) to text."""
    template, full_context = _prepare(template_name, request, context, app_key)
    return template.render(full_context)


async def render_string_async(
    template_name: str,
    request: Request,
    context: Mapping[str, Any],
    *,
    app_key: AppKey[jinja2.Environment] = APP_KEY,
) -> str:
    """:func:`render_string` for an environment made with ``enable_async=True``."""
    template, full_context = _prepare(template_name, request, context, app_key)
    return await template.render_async(full_context)


def _or_empty(context: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return {} if context is None else context


def _response(text: str, encoding: str, status: int) -> Response:
    response = Response(status=status)
    response.content_type = "text/html"
    response.charset = encoding
    response.text = text
    return response


def render_template(
    template_name: str,
    request: Request,
    context: Mapping[str, Any] | None,
    *,
    app_key: AppKey[jinja2.Environment] = APP_KEY,
    encoding: str = "utf-8",
    status: int = 200,
) -> Response:
    """A ``text/html`` response with ``template_name`` rendered (``None``: no context)."""
    text = render_string(template_name, request, _or_empty(context), app_key=app_key)
    return _response(text, encoding, status)


async def render_template_async(
    template_name: str,
    request: Request,
    context: Mapping[str, Any] | None,
    *,
    app_key: AppKey[jinja2.Environment] = APP_KEY,
    encoding: str = "utf-8",
    status: int = 200,
) -> Response:
    """:func:`render_template` for an environment made with ``enable_async=True``."""
    text = await render_string_async(template_name, request, _or_empty(context), app_key=app_key)
    return _response(text, encoding, status)


def template(
    template_name: str,
    *,
    app_key: AppKey[jinja2.Environment] = APP_KEY,
    encoding: str = "utf-8",
    status: int = 200,
) -> Callable[[_F], _F]:
    """Render the mapping a handler returns with ``template_name``.

    Works on ``async def handler(request)`` and on methods of class-based views.  A handler
    that returns ``None`` renders the template with an empty context; one that returns a
    ``StreamResponse`` (a redirect, say) bypasses the template.  Renders asynchronously
    when the environment has ``enable_async=True``.
    """

    def wrapper(func: _F) -> _F:
        if not inspect.iscoroutinefunction(func):
            raise TypeError(f"@template({template_name!r}) needs an async def handler: {func!r}")

        @functools.wraps(func)
        async def wrapped(*args: Any, **kwargs: Any) -> StreamResponse:
            context = await func(*args, **kwargs)
            if isinstance(context, StreamResponse):
                return context
            last = args[-1]
            request = cast(Request, last.request if isinstance(last, View) else last)
            env = _environment(request, app_key)
            if env.is_async:
                return await render_template_async(
                    template_name,
                    request,
                    context,
                    app_key=app_key,
                    encoding=encoding,
                    status=status,
                )
            return render_template(
                template_name, request, context, app_key=app_key, encoding=encoding, status=status
            )

        return cast(_F, wrapped)

    return wrapper
