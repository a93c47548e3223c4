"""Opening connections and pooling keep-alive ones per (host, port, TLS setting).

``TCPConnector.connect()`` hands out a :class:`Connection`: a pooled idle one when a
live one exists, a new one otherwise, while at most ``limit`` connections (and at
most ``limit_per_host`` per key) are in use; callers beyond that wait for a slot.
Releasing a connection returns it to the pool only if its exchange ended cleanly
(the response fully received, the request fully sent, no ``Connection: close``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import ssl
from ssl import SSLContext
from typing import Any

from .exceptions import (
    ClientConnectionError,
    ClientConnectorCertificateError,
    ClientConnectorError,
    ClientConnectorSSLError,
    ConnectionKey,
    ConnectionTimeoutError,
)
from .protocol import ClientProtocol

__all__ = ("BaseConnector", "Connection", "TCPConnector")


class Connection:
    """One connection lent out by a connector; give it back with ``release()`` or ``close()``."""

    __slots__ = ("_connector", "_done", "key", "protocol", "reused")

    def __init__(
        self,
        connector: BaseConnector,
        key: ConnectionKey,
        protocol: ClientProtocol,
        reused: bool,
    ) -> None:
        self._connector = connector
        self.key = key
        self.protocol = protocol
        self.reused = reused
        self._done = False

    def __repr__(self) -> str:
        return f"<Connection {self.key.host}:{self.key.port} reused={self.reused}>"

    @property
    def released(self) -> bool:
        """True once the connection was handed back."""
        return self._done

    def release(self) -> None:
        """Hand the connection back: pooled if reusable, closed otherwise."""
        if not self._done:
            self._done = True
            self._connector.release(self.key, self.protocol)

    def close(self) -> None:
        """Close the connection and free its slot."""
        if not self._done:
            self._done = True
            self.protocol.close()
            self._connector.release(self.key, self.protocol)


class BaseConnector:
    """Connection pool with limits; subclasses open the actual connections."""

    def __init__(
        self,
        *,
        keepalive_timeout: float | None = 15.0,
        force_close: bool = False,
        limit: int = 100,
        limit_per_host: int = 0,
    ) -> None:
        if force_close and keepalive_timeout not in (None, 15.0):
            raise ValueError("keepalive_timeout cannot be set if force_close is True")
        self._keepalive_timeout = keepalive_timeout
        self._force_close = force_close
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._idle: dict[ConnectionKey, list[tuple[ClientProtocol, float]]] = {}
        self._in_use: collections.Counter[ConnectionKey] = collections.Counter()
        self._in_use_total = 0
        self._waiters: collections.deque[tuple[ConnectionKey, asyncio.Future[None]]] = (
            collections.deque()
        )
        self._cleanup_handle: asyncio.TimerHandle | None = None
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed

    @property
    def limit(self) -> int:
        """Most connections in use at once (0: unlimited)."""
        return self._limit

    @property
    def limit_per_host(self) -> int:
        """Most connections in use at once per key (0: unlimited)."""
        return self._limit_per_host

    @property
    def force_close(self) -> bool:
        """True if connections are never reused."""
        return self._force_close

    def idle_count(self, key: ConnectionKey | None = None) -> int:
        """How many idle keep-alive connections the pool holds (for ``key`` or all)."""
        if key is not None:
            return len(self._idle.get(key, ()))
        return sum(len(v) for v in self._idle.values())

    async def connect(
        self, key: ConnectionKey, *, timeout: float | None, sock_connect: float | None
    ) -> Connection:
        """Lend a connection for ``key``, waiting at most ``timeout`` seconds in all."""
        if self._closed:
            raise ClientConnectionError("Connector is closed.")
        loop = self._loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not self._has_capacity(key):
            await self._wait_for_slot(key, deadline)
            if self._closed:
                raise ClientConnectionError("Connector is closed.")
        proto = self._pop_idle(key)
        self._in_use[key] += 1
        self._in_use_total += 1
        if proto is not None:
            return Connection(self, key, proto, reused=True)
        try:
            bound = sock_connect
            if deadline is not None:
                left = max(deadline - loop.time(), 0.0)
                bound = left if bound is None else min(bound, left)
            proto = await self._open(key, bound)
        except BaseException:
            self._free_slot(key)
            raise
        return Connection(self, key, proto, reused=False)

    def release(self, key: ConnectionKey, proto: ClientProtocol) -> None:
        """Take back a lent connection (called by ``Connection``)."""
        self._free_slot(key)
        if self._closed or self._force_close or not proto.reusable:
            proto.close()
            return
        loop = self._loop
        assert loop is not None
        self._idle.setdefault(key, []).append((proto, loop.time()))
        if self._keepalive_timeout is not None and self._cleanup_handle is None:
            self._cleanup_handle = loop.call_later(self._keepalive_timeout, self._cleanup)

    async def close(self) -> None:
        """Close every idle connection and refuse new requests."""
        self._close_now()

    def _close_now(self) -> None:
        self._closed = True
        if self._cleanup_handle is not None:
            self._cleanup_handle.cancel()
            self._cleanup_handle = None
        for conns in self._idle.values():
            for proto, _ in conns:
                proto.close()
        self._idle.clear()
        while self._waiters:
            _, fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)

    async def _open(self, key: ConnectionKey, timeout: float | None) -> ClientProtocol:
        raise NotImplementedError

    # ------------------------------------------------------------------ internals

    def _has_capacity(self, key: ConnectionKey) -> bool:
        if self._limit and self._in_use_total >= self._limit:
            return False
        return not (self._limit_per_host and self._in_use[key] >= self._limit_per_host)

    async def _wait_for_slot(self, key: ConnectionKey, deadline: float | None) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        entry = (key, fut)
        self._waiters.append(entry)
        handle = None
        if deadline is not None:
            handle = loop.call_at(deadline, _expire_wait, fut)
        try:
            await fut
        finally:
            if handle is not None:
                handle.cancel()
            with contextlib.suppress(ValueError):
                self._waiters.remove(entry)

    def _free_slot(self, key: ConnectionKey) -> None:
        self._in_use[key] -= 1
        if self._in_use[key] <= 0:
            del self._in_use[key]
        self._in_use_total -= 1
        for waiter_key, fut in self._waiters:
            if not fut.done() and self._has_capacity(waiter_key):
                fut.set_result(None)
                break

    def _pop_idle(self, key: ConnectionKey) -> ClientProtocol | None:
        conns = self._idle.get(key)
        if not conns:
            return None
        loop = self._loop
        assert loop is not None
        now = loop.time()
        keepalive = self._keepalive_timeout
        while conns:
            proto, since = conns.pop()  # most recently used first
            if proto.is_connected() and (keepalive is None or now - since < keepalive):
                if not conns:
                    del self._idle[key]
                return proto
            proto.close()
        del self._idle[key]
        return None

    def _cleanup(self) -> None:
        self._cleanup_handle = None
        loop = self._loop
        keepalive = self._keepalive_timeout
        if loop is None or keepalive is None:
            return
        now = loop.time()
        for key in list(self._idle):
            alive = []
            for proto, since in self._idle[key]:
                if proto.is_connected() and now - since < keepalive:
                    alive.append((proto, since))
                else:
                    proto.close()
            if alive:
                self._idle[key] = alive
            else:
                del self._idle[key]
        if self._idle:
            self._cleanup_handle = loop.call_later(keepalive, self._cleanup)


def _expire_wait(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_exception(ConnectionTimeoutError("Timeout waiting for a free connection slot"))


def _unverified_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class TCPConnector(BaseConnector):
    """Opens TCP connections, with TLS for https URLs.

    ``ssl``: ``True`` verifies certificates with the default context, ``False``
    skips verification, an ``SSLContext`` is used as given.
    """

    def __init__(
        self,
        *,
        ssl: SSLContext | bool = True,
        family: int = socket.AF_UNSPEC,
        local_addr: tuple[str, int] | None = None,
        keepalive_timeout: float | None = 15.0,
        force_close: bool = False,
        limit: int = 100,
        limit_per_host: int = 0,
    ) -> None:
        super().__init__(
            keepalive_timeout=keepalive_timeout,
            force_close=force_close,
            limit=limit,
            limit_per_host=limit_per_host,
        )
        self._ssl = ssl
        self._family = family
        self._local_addr = local_addr
        self._contexts: dict[bool, SSLContext] = {}

    @property
    def ssl(self) -> SSLContext | bool:
        """The default TLS setting for https requests."""
        return self._ssl

    def _ssl_context(self, key: ConnectionKey) -> SSLContext | None:
        if not key.is_ssl:
            return None
        setting = self._ssl if key.ssl is None else key.ssl
        if isinstance(setting, SSLContext):
            return setting
        verify = bool(setting)
        ctx = self._contexts.get(verify)
        if ctx is None:
            ctx = ssl.create_default_context() if verify else _unverified_context()
            self._contexts[verify] = ctx
        return ctx

    async def _open(self, key: ConnectionKey, timeout: float | None) -> ClientProtocol:
        loop = asyncio.get_running_loop()
        ctx = self._ssl_context(key)
        kwargs: dict[str, Any] = {"family": self._family}
        if ctx is not None:
            kwargs["ssl"] = ctx
            kwargs["server_hostname"] = key.host.strip("[]")
        if self._local_addr is not None:
            kwargs["local_addr"] = self._local_addr
        try:
            _, proto = await asyncio.wait_for(
                loop.create_connection(
                    lambda: ClientProtocol(loop), key.host.strip("[]"), key.port, **kwargs
                ),
                timeout,
            )
        except ssl.CertificateError as exc:
            raise ClientConnectorCertificateError(key, exc) from exc
        except ssl.SSLError as exc:
            raise ClientConnectorSSLError(key, exc) from exc
        except asyncio.TimeoutError as exc:
            raise ConnectionTimeoutError(
                f"Connection timeout to host {key.host}:{key.port}"
            ) from exc
        except OSError as exc:
            raise ClientConnectorError(key, exc) from exc
        return proto
