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

_PENDING, _ACTIVE, _DONE = "pending", "active", "closed"


class Job(Generic[T]):
    """A coroutine handed to a scheduler: pending (queued), then active, then closed.

    Awaiting :meth:`wait` never cancels the job: if the waiter is cancelled (say, the
    client of the handler that waits disconnected), the job runs on.  A failure nobody
    is waiting for goes to the scheduler's exception handler, which logs it with the
    job's name.
    """

    __slots__ = (
        "_context",
        "_coro",
        "_exception",
        "_finished",
        "_name",
        "_result",
        "_scheduler",
        "_state",
        "_task",
        "_waiters",
        "_was_cancelled",
    )

    def __init__(self, coro: Coroutine[Any, Any, T], scheduler: Scheduler, name: str) -> None:
        self._coro = coro
        self._scheduler = scheduler
        self._name = name
        self._state = _PENDING
        # Run with the context of the code that spawned it, even if started later.
        self._context = contextvars.copy_context()
        self._task: asyncio.Task[None] | None = None
        self._finished = asyncio.Event()
        self._result: T | None = None
        self._exception: BaseException | None = None
        self._was_cancelled = False
        self._waiters = 0

    def __repr__(self) -> str:
        return f"<Job {self._name!r} {self._state}>"

    # ------------------------------------------------------------------ state

    @property
    def name(self) -> str:
        """The job's name (used in log messages)."""
        return self._name

    def get_name(self) -> str:
        """The job's name (aiojobs' spelling)."""
        return self._name

    def set_name(self, name: str) -> None:
        """Rename the job."""
        self._name = name
        if self._task is not None:
            self._task.set_name(name)

    @property
    def active(self) -> bool:
        """Running now."""
        return self._state == _ACTIVE

    @property
    def pending(self) -> bool:
        """Queued: the scheduler's limit of active jobs was reached when it was spawned."""
        return self._state == _PENDING

    @property
    def closed(self) -> bool:
        """Finished, failed, cancelled or discarded."""
        return self._state == _DONE

    # ------------------------------------------------------------------ waiting and closing

    async def wait(self, *, timeout: float | None = None) -> T:
        """The job's result (or its exception), waiting up to ``timeout`` seconds.

        On timeout the job is closed and ``asyncio.TimeoutError`` is raised.  A job that
        was cancelled (closed) raises ``asyncio.CancelledError``.
        """
        if not self._finished.is_set():
            timed_out = False
            self._waiters += 1
            try:
                await asyncio.wait_for(self._finished.wait(), timeout)
            except asyncio.TimeoutError:
                timed_out = True
            finally:
                self._waiters -= 1
            if timed_out:
                await self.close()
                raise asyncio.TimeoutError(f"Job {self._name!r} did not finish in {timeout:g}s")
        return self._outcome()

    async def close(self, *, timeout: float | None = None) -> None:
        """Cancel the job and wait up to ``timeout`` seconds (default: the scheduler's
        ``cancel_timeout``) for it to stop; ``asyncio.TimeoutError`` if it does not."""
        if self._state == _DONE:
            return
        if self._state == _PENDING:
            self._discard()
            return
        task = self._task
        assert task is not None
        task.cancel()
        limit = self._scheduler.cancel_timeout if timeout is None else timeout
        done, _ = await asyncio.wait((task,), timeout=limit)
        if not done:
            raise asyncio.TimeoutError(f"Job {self._name!r} did not stop within {limit:g}s")

    def _outcome(self) -> T:
        if self._exception is not None:
            raise self._exception
        if self._was_cancelled:
            raise asyncio.CancelledError(f"Job {self._name!r} was cancelled")
        return self._result  # type: ignore[return-value]

    # ------------------------------------------------------------------ driven by the scheduler

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        self._state = _ACTIVE
        self._task = self._context.run(loop.create_task, self._run(), name=self._name)

    def _discard(self) -> None:
        """Drop a pending job without running it."""
        self._coro.close()
        self._was_cancelled = True
        self._finish()

    async def _run(self) -> None:
        try:
            self._result = await self._coro
        except asyncio.CancelledError:
            self._was_cancelled = True
            self._finish()
            raise
        except Exception as exc:
            self._exception = exc
            self._finish()
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: record, then let go
            self._exception = exc
            self._finish()
            raise
        else:
            self._finish()

    def _finish(self) -> None:
        if self._state == _DONE:
            return
        was_pending = self._state == _PENDING
        self._state = _DONE
        self._finished.set()
        self._coro = None  # type: ignore[assignment]
        self._context = None  # type: ignore[assignment]
        self._scheduler._job_done(self, was_pending=was_pending)
        exc = self._exception
        if exc is not None and not self._waiters:
            self._scheduler.call_exception_handler(
                {"message": "Job processing failed", "job": self, "exception": exc}
            )
