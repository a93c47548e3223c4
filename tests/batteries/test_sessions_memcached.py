"""MemcachedStorage against a real memcached started for this module on a free port.

The binary comes from Debian's ``memcached`` package (scripts/ensure-system-deps.sh installs
it); without it these tests are skipped with that instruction.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiomcache
import pytest

from heron.client import DummyCookieJar
from heron.sessions.memcached_storage import MemcachedStorage

from ..engine.conftest import free_port
from .test_sessions import session_cookie, set_cookie_headers
from .test_sessions_redis import stop, storage_app

START_TIMEOUT = 10.0


def _wait_until_listening(proc: subprocess.Popen[bytes], port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"memcached exited with {proc.returncode}") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"memcached not listening after {timeout}s") from None
            time.sleep(0.02)  # polling a port with a deadline, not synchronising by sleep


@pytest.fixture(scope="module")
def memcached_port() -> Iterator[int]:
    binary = shutil.which("memcached")
    if binary is None:
        pytest.skip("memcached is not installed: run scripts/ensure-system-deps.sh (Debian)")
    port = free_port()
    command = [binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "16"]
    if os.geteuid() == 0:
        command += ["-u", "nobody"]  # memcached refuses to run as root otherwise
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until_listening(proc, port, START_TIMEOUT)
        yield port
    finally:
        stop(proc)


@pytest.fixture
async def memcached(memcached_port: int) -> AsyncIterator[aiomcache.Client]:
    client = aiomcache.Client("127.0.0.1", memcached_port)
    await client.flush_all()
    yield client
    await client.close()


async def stored(memcached: aiomcache.Client, key: str | None) -> Any:
    raw = await memcached.get(f"AIOHTTP_SESSION_{key}".encode())
    return None if raw is None else json.loads(raw)


async def test_round_trip_and_long_lived_sessions(
    aiohttp_client: Any, memcached: aiomcache.Client
) -> None:
    client = await aiohttp_client(storage_app(MemcachedStorage(memcached, max_age=300)))
    async with client.get("/count") as resp:
        key = session_cookie(resp)
        assert "Max-Age=300" in set_cookie_headers(resp)[0]
    assert (await stored(memcached, key))["session"] == {"n": 1}
    async with client.get("/count") as resp:
        assert await resp.json() == {"n": 2, "identity": key}
    # 40 days is sent to memcached as an absolute time: stored, not expired at once.
    async with client.get("/count?remember") as resp:
        assert f"Max-Age={40 * 24 * 3600}" in set_cookie_headers(resp)[0]
    assert (await stored(memcached, key))["session"] == {"n": 3}


async def test_unknown_or_malformed_keys_are_never_adopted(
    aiohttp_client: Any, memcached: aiomcache.Client
) -> None:
    client = await aiohttp_client(
        storage_app(MemcachedStorage(memcached)), cookie_jar=DummyCookieJar()
    )
    # A key memcached does not know, and one memcached would refuse (a space, too long).
    for planted in ("attacker-chosen-key", "has space", "k" * 300):
        cookie = {"Cookie": f'AIOHTTP_SESSION="{planted}"'}
        async with client.get("/count", headers=cookie) as resp:
            assert (await resp.json())["n"] == 1
            issued = session_cookie(resp)
        assert issued is not None and issued != planted
        assert await stored(memcached, issued) is not None


async def test_invalidate_empties_the_key_and_deletes_the_cookie(
    aiohttp_client: Any, memcached: aiomcache.Client
) -> None:
    client = await aiohttp_client(storage_app(MemcachedStorage(memcached)))
    async with client.get("/count") as resp:
        key = session_cookie(resp)
    async with client.post("/logout") as resp:
        assert "Max-Age=0" in set_cookie_headers(resp)[0]
    assert await stored(memcached, key) == {}
    replay = await aiohttp_client(client.server, cookie_jar=DummyCookieJar())
    async with replay.get("/count", headers={"Cookie": f"AIOHTTP_SESSION={key}"}) as resp:
        assert (await resp.json())["n"] == 1
        assert session_cookie(resp) not in (None, key)


def test_storage_needs_an_aiomcache_client() -> None:
    with pytest.raises(TypeError, match=r"aiomcache\.Client"):
        MemcachedStorage(object())  # type: ignore[arg-type]
