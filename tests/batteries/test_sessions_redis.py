"""RedisStorage against a real redis-server started for this module on a free port.

The binary comes from Debian's ``redis-server`` package (``scripts/ensure-redis.sh``
installs it); without it these tests are skipped with that instruction.
"""

from __future__ import annotations

import os
import selectors
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import pytest
from aiohttp_security import (
    SessionIdentityPolicy,
    authorized_userid,
    check_permission,
    forget,
    permits,
    remember,
)
from aiohttp_security import setup as setup_security
from aiohttp_security.abc import AbstractAuthorizationPolicy
from redis.asyncio import Redis

from heron import web
from heron.client import DummyCookieJar
from heron.sessions import AbstractStorage, get_session, new_session, setup
from heron.sessions.redis_storage import RedisStorage

from ..engine.conftest import free_port
from .test_sessions import session_cookie, set_cookie_headers

REDIS_START_TIMEOUT = 10.0


def _wait_until_ready(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Read redis-server's log until it says it accepts connections (bounded)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen = b""
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while b"Ready to accept connections" not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                raise TimeoutError(f"redis-server not ready after {timeout}s: {seen[-500:]!r}")
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError(f"redis-server exited: {seen[-500:]!r}")
            seen += chunk


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server a fixture started (politely, then not), and close its pipe."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed: run scripts/ensure-redis.sh (Debian package)")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_ready(proc, REDIS_START_TIMEOUT)
        yield port
    finally:
        stop(proc)


@pytest.fixture
async def redis(redis_port: int) -> AsyncIterator[Redis]:
    client = Redis(host="127.0.0.1", port=redis_port, socket_timeout=5)
    await client.flushdb()
    yield client
    await client.aclose()


def storage_app(storage: AbstractStorage) -> web.Application:
    """Sessions counting visits, shown, rotated at log-in and invalidated at log-out."""

    async def count(request: web.Request) -> web.Response:
        session = await get_session(request)
        session["n"] = session.get("n", 0) + 1
        if "remember" in request.query:
            session.max_age = 40 * 24 * 3600  # over memcached's 30-day relative limit
        return web.json_response({"n": session["n"], "identity": session.identity})

    async def show(request: web.Request) -> web.Response:
        session = await get_session(request)
        return web.json_response({"data": dict(session), "new": session.new})

    async def login(request: web.Request) -> web.Response:
        session = await new_session(request)
        session["user"] = "ann"
        return web.json_response({"identity": session.identity})

    async def logout(request: web.Request) -> web.Response:
        (await get_session(request)).invalidate()
        return web.Response()

    app = web.Application()
    setup(app, storage)
    app.router.add_get("/count", count)
    app.router.add_get("/show", show)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    return app


async def test_round_trip_with_server_side_ttl(aiohttp_client: Any, redis: Redis) -> None:
    client = await aiohttp_client(storage_app(RedisStorage(redis, max_age=300)))
    async with client.get("/count") as resp:
        assert (await resp.json())["n"] == 1
        key = session_cookie(resp)
        assert "Max-Age=300" in set_cookie_headers(resp)[0]
    assert key is not None and len(key) >= 32
    assert 0 < await redis.ttl(f"AIOHTTP_SESSION_{key}") <= 300
    async with client.get("/count") as resp:
        body = await resp.json()
    assert body == {"n": 2, "identity": key}
    # What Redis holds is what the session holds; the cookie holds only the key.
    assert b'"n": 2' in (await redis.get(f"AIOHTTP_SESSION_{key}") or b"")


async def test_expired_key_gives_a_new_session(aiohttp_client: Any, redis: Redis) -> None:
    client = await aiohttp_client(storage_app(RedisStorage(redis, max_age=300)))
    async with client.get("/count") as resp:
        key = session_cookie(resp)
    # Redis forgets the key when its TTL runs out; expiring it now stands for that.
    assert await redis.expire(f"AIOHTTP_SESSION_{key}", 0)
    async with client.get("/show") as resp:
        assert await resp.json() == {"data": {}, "new": True}


async def test_client_chosen_key_is_never_adopted(aiohttp_client: Any, redis: Redis) -> None:
    client = await aiohttp_client(storage_app(RedisStorage(redis)), cookie_jar=DummyCookieJar())
    planted = "attacker-chosen-session-key"
    async with client.get("/count", headers={"Cookie": f"AIOHTTP_SESSION={planted}"}) as resp:
        issued = session_cookie(resp)
    assert issued is not None and issued != planted
    assert await redis.exists(f"AIOHTTP_SESSION_{planted}") == 0
    assert await redis.exists(f"AIOHTTP_SESSION_{issued}") == 1


async def test_new_session_rotates_key_and_deletes_the_old_one(
    aiohttp_client: Any, redis: Redis
) -> None:
    client = await aiohttp_client(storage_app(RedisStorage(redis)))
    async with client.get("/count") as resp:
        old_key = session_cookie(resp)
    async with client.post("/login") as resp:
        new_key = session_cookie(resp)
        assert (await resp.json())["identity"] is None  # assigned when saved
    assert new_key is not None and new_key != old_key
    assert await redis.exists(f"AIOHTTP_SESSION_{old_key}") == 0
    async with client.get("/show") as resp:
        assert await resp.json() == {"data": {"user": "ann"}, "new": False}
    # The old key, replayed by whoever learnt it, no longer opens anything.
    other = await aiohttp_client(client.server, cookie_jar=DummyCookieJar())
    async with other.get("/show", headers={"Cookie": f"AIOHTTP_SESSION={old_key}"}) as resp:
        assert (await resp.json())["new"] is True


