"""The supervisor of ``python -m heron.web --workers N``: forks workers, watches, replaces them.

The supervisor binds the listening sockets once (``listeners.py``) and forks the workers,
which inherit them and accept from the same queues; it is never on a request's path.  It runs
no event loop and starts no thread, so ``fork`` is safe; it never imports the app, so every
worker (a reload's too) imports the code on disk.

It reads one pipe per worker (``worker_process.py``'s messages) and reacts to:

- a worker's death: replaced at once; but a worker that dies before it was ready stops
  everything with ``BOOT_ERROR`` (no respawn loop), unless it belonged to a reload, which is
  then abandoned while the previous workers go on serving;
- a missing heartbeat (``timeout``): the worker's loop is blocked, it is killed (SIGKILL) and
  replaced;
- a worker past ``max_requests``: a replacement starts; the old one gets SIGTERM once the
  replacement is ready;
- SIGTERM/SIGINT: every worker gets SIGTERM and shuts down gracefully; a worker still running
  ``graceful_timeout`` seconds later is killed; exit status 0;
- SIGQUIT: every worker is killed at once;
- SIGHUP: a new set of workers starts; the old ones get SIGTERM when all new ones are ready;
- SIGTTIN/SIGTTOU: one worker more or fewer (at least one).

Under systemd it reports ``READY=1``, ``RELOADING=1`` and ``STOPPING=1`` (``sd_notify``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import selectors
import signal
import sys
import time
import traceback
from dataclasses import dataclass, replace

from .._util.systemd import Notifier
from .listeners import Listeners
from .worker_process import BOOT_ERROR, READY, RECYCLE, WorkerOptions, run_worker

__all__ = ("Supervisor", "SupervisorOptions")

log = logging.getLogger("heron.supervisor")

_SIGNALS = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGHUP,
    signal.SIGTTIN,
    signal.SIGTTOU,
    signal.SIGCHLD,
)


@dataclass(frozen=True)
class SupervisorOptions:
    """How many workers, and when one is replaced or killed."""

    workers: int = 1
    timeout: float = 30.0
    """Kill a worker whose loop has not beaten for this long (0: never)."""
    graceful_timeout: float = 30.0
    """Kill a stopping worker still running after this long."""
    max_requests: int = 0
    """Replace a worker after this many requests (0: never) ..."""
    max_requests_jitter: int = 0
    """... plus a random 0 to this many, so the workers are not all replaced at once."""


class _Worker:
    __slots__ = ("fd", "killed", "last_beat", "pid", "ready", "retiring", "slot", "stopped_at")

    def __init__(self, pid: int, slot: int, fd: int, now: float) -> None:
        self.pid = pid
        self.slot = slot  # its place among the workers: which SO_REUSEPORT sockets it serves
        self.fd = fd
        self.last_beat = now
        self.ready = False
        self.retiring = False  # to be stopped once enough replacements are ready
        self.stopped_at: float | None = None  # when it got SIGTERM
        self.killed = False


class Supervisor:
    """Runs ``options.workers`` workers on ``listeners`` until stopped; see the module doc."""

    def __init__(
        self,
        options: SupervisorOptions,
        worker: WorkerOptions,
        listeners: Listeners,
        *,
        notifier: Notifier | None = None,
    ) -> None:
        self._options = options
        self._worker_options = worker
        self._listeners = listeners
        self._notifier = notifier or Notifier()
        self._target = max(1, options.workers)
        self._workers: dict[int, _Worker] = {}
        self._selector = selectors.DefaultSelector()
        self._wakeup_r, self._wakeup_w = os.pipe()
        self._stopping = False
        self._exit_code = 0
        self._reloading = False
        self._announced = False

    @property
    def worker_pids(self) -> list[int]:
        """The pids of the workers alive now (in start order)."""
        return list(self._workers)

    # ------------------------------------------------------------------ main loop

    def run(self) -> int:
        """Supervise until stopped; return the exit status (0, or ``BOOT_ERROR``)."""
        for fd in (self._wakeup_r, self._wakeup_w):
            os.set_blocking(fd, False)
        self._selector.register(self._wakeup_r, selectors.EVENT_READ)
        previous = {signum: signal.signal(signum, _ignore) for signum in _SIGNALS}
        old_wakeup = signal.set_wakeup_fd(self._wakeup_w, warn_on_full_buffer=False)
        try:
            while self._workers or not self._stopping:
                if not self._stopping:
                    self._spawn_missing()
                    self._stop_replaced()
                self._wait()
                self._reap()
                self._check_deadlines()
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            for worker in self._workers.values():
                _kill(worker.pid, signal.SIGKILL)
            self._selector.close()
            os.close(self._wakeup_r)
            os.close(self._wakeup_w)
        return self._exit_code

    def _wait(self) -> None:
        timeout = 1.0
        if self._options.timeout:
            timeout = min(timeout, self._options.timeout / 4)
        for key, _ in self._selector.select(timeout):
            if key.fd == self._wakeup_r:
                self._handle_signals()
            else:
                self._read_worker(key.data)

    def _handle_signals(self) -> None:
        try:
            received = os.read(self._wakeup_r, 512)
        except BlockingIOError:
            return
        for signum in received:
            if signum in (signal.SIGTERM, signal.SIGINT):
                self._stop(0)
            elif signum == signal.SIGQUIT:
                log.info("quick stop: killing every worker")
                self._stop(0)
                for worker in self._workers.values():
                    _kill(worker.pid, signal.SIGKILL)
            elif signum == signal.SIGHUP:
                self._reload()
            elif signum == signal.SIGTTIN:
                self._target += 1
                log.info("one worker more: %d", self._target)
            elif signum == signal.SIGTTOU and self._target > 1:
                self._target -= 1
                log.info("one worker fewer: %d", self._target)
            # SIGCHLD only wakes the loop: _reap runs after every wait.

    def _read_worker(self, worker: _Worker) -> None:
        try:
            data = os.read(worker.fd, 4096)
        except BlockingIOError:
            return
        if not data:  # the worker closed the pipe: it is exiting
            self._selector.unregister(worker.fd)
            return
        worker.last_beat = time.monotonic()
        if READY in data and not worker.ready:
            worker.ready = True
            log.info("worker %d ready", worker.pid)
        if RECYCLE in data and not worker.retiring and worker.stopped_at is None:
            worker.retiring = True
            log.info("worker %d served its max requests: replacing it", worker.pid)

    # ------------------------------------------------------------------ workers

    def _live(self) -> list[_Worker]:
        """Workers that count towards the target: not retiring, not stopping."""
        return [w for w in self._workers.values() if not w.retiring and w.stopped_at is None]

    def _spawn_missing(self) -> None:
        live = self._live()
        taken = {w.slot for w in live}
        for slot in range(self._target):
            if slot not in taken:
                self._spawn(slot)
        for worker in live:
            if worker.slot >= self._target:  # after TTOU
                self._terminate(worker)

    def _stop_replaced(self) -> None:
        """SIGTERM to retiring workers once enough of their replacements are ready."""
        retiring = [w for w in self._workers.values() if w.retiring and w.stopped_at is None]
        ready = sum(1 for w in self._live() if w.ready)
        if ready < self._target:
            return
        for worker in retiring:
            self._terminate(worker)
        if self._reloading:
            self._reloading = False
            log.info("reloaded: %d new workers serving", ready)
            self._notifier.ready()
        elif not self._announced:
            self._announced = True
            self._notifier.ready()

    def _reload(self) -> None:
        if self._stopping:
            return
        log.info("reloading: starting %d new workers", self._target)
        self._notifier.reloading()
        self._reloading = True
        for worker in self._workers.values():
            worker.retiring = True

    def _stop(self, code: int) -> None:
        if not self._stopping:
            self._stopping = True
            self._exit_code = code
            log.info("stopping %d workers", len(self._workers))
            self._notifier.stopping()
        for worker in self._workers.values():
            self._terminate(worker)

    def _terminate(self, worker: _Worker) -> None:
        if worker.stopped_at is None:
            worker.stopped_at = time.monotonic()
            _kill(worker.pid, signal.SIGTERM)

    def _spawn(self, slot: int) -> None:
        options = self._worker_options
        limit = self._options.max_requests
        if limit:
            limit += random.randint(0, max(0, self._options.max_requests_jitter))
            options = replace(options, max_requests=limit)
        sockets = self._listeners.for_slot(slot)
        read_fd, write_fd = os.pipe()
        # Block our signals across fork: the child must not run the supervisor's handlers
        # (they would write to the supervisor's wake-up pipe) before it resets them.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            pid = os.fork()
        except BaseException:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            os.close(read_fd)
            os.close(write_fd)
            raise
        if pid == 0:  # the worker
            code = BOOT_ERROR
            try:
                os.close(read_fd)
                self._forget_in_child(slot)
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                code = run_worker(options, sockets, write_fd)
            except BaseException:
                traceback.print_exc()
            finally:
                for stream in (sys.stdout, sys.stderr):
                    with contextlib.suppress(Exception):
                        stream.flush()
                os._exit(code)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        worker = _Worker(pid, slot, read_fd, time.monotonic())
        self._workers[pid] = worker
        self._selector.register(read_fd, selectors.EVENT_READ, worker)
        log.info("worker %d started", pid)

    def _forget_in_child(self, slot: int) -> None:
        """In a new worker: drop the supervisor's signal handling and descriptors."""
        signal.set_wakeup_fd(-1)
        for signum in _SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        self._selector.close()
        os.close(self._wakeup_r)
        os.close(self._wakeup_w)
        for worker in self._workers.values():
            os.close(worker.fd)
        self._listeners.keep_only(slot)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self._workers.pop(pid, None)
            if worker is not None:
                self._on_exit(worker, status)
                if worker.slot >= self._target and all(
                    w.slot != worker.slot for w in self._workers.values()
                ):
                    self._listeners.release(worker.slot)

    def _on_exit(self, worker: _Worker, status: int) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(worker.fd)
        with contextlib.suppress(OSError):  # a READY written just before dying counts
            if READY in os.read(worker.fd, 4096):
                worker.ready = True
        os.close(worker.fd)
        how = _describe(status)
        if worker.stopped_at is not None:
            log.info("worker %d stopped (%s)", worker.pid, how)
        elif worker.ready:
            log.warning("worker %d exited (%s): replacing it", worker.pid, how)
        elif self._reloading:
            log.error(
                "reload failed: new worker %d ended (%s) before it was ready", worker.pid, how
            )
            self._abandon_reload()
        elif not self._stopping:
            log.error("worker %d failed to start (%s): stopping", worker.pid, how)
            self._stop(BOOT_ERROR)

    def _abandon_reload(self) -> None:
        """The new code does not start: stop the new workers, keep the old ones serving."""
        self._reloading = False
        for worker in list(self._workers.values()):
            if worker.retiring and worker.stopped_at is None:
                worker.retiring = False
            elif not worker.ready:
                self._terminate(worker)
        self._notifier.ready()

    def _check_deadlines(self) -> None:
        now = time.monotonic()
        timeout = self._options.timeout
        for worker in self._workers.values():
            if worker.killed:
                continue
            if timeout and now - worker.last_beat > timeout:
                log.error(
                    "worker %d: no heartbeat for %.1f s (event loop blocked): killing it",
                    worker.pid,
                    now - worker.last_beat,
                )
            elif (
                worker.stopped_at is not None
                and now - worker.stopped_at > self._options.graceful_timeout
            ):
                log.warning("worker %d still running after the graceful timeout", worker.pid)
            else:
                continue
            worker.killed = True
            _kill(worker.pid, signal.SIGKILL)


def _ignore(signum: int, frame: object) -> None:
    """The signal is read from the wake-up pipe; the Python-level handler does nothing."""


def _kill(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
