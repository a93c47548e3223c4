"""``Scheduler``: runs at most ``limit`` jobs at once, queues up to ``pending_limit`` more,
and closes without losing any of them silently."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Collection, Coroutine, Iterator
from typing import Any, TypeVar

from ._job import Job

__all__ = ("ExceptionHandler", "Scheduler")

log = logging.getLogger("heron.jobs")

T = TypeVar("T")
ExceptionHandler = Callable[["Scheduler", dict[str, Any]], None]

DEFAULT_CLOSE_TIMEOUT = 60.0
DEFAULT_CANCEL_TIMEOUT = 1.0


class Scheduler(Collection[Job[Any]]):
    """A bounded set of background jobs.

    * ``limit``: jobs active at once (``None``: no limit); more are queued as pending.
    * ``pending_limit``: jobs queued at most; ``spawn`` then waits for room (it raises
      ``RuntimeError`` if the scheduler closes meanwhile).
    * ``close_timeout``: how long :meth:`wait_and_close` (run at application shutdown)
      lets the active and pending jobs finish before cancelling what is left.
    * ``cancel_timeout``: how long a cancelled job may take to unwind before it is
      reported as stuck and abandoned.
    * ``exception_handler(scheduler, context)``: receives failures nobody awaited; the
      default logs them on the ``heron.jobs`` logger with the job's name.
    """

    def __init__(
        self,
        *,
        limit: int | None = 100,
        pending_limit: int = 10000,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
        cancel_timeout: float = DEFAULT_CANCEL_TIMEOUT,
        exception_handler: ExceptionHandler | None = None,
    ) -> None:
        if limit is not None and limit < 1:
            raise ValueError("limit must be at least 1 (or None for no limit)")
        if pending_limit < 1:
            raise ValueError("pending_limit must be at least 1: the queue is bounded")
        if close_timeout < 0 or cancel_timeout < 0:
            raise ValueError("timeouts must not be negative")
        self._limit = limit
        self._pending_limit = pending_limit
        self._close_timeout = close_timeout
        self._cancel_timeout = cancel_timeout
        self._exception_handler = exception_handler
        self._jobs: set[Job[Any]] = set()
        self._pending: deque[Job[Any]] = deque()
        self._room_waiters: deque[asyncio.Future[None]] = deque()
        self._active_count = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self._closed = False
        self._count = 0

    def __repr__(self) -> str:
        state = " closed" if self._closed else " closing" if self._closing else ""
        return f"<Scheduler{state} active={self.active_count} pending={self.pending_count}>"

    # ------------------------------------------------------------------ collection

    def __iter__(self) -> Iterator[Job[Any]]:
        return iter(list(self._jobs))

    def __len__(self) -> int:
        return len(self._jobs)

    def __contains__(self, job: object) -> bool:
        return job in self._jobs

    # ------------------------------------------------------------------ settings and counts

    @property
    def limit(self) -> int | None:
        """Jobs that may be active at once."""
        return self._limit

    @property
    def pending_limit(self) -> int:
        """Jobs that may wait in the queue."""
        return self._pending_limit

    @property
    def close_timeout(self) -> float:
        """Seconds jobs get to finish at close before they are cancelled."""
        return self._close_timeout

    @property
    def cancel_timeout(self) -> float:
        """Seconds a cancelled job gets to unwind."""
        return self._cancel_timeout

    @property
    def active_count(self) -> int:
        """Jobs running now."""
        return self._active_count

    @property
    def pending_count(self) -> int:
        """Jobs waiting for a free slot."""
        return len(self._pending)

    @property
    def closed(self) -> bool:
        """True once the scheduler stopped accepting jobs."""
        return self._closing

    @property
    def exception_handler(self) -> ExceptionHandler | None:
        """The custom exception handler, if any."""
        return self._exception_handler

    # ------------------------------------------------------------------ spawning

    async def spawn(self, coro: Coroutine[Any, Any, T], name: str | None = None) -> Job[T]:
        """Start ``coro`` as a job now, or queue it if ``limit`` jobs are active."""
        if self._closing:
            coro.close()
            raise RuntimeError("Scheduling a new job after closing")
        while not self._has_slot() and len(self._pending) >= self._pending_limit:
            await self._wait_for_room(coro)
        self._count += 1
        job: Job[T] = Job(coro, self, name or f"{_coro_name(coro)}#{self._count}")
        self._jobs.add(job)
        self._idle.clear()
        if self._has_slot():
            self._activate(job)
        else:
            self._pending.append(job)
        return job

    async def shield(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` as a job and return its result; cancelling the caller does not
        cancel the job."""
        job = await self.spawn(coro)
        return await job.wait()

    def _has_slot(self) -> bool:
        return self._limit is None or self._active_count < self._limit

    async def _wait_for_room(self, coro: Coroutine[Any, Any, Any]) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._room_waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            coro.close()
            raise
        finally:
            if waiter in self._room_waiters:
                self._room_waiters.remove(waiter)
        if self._closing:
            coro.close()
            raise RuntimeError("Scheduling a new job after closing")

    def _wake_room_waiters(self, count: int) -> None:
        while count > 0 and self._room_waiters:
            waiter = self._room_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                count -= 1

    def _activate(self, job: Job[Any]) -> None:
        self._active_count += 1
        job._start()

    def _job_done(self, job: Job[Any], *, was_pending: bool) -> None:
        """Called by a job as it finishes, fails, is cancelled or discarded."""
        self._jobs.discard(job)
        if was_pending:
            self._pending.remove(job)  # only at close, or when a queued job is closed
        else:
            self._active_count -= 1
        started = 0
        while not self._closed and self._pending and self._has_slot():
            self._activate(self._pending.popleft())
            started += 1
        self._wake_room_waiters(started + (1 if was_pending else 0))
        if not self._jobs:
            self._idle.set()

    # ------------------------------------------------------------------ failures

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        """Report a failure: to the custom handler, else to the ``heron.jobs`` log."""
        handler = self._exception_handler
        if handler is not None:
            try:
                handler(self, context)
            except Exception:
                log.exception("Exception handler of %r failed on %s", self, context)
            return
        job = context.get("job")
        name = job.name if isinstance(job, Job) else "?"
        exc = context.get("exception")
        log.error(
            "%s: job %r",
            context.get("message", "Job failed"),
            name,
            exc_info=(type(exc), exc, exc.__traceback__)
            if isinstance(exc, BaseException)
            else None,
        )

    # ------------------------------------------------------------------ closing

    async def wait_and_close(self, timeout: float | None = None) -> None:
        """Stop accepting jobs, let active and pending ones finish for up to ``timeout``
        seconds (default ``close_timeout``), then cancel the rest (see :meth:`close`)."""
        self._closing = True
        self._wake_room_waiters(len(self._room_waiters))
        limit = self._close_timeout if timeout is None else timeout
        if self._jobs:
            try:
                await asyncio.wait_for(self._idle.wait(), limit)
            except asyncio.TimeoutError:
                log.warning(
                    "%d job(s) still running and %d pending %gs after closing began: "
                    "cancelling them",
                    self.active_count,
                    self.pending_count,
                    limit,
                )
        await self.close()

    async def close(self) -> None:
        """Cancel every job now: pending ones are dropped, active ones get
        ``cancel_timeout`` seconds to unwind.  Each is logged by name."""
        self._closing = True
        self._closed = True
        self._wake_room_waiters(len(self._room_waiters))
        while self._pending:
            job = self._pending[0]
            log.warning("Job %r discarded at close: it never started", job.name)
            job._discard()
        running = [job for job in self._jobs if job.active]
        tasks = []
        for job in running:
            log.warning("Job %r cancelled at close: it was still running", job.name)
            task = job._task
            assert task is not None
            task.cancel()
            tasks.append(task)
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=self._cancel_timeout)
            for job in running:
                if job._task in stuck:
                    log.error(
                        "Job %r ignored cancellation for %gs: abandoned",
                        job.name,
                        self._cancel_timeout,
                    )
        self._jobs.clear()
        self._idle.set()

    async def __aenter__(self) -> Scheduler:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.wait_and_close()


def _coro_name(coro: Coroutine[Any, Any, Any]) -> str:
    return str(getattr(coro, "__qualname__", None) or type(coro).__name__)
