"""heron.jobs: the seed's aiojobs examples, the bounded scheduler, jobs' life cycle, atomic
handlers surviving a client that disconnects, and graceful shutdown with 50 jobs."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from typing import Any

import pytest

from heron import web
from heron.jobs import (
    Job,
    Scheduler,
    atomic,
    get_scheduler,
    get_scheduler_from_app,
    setup,
    shield,
    spawn,
)

WAIT = 10.0  # bound on every wait for an event that must happen


async def wait_event(event: asyncio.Event) -> None:
    await asyncio.wait_for(event.wait(), WAIT)


# -- the seed's examples (Web Handler Cancellation), imports changed ------------------------


async def test_seed_spawn_example(aiohttp_client: Any) -> None:
    done: list[float] = []

    async def coro(timeout: float) -> None:
        await asyncio.sleep(timeout)  # do something in background
        done.append(timeout)

    async def handler(request: web.Request) -> web.Response:
        # (the documentation's snippet calls coro() without its argument)
        await spawn(request, coro(0.05))
        return web.Response()

    app = web.Application()
    setup(app)
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    async with client.get("/") as resp:
        assert resp.status == 200
    scheduler = get_scheduler_from_app(app)
    assert scheduler is not None and len(scheduler) == 1
    await client.close()  # graceful shutdown: on_cleanup waits for the job
    assert done == [0.05]
    assert scheduler.closed and len(scheduler) == 0


async def test_seed_atomic_example_finishes_after_client_disconnects(
    aiohttp_server: Any,
) -> None:
    started, proceed, written, cancelled = (asyncio.Event() for _ in range(4))

    async def write_to_db() -> None:
        started.set()
        await proceed.wait()
        written.set()

    @atomic
    async def handler(request: web.Request) -> web.Response:
        await write_to_db()
        return web.Response()

    @web.middleware
    async def watch(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)  # type: ignore[no-any-return]
        except asyncio.CancelledError:
            cancelled.set()
            raise

    app = web.Application(middlewares=[watch])
    setup(app)
    app.router.add_post("/", handler)
    server = await aiohttp_server(app)  # handler_cancellation=True, as the test kit's default
    _reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    await wait_event(started)
    writer.close()  # the client gives up
    await wait_event(cancelled)  # the request's task was cancelled ...
    proceed.set()
    await wait_event(written)  # ... yet the handler's work completed
    await writer.wait_closed()


async def test_without_atomic_the_same_handler_is_cancelled(aiohttp_server: Any) -> None:
    started, interrupted = asyncio.Event(), asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            interrupted.set()
            raise
        return web.Response()

    app = web.Application()
    app.router.add_post("/", handler)
    server = await aiohttp_server(app)
    _reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    await wait_event(started)
    writer.close()
    await wait_event(interrupted)
    await writer.wait_closed()


async def test_atomic_class_based_view_and_result(aiohttp_client: Any) -> None:
    class Items(web.View):
        @atomic
        async def post(self) -> web.Response:
            scheduler = get_scheduler(self.request)
            return web.Response(text=f"{scheduler.active_count} active")

    app = web.Application()
    setup(app)
    app.router.add_view("/items", Items)
    client = await aiohttp_client(app)
    async with client.post("/items") as resp:
        assert await resp.text() == "1 active"  # the handler itself ran as a job


async def test_sub_application_uses_the_parent_scheduler(aiohttp_client: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        job = await spawn(request, asyncio.sleep(0, result="ok"), name="from-subapp")
        return web.Response(text=f"{job.name}={await job.wait()}")

    parent, child = web.Application(), web.Application()
    setup(parent)
    child.router.add_get("/x", handler)
    parent.add_subapp("/child", child)
    client = await aiohttp_client(parent)
    async with client.get("/child/x") as resp:
        assert await resp.text() == "from-subapp=ok"


async def test_spawn_without_setup_is_a_clear_error(aiohttp_client: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        coro = asyncio.sleep(0)
        with pytest.raises(RuntimeError, match=r"heron\.jobs\.setup"):
            await spawn(request, coro)
        coro.close()
        return web.Response(text="checked")

    app = web.Application()
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    async with client.get("/") as resp:
        assert await resp.text() == "checked"
    assert get_scheduler_from_app(app) is None


# -- the scheduler and its jobs --------------------------------------------------------------


async def test_limit_and_pending_limit_bound_the_scheduler() -> None:
    release = asyncio.Event()
    scheduler = Scheduler(limit=2, pending_limit=3)

    async def blocked(i: int) -> int:
        await release.wait()
        return i

    jobs = [await scheduler.spawn(blocked(i)) for i in range(5)]
    assert [job.active for job in jobs] == [True, True, False, False, False]
    assert [job.pending for job in jobs] == [False, False, True, True, True]
    assert (scheduler.active_count, scheduler.pending_count, len(scheduler)) == (2, 3, 5)
    sixth = asyncio.ensure_future(scheduler.spawn(blocked(5)))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not sixth.done()  # the queue is full: spawn waits for room
    release.set()
    results = [await job.wait(timeout=WAIT) for job in jobs]
    job6: Job[int] = await asyncio.wait_for(sixth, WAIT)
    assert results == [0, 1, 2, 3, 4] and await job6.wait(timeout=WAIT) == 5
    assert all(job.closed for job in [*jobs, job6])
    assert len(scheduler) == 0
    await scheduler.close()


async def test_waiting_spawner_is_refused_when_the_scheduler_closes() -> None:
    scheduler = Scheduler(limit=1, pending_limit=1)
    await scheduler.spawn(asyncio.Event().wait())
    await scheduler.spawn(asyncio.Event().wait())
    third = asyncio.ensure_future(scheduler.spawn(asyncio.Event().wait()))
    await asyncio.sleep(0)
    await scheduler.close()
    with pytest.raises(RuntimeError, match="after closing"):
        await asyncio.wait_for(third, WAIT)
    coro = asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="after closing"):
        await scheduler.spawn(coro)


async def test_wait_returns_result_raises_failure_and_times_out() -> None:
    scheduler = Scheduler()

    async def fail() -> None:
        raise ValueError("boom")

    ok = await scheduler.spawn(asyncio.sleep(0, result=42))
    assert await ok.wait() == 42
    bad = await scheduler.spawn(fail())
    with pytest.raises(ValueError, match="boom"):
        await bad.wait(timeout=WAIT)
    slow = await scheduler.spawn(asyncio.Event().wait(), name="slow")
    with pytest.raises(asyncio.TimeoutError):
        await slow.wait(timeout=0.01)
    assert slow.closed  # a wait that times out closes the job, as in aiojobs
    with pytest.raises(asyncio.CancelledError):
        await slow.wait()
    assert await scheduler.shield(asyncio.sleep(0, result="shielded")) == "shielded"
    await scheduler.close()


async def test_close_cancels_and_reports_a_job_that_ignores_cancellation() -> None:
    scheduler = Scheduler(close_timeout=5)
    cancelled = asyncio.Event()
    let_go = asyncio.Event()

    async def stubborn() -> None:
        while not let_go.is_set():
            try:
                await let_go.wait()
            except asyncio.CancelledError:
                cancelled.set()

    job = await scheduler.spawn(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    with pytest.raises(asyncio.TimeoutError, match="stubborn"):
        await job.close(timeout=0.01)
    assert cancelled.is_set()
    let_go.set()
    await job.wait(timeout=WAIT)
    polite = await scheduler.spawn(asyncio.Event().wait(), name="polite")
    await asyncio.sleep(0)
    await polite.close()
    assert polite.closed
    await scheduler.close()


async def test_unawaited_failure_goes_to_the_loops_handler_with_the_job_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheduler = Scheduler()
    failed = asyncio.Event()

    async def fail() -> None:
        failed.set()
        raise KeyError("lost")

    # By default the event loop's exception handler gets it (as in aiojobs): the default
    # one logs it on the asyncio logger, the job's name and traceback included.
    caplog.set_level(logging.ERROR, "asyncio")
    await scheduler.spawn(fail(), name="nightly-report")
    await wait_event(failed)
    await asyncio.sleep(0)
    await scheduler.close()
    (record,) = [r for r in caplog.records if "nightly-report" in r.getMessage()]
    assert "Job processing failed" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is KeyError

    seen: list[dict[str, Any]] = []
    custom = Scheduler(exception_handler=lambda sched, ctx: seen.append(ctx))
    job = await custom.spawn(fail(), name="custom")
    await custom.wait_and_close(timeout=WAIT)
    assert seen[0]["job"] is job and isinstance(seen[0]["exception"], KeyError)
    assert seen[0]["message"] == "Job processing failed"


async def test_jobs_run_in_the_spawners_context() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    scheduler = Scheduler(limit=1)

    async def read() -> str:
        return var.get()

    blocker = await scheduler.spawn(asyncio.sleep(0))
    var.set("spawner")
    queued = await scheduler.spawn(read())  # pending: started later, by another job's end
    var.set("changed")
    await blocker.wait()
    assert await queued.wait(timeout=WAIT) == "spawner"
    await scheduler.close()


def test_scheduler_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="pending_limit"):
        Scheduler(pending_limit=-1)
    with pytest.raises(ValueError, match="limit"):
        Scheduler(limit=0)
    with pytest.raises(TypeError, match="callable"):
        Scheduler(exception_handler=1)  # type: ignore[arg-type]
    scheduler = Scheduler(limit=None, wait_timeout=3, close_timeout=2)
    assert (scheduler.limit, scheduler.wait_timeout, scheduler.close_timeout) == (None, 3, 2)
    defaults = Scheduler()
    assert (defaults.wait_timeout, defaults.close_timeout, defaults.pending_limit) == (
        60,
        0.1,
        10000,
    )


async def test_a_job_closed_before_it_ran_frees_its_slot() -> None:
    scheduler = Scheduler(limit=1)
    # Active, but closed before its task took a first step: its slot must come back.
    never_ran = await scheduler.spawn(asyncio.Event().wait(), name="never-ran")
    assert never_ran.active
    await never_ran.close()
    assert (scheduler.active_count, len(scheduler)) == (0, 0)
    nxt = await scheduler.spawn(asyncio.sleep(0, result="ran"))
    assert nxt.active
    assert await nxt.wait(timeout=WAIT) == "ran"
    # Pending, then closed: it leaves the queue, and the slot goes to the next one.
    release = asyncio.Event()
    running = await scheduler.spawn(release.wait())
    queued = await scheduler.spawn(asyncio.sleep(0))
    third = await scheduler.spawn(asyncio.sleep(0, result=3))
    await queued.close()
    assert queued.closed and scheduler.pending_count == 1
    with pytest.raises(asyncio.CancelledError):
        await queued.wait()
    release.set()
    await running.wait(timeout=WAIT)
    assert await third.wait(timeout=WAIT) == 3
    assert len(scheduler) == 0
    await scheduler.close()


async def test_pending_limit_zero_means_an_unbounded_queue() -> None:
    scheduler = Scheduler(limit=1, pending_limit=0)
    release = asyncio.Event()
    jobs = [await scheduler.spawn(release.wait()) for _ in range(50)]
    assert (scheduler.active_count, scheduler.pending_count) == (1, 49)
    release.set()
    for job in jobs:
        await job.wait(timeout=WAIT)
    assert len(scheduler) == 0
    await scheduler.close()


async def test_wait_timeout_is_the_grace_close_timeout_the_unwinding() -> None:
    seen: list[dict[str, Any]] = []
    scheduler = Scheduler(
        wait_timeout=0.05, close_timeout=0.05, exception_handler=lambda s, ctx: seen.append(ctx)
    )
    finished, let_go, exited = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def quick() -> None:
        await asyncio.sleep(0)
        finished.set()

    async def stubborn() -> None:
        while not let_go.is_set():
            # Ignores cancellation: reported once close_timeout is over.
            with contextlib.suppress(asyncio.CancelledError):
                await let_go.wait()
        exited.set()

    await scheduler.spawn(quick())
    job = await scheduler.spawn(stubborn(), name="stubborn")
    started = time.monotonic()
    await scheduler.wait_and_close()
    assert time.monotonic() - started < WAIT
    assert finished.is_set() and scheduler.closed
    (report,) = seen
    assert report["message"] == "Job closing timed out" and report["job"] is job
    assert isinstance(report["exception"], asyncio.TimeoutError)
    let_go.set()
    await wait_event(exited)


async def test_jobs_may_spawn_jobs_while_the_scheduler_waits_to_close() -> None:
    scheduler = Scheduler(limit=1)
    follow_up_done = asyncio.Event()

    async def follow_up() -> None:
        follow_up_done.set()

    async def first() -> None:
        await asyncio.sleep(0)
        await scheduler.spawn(follow_up())

    await scheduler.spawn(first())
    await scheduler.wait_and_close(timeout=WAIT)
    assert follow_up_done.is_set() and scheduler.closed


async def test_close_raises_the_failure_of_a_job_that_already_failed() -> None:
    seen: list[dict[str, Any]] = []
    scheduler = Scheduler(exception_handler=lambda s, ctx: seen.append(ctx))
    step = asyncio.Event()

    async def fail() -> None:
        step.set()
        raise ValueError("broken")

    job = await scheduler.spawn(fail())
    await step.wait()  # the job has raised; nobody has looked at it yet
    with pytest.raises(ValueError, match="broken"):
        await job.close()
    await asyncio.sleep(0)
    assert seen == []  # the closer got it: not reported a second time
    await scheduler.close()


async def test_shield_survives_the_cancelled_handler_and_delays_cleanup(
    aiohttp_server: Any,
) -> None:
    started, proceed, done = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def save() -> str:
        started.set()
        await proceed.wait()
        done.set()
        return "saved"

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=await shield(request, save()))

    app = web.Application()
    setup(app)
    app.router.add_post("/", handler)
    server = await aiohttp_server(app)
    _reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    await wait_event(started)
    writer.close()  # the handler is cancelled; the shielded call is not
    await writer.wait_closed()
    closing = asyncio.ensure_future(server.close())  # cleanup waits for the shielded call
    for _ in range(5):
        await asyncio.sleep(0)
    assert not done.is_set() and not closing.done()
    proceed.set()
    await asyncio.wait_for(closing, WAIT)
    assert done.is_set()


# -- graceful shutdown with 50 jobs ----------------------------------------------------------


def jobs_app(**options: Any) -> tuple[web.Application, asyncio.Event, dict[str, int]]:
    """An app whose GET /spawn/{i} starts a job; even jobs finish once shutdown begins,
    odd ones only if ``everyone`` is set (else they run until cancelled)."""
    shutdown_began = asyncio.Event()
    counts = {"completed": 0, "cancelled": 0}
    everyone = options.pop("everyone", False)

    async def work(i: int) -> None:
        try:
            await shutdown_began.wait()
            if i % 2 and not everyone:
                await asyncio.Event().wait()  # never finishes by itself
            counts["completed"] += 1
        except asyncio.CancelledError:
            counts["cancelled"] += 1
            raise

    async def start(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        await spawn(request, work(i), name=f"job-{i}")
        return web.Response()

    async def on_shutdown(app: web.Application) -> None:
        shutdown_began.set()

    app = web.Application()
    setup(app, **options)
    app.on_shutdown.append(on_shutdown)
    app.router.add_get("/spawn/{i}", start)
    return app, shutdown_began, counts


async def test_shutdown_with_50_jobs_all_complete_within_wait_timeout(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app, _, counts = jobs_app(limit=10, wait_timeout=WAIT, everyone=True)
    client = await aiohttp_client(app)
    for i in range(50):
        async with client.get(f"/spawn/{i}") as resp:
            assert resp.status == 200
    scheduler = get_scheduler_from_app(app)
    assert scheduler is not None
    assert (scheduler.active_count, scheduler.pending_count) == (10, 40)
    caplog.set_level(logging.WARNING, "heron.jobs")
    started = time.monotonic()
    await client.close()
    assert time.monotonic() - started < WAIT
    assert counts == {"completed": 50, "cancelled": 0}
    assert [r for r in caplog.records if r.name == "heron.jobs"] == []


async def test_shutdown_with_50_jobs_cancels_and_logs_the_late_ones(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    wait_timeout = 0.3
    app, _, counts = jobs_app(wait_timeout=wait_timeout, close_timeout=WAIT)
    client = await aiohttp_client(app)
    for i in range(50):
        async with client.get(f"/spawn/{i}") as resp:
            assert resp.status == 200
    caplog.set_level(logging.WARNING, "heron.jobs")
    started = time.monotonic()
    await client.close()
    elapsed = time.monotonic() - started
    assert wait_timeout <= elapsed < wait_timeout + WAIT
    assert counts == {"completed": 25, "cancelled": 25}
    logged = sorted(
        r.getMessage().split("'")[1] for r in caplog.records if "cancelled at close" in r.message
    )
    assert logged == sorted(f"job-{i}" for i in range(1, 50, 2))
    assert counts["completed"] + len(logged) == 50  # nothing lost silently


async def test_pending_jobs_discarded_at_close_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheduler = Scheduler(limit=1, wait_timeout=0)
    caplog.set_level(logging.WARNING, "heron.jobs")
    first = await scheduler.spawn(asyncio.Event().wait(), name="running")
    queued = await scheduler.spawn(asyncio.Event().wait(), name="queued")
    await asyncio.sleep(0)
    await scheduler.wait_and_close()
    assert first.closed and queued.closed
    messages = [r.getMessage() for r in caplog.records]
    assert any("'queued' discarded at close" in m for m in messages)
    assert any("'running' cancelled at close" in m for m in messages)
