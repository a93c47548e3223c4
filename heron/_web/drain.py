"""A worker's graceful stop before ``cleanup()``: stop accepting, let keep-alive clients go.

Shared by the workers of ``python -m heron.web --workers`` and of gunicorn
(``heron.worker``): both are told to stop while other workers serve on, so connections still
queued on the listening sockets belong to those, and keep-alive clients must learn of the stop
from an answer rather than from a reset.
"""

from __future__ import annotations

import asyncio
import select

from .exceptions import HTTPException
from .request import BaseRequest
from .response import StreamResponse
from .runners import BaseRunner

__all__ = ("DRAIN_WINDOW", "drain")

#: Seconds during which every answer says ``Connection: close`` before the keep-alive
#: connections still idle are closed.
DRAIN_WINDOW = 1.0


async def drain(runner: BaseRunner, window: float = DRAIN_WINDOW) -> None:
    """Stop the runner's sites, then end its keep-alive connections cleanly.

    Call before ``runner.cleanup()``, which then closes what is left idle.
    """
    # Stop accepting first; connections still queued go to the other workers.
    for site in list(runner.sites):
        await site.stop()
    await _answer_with_close(runner, window)
    await _until_no_request_waits(runner)


async def _answer_with_close(runner: BaseRunner, window: float) -> None:
    """Let keep-alive connections end cleanly before the shutdown closes the idle ones.

    Closing an idle keep-alive connection races the client's next request on it (the client
    may send before it sees the close).  So for up to ``window`` seconds, or until no
    connection is left, every answer says ``Connection: close`` and its connection closes
    after it: a client that keeps sending finds out from an answer, not from a reset.
    """
    server = runner.server
    if server is None or not server.connections:
        return
    handler = server.request_handler

    async def answer_and_close(request: BaseRequest) -> StreamResponse:
        try:
            response = await handler(request)
        except HTTPException as exc:
            exc.force_close()
            raise
        response.force_close()
        return response

    # Read per request by the server, so this reaches the connections already open.
    server.request_handler = answer_and_close
    loop = asyncio.get_running_loop()
    deadline = loop.time() + window
    while server.connections and loop.time() < deadline:
        await asyncio.sleep(0.02)


async def _until_no_request_waits(runner: BaseRunner, turns: int = 100) -> None:
    """Wait (a few loop turns) until no idle keep-alive connection has unread bytes.

    Closing a connection whose next request is already in the socket's buffer resets it and
    loses that request; once the loop has read it, the connection is busy and closes after
    its answer instead.  The window left is a request arriving between this check and the
    close, microseconds later.
    """
    server = runner.server
    if server is None:
        return
    for _ in range(turns):
        poller = select.poll()
        for conn in server.connections:
            transport = conn.transport
            sock = transport.get_extra_info("socket") if transport is not None else None
            if conn.is_idle and sock is not None:
                poller.register(sock.fileno(), select.POLLIN)
        if not poller.poll(0):
            return
        await asyncio.sleep(0)
