"""Replaces aiohttp-session's tests/conftest.py in tests/plugins/suite.py's runs.

aiohttp-session starts Redis and Memcached in Docker containers; here the same fixtures
(same names, same values) start ``redis-server`` and ``memcached`` from the system's
binaries on free local ports (scripts/ensure-redis.sh, scripts/ensure-system-deps.sh).
A missing binary skips the tests that need it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import aiomcache
import pytest
from redis import asyncio as aioredis

START_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(binary: str, args: list[str], port: int) -> Iterator[dict[str, object]]:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed")
    proc = subprocess.Popen([path, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:  # polling an observable condition (the port accepts), with a deadline
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{binary} did not start on port {port}") from None
                time.sleep(0.05)
        yield {"host": "127.0.0.1", "port": port}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def session_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture(scope="session")
def redis_server() -> Iterator[dict[str, object]]:
    port = _free_port()
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    yield from _serve("redis-server", args, port)


@pytest.fixture
def redis_url(redis_server: dict[str, object]) -> str:
    return "redis://{}:{}".format(redis_server["host"], redis_server["port"])


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    pool = aioredis.ConnectionPool.from_url(redis_url)
    client = aioredis.Redis(connection_pool=pool)
    yield client
    await client.aclose()
    await pool.disconnect()


@pytest.fixture(scope="session")
def memcached_server() -> Iterator[dict[str, object]]:
    port = _free_port()
    args = ["-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "16"]
    if os.geteuid() == 0:
        args += ["-u", "nobody"]  # memcached refuses to run as root without a user
    yield from _serve("memcached", args, port)


@pytest.fixture
def memcached_params(memcached_server: dict[str, object]) -> dict[str, object]:
    return {"host": memcached_server["host"], "port": memcached_server["port"]}


@pytest.fixture
async def memcached(memcached_params: dict[str, object]) -> AsyncIterator[aiomcache.Client]:
    conn = aiomcache.Client(**memcached_params)  # type: ignore[arg-type]
    yield conn
    await conn.close()
