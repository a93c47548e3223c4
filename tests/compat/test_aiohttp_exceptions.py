"""aiohttp's own HTTPException classes raised on a heron app, without heron.compat.aiohttp.

Code written for aiohttp.web (aiohttp-security's ``check_permission``) raises aiohttp's
classes.  heron answers them as aiohttp does (test_differential.py compares the bytes with
aiohttp's server); these tests cover what a comparison cannot: heron's own middlewares see
heron's class, nothing is logged as a server error, and the low-level server answers too.
Real servers on free ports, aiohttp's client.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import Any

import pytest

from heron import web
from heron.sessions import SimpleCookieStorage, get_session, setup

from ..web.conftest import ListHandler

aiohttp = pytest.importorskip("aiohttp")
aiohttp_web = pytest.importorskip("aiohttp.web")


@pytest.fixture
def server_records() -> Iterator[ListHandler]:
    """Every record of heron's server logger, debug and up."""
    logger = logging.getLogger("aiohttp.server")
    handler = ListHandler()
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(previous)


async def _get(runner: web.BaseRunner, path: str) -> tuple[int, str, dict[str, str], str]:
    """Serve ``runner`` on a free port for one GET of ``path``: status, reason, headers, text."""
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        async with (
            aiohttp.ClientSession() as client,
            client.get(f"http://127.0.0.1:{site.port}{path}", allow_redirects=False) as resp,
        ):
            return resp.status, resp.reason or "", dict(resp.headers), await resp.text()
    finally:
        await runner.cleanup()


async def test_sessions_save_into_aiohttps_raised_redirect(server_records: ListHandler) -> None:
    seen: list[type[BaseException]] = []

    @web.middleware
    async def spy(request: web.Request, handler: Any) -> Any:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            seen.append(type(exc))
            raise

    async def login(request: web.Request) -> web.StreamResponse:
        session = await get_session(request)
        session["user"] = "ann"
        raise aiohttp_web.HTTPFound("/me")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SimpleCookieStorage is insecure on purpose
        storage = SimpleCookieStorage()
    app = web.Application(middlewares=[spy])
    setup(app, storage)
    app.router.add_get("/login", login)
    status, reason, headers, _ = await _get(web.AppRunner(app), "/login")
    assert (status, reason, headers["Location"]) == (302, "Found", "/me")
    # The session middleware saved the session into the converted redirect.
    cookie = SimpleCookie(headers["Set-Cookie"])["AIOHTTP_SESSION"].value
    assert json.loads(cookie)["session"] == {"user": "ann"}
    assert seen == [web.HTTPFound]
    assert not [r for r in server_records.records if r.levelno > logging.DEBUG]


async def test_low_level_server_answers_aiohttps_exception(server_records: ListHandler) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        raise aiohttp_web.HTTPTooManyRequests(text="slow down", headers={"Retry-After": "3"})

    status, reason, headers, text = await _get(web.ServerRunner(web.Server(handler)), "/")
    assert (status, reason, headers["Retry-After"], text) == (
        429,
        "Too Many Requests",
        "3",
        "slow down",
    )
    assert not [r for r in server_records.records if r.levelno > logging.DEBUG]
    assert any("HTTPTooManyRequests" in r.getMessage() for r in server_records.records)


async def test_other_exceptions_are_still_server_errors(server_records: ListHandler) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        raise aiohttp.ClientError("not an HTTP answer")

    status, _, _, _ = await _get(web.ServerRunner(web.Server(handler)), "/")
    assert status == 500
    assert [r.levelno for r in server_records.records] == [logging.ERROR]
