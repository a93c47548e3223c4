"""Sending file bytes: zero-copy ``os.sendfile`` to the socket, or chunked reads.

Zero-copy is used on plain TCP (and Unix) sockets, on both the asyncio loop and uvloop,
unless ``HERON_NOSENDFILE`` or ``AIOHTTP_NOSENDFILE`` is set. It writes to the socket
behind the transport only while the transport's own buffer is empty, so bytes stay in
order; when the socket is full it waits for it to become writable (watching a duplicate
of the descriptor, since the loop refuses to watch one a transport owns), at most
``timeout`` seconds per stall, then aborts the connection.

``loop.sendfile`` is not used: uvloop does not implement it, and asyncio's has no bound on
how long a stalled peer may hold it.

TLS (and anything without a socket) gets :func:`read_chunks`: the file is read in a worker
thread, ``chunk_size`` bytes at a time with the next read overlapping the current write,
and written through the response writer, which applies backpressure.
"""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Awaitable, Callable
from typing import Final

__all__ = ("read_chunks", "sendfile", "sendfile_disabled", "zero_copy_fd")


def sendfile_disabled() -> bool:
    """Whether ``HERON_NOSENDFILE`` or ``AIOHTTP_NOSENDFILE`` is set (read at each call)."""
    return bool(os.environ.get("HERON_NOSENDFILE") or os.environ.get("AIOHTTP_NOSENDFILE"))


_HAS_SENDFILE: Final = hasattr(os, "sendfile")
_GONE: Final = frozenset({errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.EBADF})


def zero_copy_fd(transport: asyncio.BaseTransport) -> int | None:
    """The socket descriptor to ``sendfile`` to, or None when zero-copy is not possible."""
    if not _HAS_SENDFILE or sendfile_disabled():
        return None
    if transport.get_extra_info("sslcontext") is not None:
        return None
    sock = transport.get_extra_info("socket")
    if sock is None:
        return None
    try:
        fd: int = sock.fileno()
    except (OSError, ValueError):
        return None
    return fd if fd >= 0 else None


async def sendfile(
    transport: asyncio.WriteTransport,
    sock_fd: int,
    file_fd: int,
    offset: int,
    count: int,
    *,
    window: int,
    timeout: float,
) -> int:
    """Send ``count`` bytes of ``file_fd`` from ``offset``; return how many were sent.

    Fewer than ``count`` means the file is shorter than expected (truncated while being
    sent). Raises ConnectionResetError when the connection goes away and TimeoutError
    (after aborting the connection) when the peer stops reading for ``timeout`` seconds.
    ``window`` bounds each system call, so one transfer cannot starve other connections.
    """
    loop = asyncio.get_running_loop()
    sent = 0
    watch_fd = -1
    try:
        while count > 0:
            if transport.is_closing():
                raise ConnectionResetError("Connection lost")
            n = -1
            if not transport.get_write_buffer_size():
                want = min(count, window)
                try:
                    n = os.sendfile(sock_fd, file_fd, offset, want)
                except (BlockingIOError, InterruptedError):
                    n = -1
                except OSError as exc:
                    if exc.errno in _GONE:
                        raise ConnectionResetError(str(exc)) from exc
                    raise
                if n == 0:
                    break  # end of file: it shrank
                if n > 0:
                    offset += n
                    count -= n
                    sent += n
                    if n == want and count:
                        # PERF: a fast peer takes whole windows; let other tasks run
                        # between them instead of waiting for the socket to fill.
                        await asyncio.sleep(0)
                    continue
            if watch_fd < 0:
                watch_fd = os.dup(sock_fd)
            await _writable(loop, transport, watch_fd, timeout)
    finally:
        if watch_fd >= 0:
            os.close(watch_fd)
    return sent


async def _writable(
    loop: asyncio.AbstractEventLoop, transport: asyncio.WriteTransport, fd: int, timeout: float
) -> None:
    waiter: asyncio.Future[None] = loop.create_future()
    loop.add_writer(fd, _wake, waiter)
    timer = loop.call_later(timeout, _expire, waiter)
    try:
        await waiter
    except asyncio.TimeoutError:
        transport.abort()  # the peer stopped reading: free the connection
        raise
    finally:
        timer.cancel()
        loop.remove_writer(fd)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(asyncio.TimeoutError())


async def read_chunks(
    file_fd: int,
    offset: int,
    count: int,
    chunk_size: int,
    write: Callable[[bytes], Awaitable[None]],
) -> int:
    """Read ``count`` bytes from ``offset`` in a worker thread and ``write`` them.

    At most two chunks are in memory: the one being written and the next one being read.
    Returns the bytes written (fewer than ``count`` if the file shrank).
    """
    loop = asyncio.get_running_loop()
    sent = 0
    pending: asyncio.Future[bytes] | None = loop.run_in_executor(
        None, os.pread, file_fd, min(chunk_size, count), offset
    )
    try:
        while pending is not None:
            data = await pending
            pending = None
            if not data:
                break
            sent += len(data)
            offset += len(data)
            count -= len(data)
            if count > 0:
                pending = loop.run_in_executor(
                    None, os.pread, file_fd, min(chunk_size, count), offset
                )
            await write(data)
    finally:
        if pending is not None:
            # The write failed: wait for the read in flight (one local read, bounded) so
            # that the caller may close the file; its result is not needed.
            await asyncio.wait([pending])
            if not pending.cancelled():
                pending.exception()
    return sent