async def test_invalidate_empties_the_key_for_good_and_deletes_the_cookie(
    aiohttp_client: Any, redis: Redis
) -> None:
    client = await aiohttp_client(storage_app(RedisStorage(redis, max_age=300)))
    async with client.post("/login") as resp:
        key = session_cookie(resp)
    async with client.post("/logout") as resp:
        assert "Max-Age=0" in set_cookie_headers(resp)[0]
    # aiohttp_session's tombstone: "{}" under the key, expiring like the session would.
    assert await redis.get(f"AIOHTTP_SESSION_{key}") == b"{}"
    assert 0 < await redis.ttl(f"AIOHTTP_SESSION_{key}") <= 300
    replay = await aiohttp_client(client.server, cookie_jar=DummyCookieJar())
    cookie = {"Cookie": f"AIOHTTP_SESSION={key}"}
    async with replay.get("/show", headers=cookie) as resp:
        assert await resp.json() == {"data": {}, "new": True}
    async with replay.get("/count", headers=cookie) as resp:
        assert (await resp.json())["identity"] != key  # the emptied key is never reused
    assert await redis.exists(f"AIOHTTP_SESSION_{key}") == 0  # and is gone once replaced


def test_storage_needs_an_asyncio_client() -> None:
    with pytest.raises(TypeError, match=r"redis\.asyncio\.Redis"):
        RedisStorage(object())  # type: ignore[arg-type]


# -- aiohttp-security over heron.sessions -------------------------------------------------


class _Users(AbstractAuthorizationPolicy):
    """ann may read and write, bob may read; nobody else is a user."""

    PERMISSIONS: ClassVar[dict[str, set[str]]] = {"ann": {"read", "write"}, "bob": {"read"}}

    async def authorized_userid(self, identity: str) -> str | None:
        return identity if identity in self.PERMISSIONS else None

    async def permits(self, identity: str | None, permission: Any, context: Any = None) -> bool:
        return permission in self.PERMISSIONS.get(identity or "", set())


def security_app(storage: RedisStorage) -> web.Application:
    async def login(request: web.Request) -> web.Response:
        user = request.query["user"]
        redirect = web.HTTPFound("/me")
        await remember(request, redirect, user)
        raise redirect  # the raised redirect carries the session cookie

    async def me(request: web.Request) -> web.Response:
        user = await authorized_userid(request)
        can_write = await permits(request, "write")
        return web.json_response({"user": user, "write": can_write})

    async def edit(request: web.Request) -> web.Response:
        # check_permission raises aiohttp's HTTPUnauthorized / HTTPForbidden: heron answers
        # them as aiohttp would.
        await check_permission(request, "write")
        return web.Response(text="edited")

    async def logout(request: web.Request) -> web.Response:
        response = web.Response(text="bye")
        await forget(request, response)
        return response

    app = web.Application()
    setup(app, storage)
    setup_security(app, SessionIdentityPolicy(), _Users())
    app.router.add_get("/login", login)
    app.router.add_get("/me", me)
    app.router.add_post("/edit", edit)
    app.router.add_post("/logout", logout)
    return app


@pytest.mark.filterwarnings("ignore::heron.web.NotAppKeyWarning")  # aiohttp's AppKey
async def test_aiohttp_security_login_permits_logout(aiohttp_client: Any, redis: Redis) -> None:
    client = await aiohttp_client(security_app(RedisStorage(redis, max_age=600)))
    async with client.get("/me") as resp:
        assert await resp.json() == {"user": None, "write": False}
    async with client.post("/edit") as resp:
        assert resp.status == 401

    async with client.get("/login?user=bob") as resp:  # follows the redirect to /me
        assert await resp.json() == {"user": "bob", "write": False}
    keys = await redis.keys("AIOHTTP_SESSION_*")
    assert len(keys) == 1  # the identity lives in Redis, the cookie holds only the key
    assert b'"AIOHTTP_SECURITY": "bob"' in (await redis.get(keys[0]) or b"")
    async with client.post("/edit") as resp:
        # As aiohttp answers check_permission's HTTPForbidden: its reason, in its body too.
        denied = "User does not have 'write' permission"
        assert (resp.status, resp.reason, await resp.text()) == (403, denied, f"403: {denied}")

    async with client.get("/login?user=ann") as resp:
        assert await resp.json() == {"user": "ann", "write": True}
    async with client.post("/edit") as resp:
        assert (resp.status, await resp.text()) == (200, "edited")

    async with client.post("/logout") as resp:
        assert await resp.text() == "bye"
    async with client.get("/me") as resp:
        assert await resp.json() == {"user": None, "write": False}
    async with client.post("/edit") as resp:
        assert resp.status == 401
