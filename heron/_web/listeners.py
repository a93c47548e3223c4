"""Listening sockets made before any worker starts: TCP, Unix, an inherited fd, systemd's.

The supervisor binds once and the workers inherit the sockets across ``fork``.  Unix,
inherited and systemd sockets (and TCP with ``reuse_port=False``) are shared by every worker;
with ``reuse_port`` each worker slot has its own ``SO_REUSEPORT`` TCP socket.  Either way the
supervisor keeps them, so their accept queues outlive the workers that come and go.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
from collections.abc import Iterable
from typing import Any

from .._util.systemd import listen_fds

__all__ = ("Listeners", "bind_tcp", "bind_unix", "from_fd", "socket_name")


def _listen_tcp(
    family: int, address: tuple[Any, ...], backlog: int, *, reuse_port: bool, proto: int = 0
) -> socket.socket:
    """One listening TCP socket (closed again if binding or listening fails)."""
    sock = socket.socket(family, socket.SOCK_STREAM, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def bind_tcp(
    host: str, port: int, backlog: int, *, reuse_port: bool = False
) -> list[socket.socket]:
    """Listen on every address ``host`` resolves to, as asyncio's ``create_server`` does."""
    infos = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
    )
    sockets: list[socket.socket] = []
    seen: set[tuple[object, ...]] = set()
    try:
        for family, _, proto, _, address in infos:
            if (family, address) in seen:
                continue
            seen.add((family, address))
            sockets.append(
                _listen_tcp(family, address, backlog, reuse_port=reuse_port, proto=proto)
            )
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def bind_unix(path: str, backlog: int) -> socket.socket:
    """Listen on a Unix socket at ``path``, replacing a stale socket file left there (one
    nothing listens on any more); a live one is an error (``EADDRINUSE``)."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.stat(path).st_mode) and not _listening(path):
            os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def _listening(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


def from_fd(fd: int, backlog: int) -> socket.socket:
    """A socket from an inherited descriptor (family and type read from the socket)."""
    sock = socket.socket(fileno=fd)
    if sock.type != socket.SOCK_STREAM:
        sock.detach()
        raise ValueError(f"file descriptor {fd} is not a stream socket")
    sock.listen(backlog)  # already listening: only adjusts the backlog
    return sock


def socket_name(sock: socket.socket) -> str:
    """A URL-ish name for logs: ``http://host:port`` or ``http://unix:/path:``."""
    if sock.family == socket.AF_UNIX:
        return f"http://unix:{sock.getsockname()}:"
    host, port = sock.getsockname()[:2]
    if sock.family == socket.AF_INET6:
        host = f"[{host}]"
    return f"http://{host}:{port}"


class Listeners:
    """The sockets a server listens on, and the Unix socket files to remove at the end.

    With ``reuse_port``, each worker slot gets its own ``SO_REUSEPORT`` TCP sockets (the
    kernel spreads new connections over them by a hash of the addresses) while Unix, inherited
    and systemd sockets stay shared; slot 0's sockets are bound at ``open()``, the others on
    first use.  A slot's sockets outlive its workers, so a replacement worker takes over the
    connections queued for the one it replaces.
    """

    __slots__ = ("_addresses", "_backlog", "_slots", "_unix_paths", "shared")

    def __init__(self, backlog: int = 128) -> None:
        self.shared: list[socket.socket] = []
        self._slots: dict[int, list[socket.socket]] = {}
        self._addresses: list[tuple[int, tuple[Any, ...]]] = []
        self._backlog = backlog
        self._unix_paths: list[str] = []

    @classmethod
    def open(
        cls,
        *,
        host: str | None,
        port: int,
        uds: Iterable[str] = (),
        fds: Iterable[int] = (),
        backlog: int = 128,
        reuse_port: bool = False,
        systemd: bool = True,
    ) -> Listeners:
        """Bind or adopt every socket; TCP only when ``host`` is given or nothing else is."""
        self = cls(backlog)
        try:
            activated = listen_fds() if systemd else []
            for fd in [*activated, *fds]:
                self.shared.append(from_fd(fd, backlog))
            for path in uds:
                self.shared.append(bind_unix(path, backlog))
                self._unix_paths.append(path)
            if host is not None or not self.shared:
                tcp = bind_tcp(host or "localhost", port, backlog, reuse_port=reuse_port)
                if reuse_port:
                    self._addresses = [(s.family, s.getsockname()) for s in tcp]
                    self._slots[0] = tcp
                else:
                    self.shared.extend(tcp)
        except BaseException:
            self.close()
            raise
        return self

    @property
    def sockets(self) -> list[socket.socket]:
        """Every socket open now (the shared ones, then each slot's)."""
        return [*self.shared, *(s for slot in sorted(self._slots) for s in self._slots[slot])]

    def names(self) -> list[str]:
        return list(dict.fromkeys(socket_name(sock) for sock in self.sockets))

    def for_slot(self, slot: int) -> list[socket.socket]:
        """The sockets a worker in ``slot`` serves (binding the slot's own ones if needed)."""
        if self._addresses and slot not in self._slots:
            self._slots[slot] = [
                _listen_tcp(family, address, self._backlog, reuse_port=True)
                for family, address in self._addresses
            ]
        return [*self.shared, *self._slots.get(slot, ())]

    def keep_only(self, slot: int) -> None:
        """In a worker: close the other slots' sockets, or they would stay in the kernel's
        ``SO_REUSEPORT`` group after the supervisor closed them, taking connections."""
        for other in [s for s in self._slots if s != slot]:
            for sock in self._slots.pop(other):
                sock.close()

    def release(self, slot: int) -> None:
        """Close a slot no longer used (connections still queued on it are reset)."""
        for sock in self._slots.pop(slot, ()):
            sock.close()

    def close(self) -> None:
        """Close every socket and remove the Unix socket files this process created."""
        for sock in self.sockets:
            sock.close()
        self.shared.clear()
        self._slots.clear()
        for path in self._unix_paths:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self._unix_paths.clear()
