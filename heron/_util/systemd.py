"""systemd integration without a dependency: socket activation and readiness notification.

``listen_fds()`` takes the sockets systemd passed (``LISTEN_PID``/``LISTEN_FDS``, first fd 3);
``Notifier`` sends ``sd_notify`` states (``READY=1``, ``RELOADING=1``, ``STOPPING=1``) as one
datagram each to ``NOTIFY_SOCKET``.  Both read their environment once and remove it, so the
processes the app starts do not act on it a second time.
"""

from __future__ import annotations

import os
import socket
import time

__all__ = ("LISTEN_FDS_START", "Notifier", "activated", "listen_fds")

#: The first file descriptor systemd passes (SD_LISTEN_FDS_START).
LISTEN_FDS_START = 3


def activated(environ: dict[str, str] | None = None) -> bool:
    """True when systemd passed sockets to this process (``listen_fds()`` would take them)."""
    env = os.environ if environ is None else environ
    return env.get("LISTEN_PID") == str(os.getpid()) and "LISTEN_FDS" in env


def listen_fds(environ: dict[str, str] | None = None) -> list[int]:
    """The file descriptors passed by systemd socket activation for this process, if any.

    Honoured only when ``LISTEN_PID`` names this process (a variable inherited by a child
    is not meant for it).  The variables are removed from ``environ`` (``os.environ``).
    """
    env = os.environ if environ is None else environ
    pid = env.pop("LISTEN_PID", None)
    count = env.pop("LISTEN_FDS", None)
    env.pop("LISTEN_FDNAMES", None)
    if pid is None or count is None:
        return []
    try:
        if int(pid) != os.getpid():
            return []
        n = int(count)
    except ValueError:
        return []
    return list(range(LISTEN_FDS_START, LISTEN_FDS_START + max(n, 0)))


class Notifier:
    """Sends service states to systemd (``sd_notify``); does nothing outside systemd."""

    __slots__ = ("_address",)

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.pop("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # abstract namespace
            address = "\0" + address[1:]
        self._address = address if address[:1] in ("/", "\0") else ""

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def notify(self, state: str) -> bool:
        """Send ``state`` (e.g. ``"READY=1"``); True when it was delivered."""
        if not self._address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self._address)
                sock.sendall(state.encode())
        except OSError:
            return False
        return True

    def ready(self) -> bool:
        return self.notify("READY=1")

    def reloading(self) -> bool:
        # Type=notify-reload wants the monotonic time the reload started at.
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify(f"RELOADING=1\nMONOTONIC_USEC={usec}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")
