"""``Job``: one coroutine run (or queued) by a ``Scheduler``."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from ._scheduler import Scheduler

__all__ = ("Job",)

T = TypeVar("T")


class Job(Generic[T]):
    """A coroutine handed to a scheduler: pending (queued), then active, then closed.

    Awaiting :meth:`wait` never cancels the job: if the waiter is cancelled (say, the
    client of the handler that waits disconnected), the job runs on.  A failure nobody
    waits for (or closes the job for) goes to the scheduler's exception handler.
    """

    __slots__ = (
        "_closed",
        "_context",
        "_coro",
        "_coro_name",
        "_explicit",
        "_finished",
        "_name",
        "_scheduler",
        "_task",
    )

    def __init__(
        self, coro: Coroutine[Any, Any, T], scheduler: Scheduler, name: str | None = None
    ) -> None:
        self._coro: Coroutine[Any, Any, T] | None = coro
        self._coro_name = str(getattr(coro, "__qualname__", None) or type(coro).__name__)
        self._scheduler = scheduler
        self._name = name
        # Run with the context of the code that spawned it, even if started later.
        self._context: contextvars.Context | None = contextvars.copy_context()
        self._task: asyncio.Task[T] | None = None
        self._finished = asyncio.Event()
        self._closed = False
        # Someone awaits the outcome (wait() or close()): a failure is theirs, not the
        # exception handler's.
        self._explicit = False

    def __repr__(self) -> str:
        state = "closed " if self._closed else "pending " if self._task is None else ""
        name = self.get_name()
        named = f"{name!r} " if name is not None else ""
        return f"<Job {state}{named}coro=<{self._coro_name}>>"

    # ------------------------------------------------------------------ state

    @property
    def name(self) -> str | None:
        """The job's name: the one given to ``spawn``, else its task's (``Task-N``)."""
        return self.get_name()

    def get_name(self) -> str | None:
        """The job's name (``None`` for an unnamed job that has not started)."""
        return self._task.get_name() if self._task is not None else self._name

    def set_name(self, name: str) -> None:
        """Rename the job (and its task)."""
        self._name = name
        if self._task is not None:
            self._task.set_name(name)

    @property
    def active(self) -> bool:
        """Running now."""
        return not self._closed and self._task is not None

    @property
    def pending(self) -> bool:
        """Queued: the scheduler's limit of active jobs was reached when it was spawned."""
        return not self._closed and self._task is None

    @property
    def closed(self) -> bool:
        """Finished, failed, cancelled or discarded (or being cancelled)."""
        return self._closed

    # ------------------------------------------------------------------ waiting and closing

    async def wait(self, *, timeout: float | None = None) -> T:
        """The job's result (or its exception), waiting up to ``timeout`` seconds.

        On timeout the job is closed and ``asyncio.TimeoutError`` is raised.  A job that
        was cancelled (closed) raises ``asyncio.CancelledError``.  Cancelling the waiter
        does not cancel the job.
        """
        if not self._finished.is_set():
            self._explicit = True
            waiter = asyncio.ensure_future(self._finished.wait())
            try:
                done, _ = await asyncio.wait((waiter,), timeout=timeout)
            finally:
                waiter.cancel()
            if not done:
                await self._close(self._scheduler.close_timeout)
                raise asyncio.TimeoutError(f"{self!r} did not finish in {timeout:g}s")
        return self._outcome()

    async def close(self, *, timeout: float | None = None) -> None:
        """Cancel the job and wait up to ``timeout`` seconds (default: the scheduler's
        ``close_timeout``) for it to stop: ``asyncio.TimeoutError`` if it does not, and
        the job's exception if it had failed."""
        if self._closed:
            return
        self._explicit = True
        await self._close(self._scheduler.close_timeout if timeout is None else timeout)

    async def _close(self, timeout: float | None) -> None:
        self._closed = True
        task = self._task
        if task is None:
            self._discard()
            return
        task.cancel()
        done, _ = await asyncio.wait((task,), timeout=timeout)
        if not done:
            error = asyncio.TimeoutError(f"{self!r} did not stop within {timeout:g}s")
            if self._explicit:
                raise error
            self._scheduler.call_exception_handler(
                {"message": "Job closing timed out", "job": self, "exception": error}
            )
            return
        if not task.cancelled() and self._explicit:
            exc = task.exception()
            if exc is not None:
                raise exc

    def _outcome(self) -> T:
        task = self._task
        if task is None:
            raise asyncio.CancelledError(f"{self!r} was closed before it started")
        return task.result()  # its exception, or CancelledError, if that is the outcome

    # ------------------------------------------------------------------ driven by the scheduler

    def _start(self) -> None:
        coro, context = self._coro, self._context
        assert coro is not None and context is not None
        self._coro = self._context = None
        loop = asyncio.get_running_loop()
        # A task created inside context.run() runs in (a copy of) that context.
        self._task = context.run(loop.create_task, coro, name=self._name)
        self._task.add_done_callback(self._done)

    def _discard(self) -> None:
        """Drop a job that never started."""
        self._closed = True
        if self._coro is not None:
            self._coro.close()
            self._coro = self._context = None
        self._finished.set()
        self._scheduler._job_done(self)

    def _done(self, task: asyncio.Task[T]) -> None:
        # Runs however the task ended, even cancelled before its first step: the
        # scheduler's slot is freed here, and only here.
        self._closed = True
        self._finished.set()
        self._scheduler._job_done(self)
        if task.cancelled():
            return
        exc = task.exception()  # also marks it retrieved
        if exc is not None and not self._explicit:
            self._scheduler.call_exception_handler(
                {"message": "Job processing failed", "job": self, "exception": exc}
            )
