"""heron.jobs: bounded background jobs per application, with aiojobs' API.

``from aiojobs.aiohttp import setup, spawn, shield, atomic`` becomes
``from heron.jobs import setup, spawn, shield, atomic`` (and ``aiojobs.Scheduler`` is
``heron.jobs.Scheduler``).  See docs/jobs.md.
"""

from ._job import Job
from ._scheduler import ExceptionHandler, Scheduler
from ._web import (
    SCHEDULER_KEY,
    atomic,
    get_scheduler,
    get_scheduler_from_app,
    get_scheduler_from_request,
    setup,
    shield,
    spawn,
)

__all__ = (
    "SCHEDULER_KEY",
    "ExceptionHandler",
    "Job",
    "Scheduler",
    "atomic",
    "get_scheduler",
    "get_scheduler_from_app",
    "get_scheduler_from_request",
    "setup",
    "shield",
    "spawn",
)
