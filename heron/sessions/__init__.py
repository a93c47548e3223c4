"""heron.sessions: user sessions, with aiohttp_session's API.

``from aiohttp_session import setup, get_session`` becomes
``from heron.sessions import setup, get_session``; the storages live in the same module
names as in aiohttp_session (``heron.sessions.cookie_storage.EncryptedCookieStorage``,
``heron.sessions.redis_storage.RedisStorage``, ``heron.sessions.nacl_storage.NaClCookieStorage``,
``heron.sessions.memcached_storage.MemcachedStorage``) and need the ``sessions``, ``redis``,
``nacl`` and ``memcached`` extras.  Plugins that call aiohttp_session's own ``get_session``
(aiohttp-security's ``SessionIdentityPolicy``...) get heron's sessions.  See docs/sessions.md.
"""

from ._middleware import (
    SESSION_KEY,
    STORAGE_KEY,
    get_session,
    new_session,
    session_middleware,
    setup,
)
from ._session import Session, SessionData
from ._simple import InsecureStorageWarning, SimpleCookieStorage
from ._storage import AbstractStorage

__all__ = (
    "SESSION_KEY",
    "STORAGE_KEY",
    "AbstractStorage",
    "InsecureStorageWarning",
    "Session",
    "SessionData",
    "SimpleCookieStorage",
    "get_session",
    "new_session",
    "session_middleware",
    "setup",
)
