"""ConnectionRegistry: the live connections of one server and their shutdown."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .protocol import HttpProtocol

__all__ = ("ConnectionRegistry",)


class ConnectionRegistry:
    """Tracks connections so a server can stop them gracefully."""

    __slots__ = ("closing", "connections")

    def __init__(self) -> None:
        self.connections: set[HttpProtocol] = set()
        self.closing = False

    def add(self, conn: HttpProtocol) -> None:
        self.connections.add(conn)

    def remove(self, conn: HttpProtocol) -> None:
        self.connections.discard(conn)

    def begin_shutdown(self) -> None:
        """Refuse new connections; close idle ones; let busy ones finish their request."""
        self.closing = True
        for conn in list(self.connections):
            conn.begin_shutdown()

    async def wait_idle(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for every in-flight request to finish."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            tasks = {c.task for c in self.connections if c.task is not None}
            if not tasks:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            await asyncio.wait(tasks, timeout=remaining)

    async def shutdown(self, timeout: float) -> None:
        """Finish in-flight requests within ``timeout``, then cancel and close the rest."""
        self.begin_shutdown()
        await self.wait_idle(timeout)
        tasks = [c.task for c in self.connections if c.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        for conn in list(self.connections):
            conn.close()
