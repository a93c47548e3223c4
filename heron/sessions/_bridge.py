"""The aiohttp_session bridge: plugins written against aiohttp_session see heron's sessions.

aiohttp_session's ``get_session``/``new_session`` (what aiohttp-security's
``SessionIdentityPolicy`` and others call) read the same request keys heron's middleware
fills (``"aiohttp_session"``, ``"aiohttp_session_storage"``) and call the heron storage;
all they refuse is a session that is not an ``aiohttp_session.Session``.  Registering
heron's :class:`Session` as a virtual subclass of it lifts that, once, without importing
aiohttp_session (nor aiohttp) into apps that do not use it.
"""

from __future__ import annotations

import sys

from ._session import Session

__all__ = ("bridge_aiohttp_session",)

_bridged = False


def bridge_aiohttp_session() -> bool:
    """Make heron sessions pass aiohttp_session's checks if aiohttp_session is imported.

    Returns whether the bridge is in place; cheap to call again (the middleware calls it
    until aiohttp_session shows up in ``sys.modules``).
    """
    global _bridged
    if _bridged:
        return True
    module = sys.modules.get("aiohttp_session")
    session_class = getattr(module, "Session", None)
    register = getattr(session_class, "register", None)
    if register is None:
        return False  # not imported (or not fully yet): nothing can call it now
    register(Session)
    _bridged = True
    return True
