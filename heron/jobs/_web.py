"""The web glue, as ``aiojobs.aiohttp``: ``setup``, ``spawn``, ``atomic``, ``get_scheduler``."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from .. import web
from ._job import Job
from ._scheduler import Scheduler

__all__ = (
    "SCHEDULER_KEY",
    "atomic",
    "get_scheduler",
    "get_scheduler_from_app",
    "get_scheduler_from_request",
    "setup",
    "shield",
    "spawn",
)

T = TypeVar("T")
R = TypeVar("R")

SCHEDULER_KEY = web.AppKey("heron.jobs.scheduler", Scheduler)


def setup(app: web.Application, **kwargs: Any) -> None:
    """Give ``app`` a :class:`Scheduler` (``limit``, ``pending_limit``, ``wait_timeout``,
    ``close_timeout``, ``exception_handler``).

    At application cleanup (after in-flight requests are done) the scheduler waits up to
    ``wait_timeout`` seconds for its jobs, then cancels and logs whatever is left.
    """
    scheduler = Scheduler(**kwargs)
    app[SCHEDULER_KEY] = scheduler

    async def close_scheduler(app: web.Application) -> None:
        await scheduler.wait_and_close()

    app.on_cleanup.append(close_scheduler)


def get_scheduler_from_app(app: web.Application) -> Scheduler | None:
    """The scheduler ``setup`` gave ``app`` (``None`` if it has none)."""
    return app.get(SCHEDULER_KEY)


def get_scheduler_from_request(request: web.Request) -> Scheduler | None:
    """The scheduler of the request's application or of an application it is mounted in."""
    scheduler = request.config_dict.get(SCHEDULER_KEY)
    return scheduler if isinstance(scheduler, Scheduler) else None


def get_scheduler(request: web.Request) -> Scheduler:
    """Like :func:`get_scheduler_from_request`, but raise if ``setup`` was not called."""
    scheduler = get_scheduler_from_request(request)
    if scheduler is None:
        raise RuntimeError("No job scheduler: call heron.jobs.setup(app) when building the app")
    return scheduler


async def spawn(
    request: web.Request, coro: Coroutine[Any, Any, T], name: str | None = None
) -> Job[T]:
    """Run ``coro`` in the background on the application's scheduler."""
    return await get_scheduler(request).spawn(coro, name=name)


def shield(request: web.Request, arg: Awaitable[T]) -> asyncio.Future[T]:
    """Run ``arg`` to the end even if the handler is cancelled (see :meth:`Scheduler.shield`)."""
    return get_scheduler(request).shield(arg)


def atomic(handler: Callable[[Any], Awaitable[R]]) -> Callable[[Any], Coroutine[Any, Any, R]]:
    """Run a handler (function or class-based view method) as a job, so it finishes even
    if its client disconnects and the request is cancelled (``handler_cancellation``)."""

    @functools.wraps(handler)
    async def run_atomically(arg: Any) -> R:
        request = arg.request if isinstance(arg, web.View) else arg
        job = await spawn(request, _as_coroutine(handler, arg), name=_handler_name(handler))
        return await job.wait()

    return run_atomically


async def _as_coroutine(handler: Callable[[Any], Awaitable[R]], arg: Any) -> R:
    return await handler(arg)


def _handler_name(handler: Callable[..., Any]) -> str:
    return f"atomic {getattr(handler, '__qualname__', handler)!s}"
