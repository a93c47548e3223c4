"""``Scheduler``: runs at most ``limit`` jobs at once, queues up to ``pending_limit`` more,
and closes without losing any of them silently."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Coroutine, Iterator
from typing import Any, TypeVar

from ._job import Job

__all__ = ("ExceptionHandler", "Scheduler")

log = logging.getLogger("heron.jobs")

T = TypeVar("T")
ExceptionHandler = Callable[["Scheduler", dict[str, Any]], None]

DEFAULT_WAIT_TIMEOUT = 60.0
DEFAULT_CLOSE_TIMEOUT = 0.1


class Scheduler(Collection[Job[Any]]):
    """A bounded set of background jobs (aiojobs' ``Scheduler``).

    * ``limit``: jobs active at once (``None``: no limit); more are queued as pending.
    * ``pending_limit``: jobs queued at most (``0``: no limit); ``spawn`` then waits for
      room (it raises ``RuntimeError`` if the scheduler closes meanwhile).
    * ``wait_timeout``: how long :meth:`wait_and_close` (run at application cleanup) lets
      the active and pending jobs finish before closing (``None``: no limit).
    * ``close_timeout``: how long a cancelled job may take to unwind before it is reported
      as stuck (``None``: no limit).
    * ``exception_handler(scheduler, context)``: receives failures nobody awaited and jobs
      that ignored cancellation; by default the event loop's exception handler does.
    """

    def __init__(
        self,
        *,
        close_timeout: float | None = DEFAULT_CLOSE_TIMEOUT,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        limit: int | None = 100,
        pending_limit: int = 10000,
        exception_handler: ExceptionHandler | None = None,
    ) -> None:
        if exception_handler is not None and not callable(exception_handler):
            raise TypeError(f"exception_handler must be callable or None: {exception_handler!r}")
        if limit is not None and limit < 1:
            raise ValueError("limit must be at least 1 (or None for no limit)")
        if pending_limit < 0:
            raise ValueError("pending_limit must be at least 0 (0: no limit)")
        for timeout in (close_timeout, wait_timeout):
            if timeout is not None and timeout < 0:
                raise ValueError("timeouts must not be negative")
        self._limit = limit
        self._pending_limit = pending_limit
        self._close_timeout = close_timeout
        self._wait_timeout = wait_timeout
        self._exception_handler = exception_handler
        self._jobs: set[Job[Any]] = set()  # pending and active
        self._pending: deque[Job[Any]] = deque()
        self._shields: set[asyncio.Future[Any]] = set()
        self._room_waiters: deque[asyncio.Future[None]] = deque()
        self._idle = asyncio.Event()
        self._idle.set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def __repr__(self) -> str:
        state = "closed " if self._closed else ""
        return f"<Scheduler {state}jobs={len(self)}>"

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
        """Jobs that may wait in the queue (0: no limit)."""
        return self._pending_limit

    @property
    def close_timeout(self) -> float | None:
        """Seconds a cancelled job gets to unwind."""
        return self._close_timeout

    @property
    def wait_timeout(self) -> float | None:
        """Seconds :meth:`wait_and_close` lets jobs finish before closing."""
        return self._wait_timeout

    @property
    def active_count(self) -> int:
        """Jobs running now."""
        return len(self._jobs) - len(self._pending)

    @property
    def pending_count(self) -> int:
        """Jobs waiting for a free slot."""
        return len(self._pending)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` began: no more jobs are accepted."""
        return self._closed

    @property
    def exception_handler(self) -> ExceptionHandler | None:
        """The custom exception handler, if any."""
        return self._exception_handler

    # ------------------------------------------------------------------ spawning

    async def spawn(self, coro: Coroutine[Any, Any, T], name: str | None = None) -> Job[T]:
        """Start ``coro`` as a job now, or queue it if ``limit`` jobs are active."""
        if self._closed:
            coro.close()
            raise RuntimeError("Scheduling a new job after closing")
        self._bind_loop()
        while not self._has_slot() and self._queue_full():
            await self._wait_for_room(coro)
        job: Job[T] = Job(coro, self, name)
        start = self._has_slot()
        self._jobs.add(job)
        self._idle.clear()
        if start:
            job._start()
        else:
            self._pending.append(job)
        return job

    def shield(self, arg: Awaitable[T]) -> asyncio.Future[T]:
        """``asyncio.shield`` that the scheduler knows of: cancelling the caller does not
        cancel ``arg``, and :meth:`wait_and_close` waits for it (``close`` cancels it)."""
        inner = asyncio.ensure_future(arg)
        if inner.done():
            return inner
        self._shields.add(inner)
        inner.add_done_callback(self._shields.discard)
        return asyncio.shield(inner)

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError(f"{self!r} is bound to a different event loop")

    def _has_slot(self) -> bool:
        return self._limit is None or self.active_count < self._limit

    def _queue_full(self) -> bool:
        return 0 < self._pending_limit <= len(self._pending)

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
        if self._closed:
            coro.close()
            raise RuntimeError("Scheduling a new job after closing")

    def _wake_room_waiters(self, count: int) -> None:
        while count > 0 and self._room_waiters:
            waiter = self._room_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                count -= 1

    def _job_done(self, job: Job[Any]) -> None:
        """Called once by each job as it ends, however it ends (or is discarded)."""
        if job not in self._jobs:
            return
        self._jobs.discard(job)
        if job in self._pending:
            self._pending.remove(job)  # closed while queued
        freed = 1
        while not self._closed and self._pending and self._has_slot():
            self._pending.popleft()._start()
        self._wake_room_waiters(freed)
        if not self._jobs:
            self._idle.set()

    # ------------------------------------------------------------------ failures

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        """Report a failure: to the custom handler, else to the event loop's handler."""
        handler = self._exception_handler
        if handler is None:
            asyncio.get_running_loop().call_exception_handler(context)
            return
        try:
            handler(self, context)
        except Exception:
            log.exception("Exception handler of %r failed on %s", self, context)

    # ------------------------------------------------------------------ closing

    async def wait_and_close(self, timeout: float | None = None) -> None:
        """Let active and pending jobs (and shielded calls) finish for up to ``timeout``
        seconds (default ``wait_timeout``), then :meth:`close`.  Jobs spawned meanwhile
        (by the jobs themselves, say) are waited for too."""
        limit = self._wait_timeout if timeout is None else timeout
        if self._jobs or self._shields:
            try:
                await asyncio.wait_for(self._all_done(), limit)
            except asyncio.TimeoutError:
                log.warning(
                    "%d job(s) still running and %d pending %gs after closing began: "
                    "cancelling them",
                    self.active_count,
                    self.pending_count,
                    limit,
                )
        await self.close()

    async def _all_done(self) -> None:
        while self._jobs or self._shields:
            await self._idle.wait()
            if self._shields:
                await asyncio.wait(list(self._shields))

    async def close(self) -> None:
        """Cancel every job now: pending ones are dropped, active ones (and shielded calls)
        get ``close_timeout`` seconds to unwind.  Each is logged by name."""
        if self._closed:
            return
        self._closed = True
        self._wake_room_waiters(len(self._room_waiters))
        while self._pending:
            job = self._pending[0]
            log.warning("Job %r discarded at close: it never started", _label(job))
            job._discard()
        running = [job for job in self._jobs if not job.closed]
        for job in running:
            log.warning("Job %r cancelled at close: it was still running", _label(job))
        for shielded in self._shields:
            shielded.cancel()
        closing = [job._close(self._close_timeout) for job in running]
        shields = [asyncio.wait((f,), timeout=self._close_timeout) for f in self._shields]
        await asyncio.gather(*closing, *shields, return_exceptions=True)
        self._jobs.clear()
        self._idle.set()

    async def __aenter__(self) -> Scheduler:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.wait_and_close()


def _label(job: Job[Any]) -> str:
    # The name the application gave it, else the repr (task name and coroutine).
    return job._name or repr(job)
