"""Liveness and readiness endpoints that drain before shutdown.

    from heron.observability import health

    health.setup(app, drain_delay=5.0)

adds ``GET /healthz`` (alive: 200 while the process serves) and ``GET /readyz`` (ready:
200, or 503 once the process is stopping or a readiness check fails).  When the server is
asked to stop (SIGTERM under ``run_app``, or a supervisor's worker told to stop), ``/readyz``
turns 503 at once and the listeners stay open for ``drain_delay`` seconds before the
graceful shutdown begins: a load balancer polling readiness stops sending new requests
while they are still answered.  A second SIGTERM, and SIGINT, skip the wait.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from .. import web
from .._web.runners import SIGTERM_DRAIN

__all__ = ("HEALTH", "Health", "ReadinessCheck", "setup")

log = logging.getLogger("heron.health")

#: ``async def check() -> bool``: True while a dependency (a database...) is usable.
ReadinessCheck = Callable[[], Awaitable[bool]]

_NO_STORE = {"Cache-Control": "no-store"}


class Health:
    """One process's liveness and readiness state (``app[HEALTH]``)."""

    __slots__ = ("_checks", "check_timeout", "drain_delay", "draining")

    def __init__(
        self, drain_delay: float, checks: Iterable[ReadinessCheck], check_timeout: float
    ) -> None:
        #: Seconds listeners stay open, reporting not-ready, after a stop is asked for.
        self.drain_delay = drain_delay
        #: Seconds each readiness check may take before it counts as failed.
        self.check_timeout = check_timeout
        #: True from the stop request on: ``/readyz`` answers 503.
        self.draining = False
        self._checks = tuple(checks)

    def begin_drain(self) -> float:
        """Turn not-ready; return the seconds to keep serving (the runner's drain hook)."""
        if not self.draining:
            log.info("Stopping: /readyz answers 503; serving on for %.1f s", self.drain_delay)
        self.draining = True
        return self.drain_delay

    async def ready(self) -> bool:
        """True when not draining and every readiness check passes."""
        if self.draining:
            return False
        for check in self._checks:
            try:
                ok = await asyncio.wait_for(check(), self.check_timeout)
            except Exception:
                log.warning("Readiness check %r failed", check, exc_info=True)
                ok = False
            if not ok:
                return False
        return True

    async def healthz(self, request: web.Request) -> web.Response:
        """Alive: the event loop answers."""
        return web.Response(text="ok", headers=_NO_STORE)

    async def readyz(self, request: web.Request) -> web.Response:
        """Ready: 200, or 503 while draining or when a readiness check fails."""
        if await self.ready():
            return web.Response(text="ready", headers=_NO_STORE)
        text = "draining" if self.draining else "not ready"
        return web.Response(status=503, text=text, headers=_NO_STORE)


#: ``app[HEALTH]``: the app's :class:`Health`.
HEALTH: web.AppKey[Health] = web.AppKey("HEALTH", Health)


def setup(
    app: web.Application,
    *,
    drain_delay: float = 5.0,
    live_path: str = "/healthz",
    ready_path: str = "/readyz",
    checks: Iterable[ReadinessCheck] = (),
    check_timeout: float = 1.0,
) -> Health:
    """Add the liveness and readiness routes to ``app`` (before it starts).

    ``drain_delay``: seconds to keep serving, not ready, after a stop is asked for (set it a
    little above the load balancer's probe interval times its failure threshold; 0 stops at
    once).  ``checks``: coroutines that must all return True for ``/readyz`` to answer 200.
    """
    if drain_delay < 0:
        raise ValueError("drain_delay must be >= 0")
    health = Health(drain_delay, checks, check_timeout)
    app[HEALTH] = health
    app[SIGTERM_DRAIN] = health.begin_drain
    app.router.add_get(live_path, health.healthz, name="heron.healthz", allow_head=True)
    app.router.add_get(ready_path, health.readyz, name="heron.readyz", allow_head=True)

    async def stopping(app: web.Application) -> None:
        # A shutdown that did not come through the drain hook (runner.cleanup() called
        # directly) still stops reporting ready.
        health.draining = True

    app.on_shutdown.append(stopping)
    return health
