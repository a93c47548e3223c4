"""The same application served by aiohttp.web and by heron.web, answers compared.

Both servers run in the test on real sockets; each request is sent as raw bytes on a fresh
connection to each server and both answers are parsed by h11 (an independent HTTP/1.1
parser).  Status, headers (minus Date and Server) and bodies must be equal, except for the
documented differences listed in ``KNOWN_DIFFERENCES``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import pytest

import heron.web as heron_web
from heron._web.middlewares import normalize_path_middleware as heron_normalize

from ..engine.conftest import RawClient

aiohttp_web = pytest.importorskip("aiohttp.web")

IGNORED_HEADERS = {"date", "server"}


def build_app(web: ModuleType, normalize: Any) -> Any:
    """The application under comparison, written once against the aiohttp.web API."""

    @web.middleware
    async def tag(request: Any, handler: Any) -> Any:
        response = await handler(request)
        response.headers["X-Outer"] = request.app["name"]
        return response

    @web.middleware
    async def error_pages(request: Any, handler: Any) -> Any:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status == 403:
                return web.json_response({"error": exc.reason}, status=403)
            raise

    async def index(request: Any) -> Any:
        return web.Response(text="index")

    async def user(request: Any) -> Any:
        return web.json_response(
            {
                "name": request.match_info["name"],
                "url": str(request.app.router["user"].url_for(name=request.match_info["name"])),
                "q": dict(request.query),
            }
        )

    async def number(request: Any) -> Any:
        return web.Response(text=str(int(request.match_info["n"]) * 2))

    async def tail(request: Any) -> Any:
        return web.Response(text=request.match_info["tail"])

    async def anything(request: Any) -> Any:
        return web.Response(text=request.method)

    async def found_raised(request: Any) -> Any:
        raise web.HTTPFound("/target")

    async def moved_returned(request: Any) -> Any:
        return web.HTTPMovedPermanently(location="/target?x=1")

    async def see_other(request: Any) -> Any:
        raise web.HTTPSeeOther(request.app.router["user"].url_for(name="bob").with_query(a="b"))

    async def bad(request: Any) -> Any:
        raise web.HTTPBadRequest(text="bad input")

    async def forbidden(request: Any) -> Any:
        raise web.HTTPForbidden()

    async def boom(request: Any) -> Any:
        raise RuntimeError("unexpected")

    async def gone(request: Any) -> Any:
        raise web.HTTPGone(
            headers={"X-Why": "removed"}, content_type="text/html", text="<p>gone</p>"
        )

    async def no_content(request: Any) -> Any:
        return web.Response(status=204)

    # aiohttp's own exception classes, raised on both servers (code written for aiohttp.web,
    # such as aiohttp-security's check_permission, does so on a heron app).
    async def aiohttp_forbidden(request: Any) -> Any:
        raise aiohttp_web.HTTPForbidden()  # error_pages above catches it

    async def aiohttp_gone(request: Any) -> Any:
        raise aiohttp_web.HTTPGone(
            headers={"X-Why": "removed"}, content_type="text/html", text="<p>gone</p>"
        )

    async def aiohttp_found(request: Any) -> Any:
        redirect = aiohttp_web.HTTPFound("/target?x=1")
        redirect.set_cookie("seen", "1", httponly=True)
        raise redirect

    async def aiohttp_conflict(request: Any) -> Any:
        raise aiohttp_web.HTTPConflict(reason="Name Taken", text="taken")

    async def aiohttp_no_content(request: Any) -> Any:
        raise aiohttp_web.HTTPNoContent(headers={"X-Done": "yes"})

    async def custom_reason(request: Any) -> Any:
        return web.Response(status=299, reason="Fine Enough", text="custom")

    async def cookies(request: Any) -> Any:
        response = web.Response(text="cookies")
        response.set_cookie("a", "1", max_age=10, httponly=True, samesite="Lax")
        response.del_cookie("old")
        return response

    async def stream(request: Any) -> Any:
        response = web.StreamResponse(headers={"X-Stream": "yes"})
        response.content_type = "text/plain"
        await response.prepare(request)
        await response.write(b"part1 ")
        await response.write(b"part2")
        await response.write_eof()
        return response

    async def sized(request: Any) -> Any:
        response = web.StreamResponse()
        response.content_length = 5
        await response.prepare(request)
        await response.write(b"12345")
        return response

    async def sub_index(request: Any) -> Any:
        return web.json_response(
            {"app": request.app["name"], "url": str(request.app.router["sub-item"].url_for(id="7"))}
        )

    async def sub_item(request: Any) -> Any:
        return web.Response(text=f"item {request.match_info['id']} of {request.app['name']}")

    class ItemView(web.View):
        async def get(self) -> Any:
            return web.Response(text="view get")

        async def post(self) -> Any:
            return web.Response(text="view post")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        app = web.Application(middlewares=[tag, error_pages, normalize()])
        app["name"] = "main"
        sub = web.Application(middlewares=[tag])
        sub["name"] = "sub"
        domain = web.Application()
        domain["name"] = "domain"
    app.router.add_get("/", index)
    app.router.add_get("/users/{name}", user, name="user")
    app.router.add_get(r"/n/{n:\d+}", number)
    app.router.add_get("/files/{tail:.+}", tail)
    app.router.add_route("*", "/any", anything)
    app.router.add_post("/post-only", index)
    app.router.add_get("/no-head", index, allow_head=False)
    app.router.add_get("/slash/", index)
    app.router.add_get("/found", found_raised)
    app.router.add_get("/moved", moved_returned)
    app.router.add_get("/see-other", see_other)
    app.router.add_get("/bad", bad)
    app.router.add_get("/forbidden", forbidden)
    app.router.add_get("/boom", boom)
    app.router.add_get("/gone", gone)
    app.router.add_get("/no-content", no_content)
    app.router.add_get("/aiohttp/forbidden", aiohttp_forbidden)
    app.router.add_get("/aiohttp/gone", aiohttp_gone)
    app.router.add_get("/aiohttp/found", aiohttp_found)
    app.router.add_get("/aiohttp/conflict", aiohttp_conflict)
    app.router.add_get("/aiohttp/no-content", aiohttp_no_content)
    sub.router.add_get("/aiohttp/gone", aiohttp_gone)
    app.router.add_get("/custom-reason", custom_reason)
    app.router.add_get("/cookies", cookies)
    app.router.add_get("/stream", stream)
    app.router.add_get("/sized", sized)
    app.router.add_view("/view", ItemView)
    sub.router.add_get("/", sub_index)
    sub.router.add_get("/items/{id}", sub_item, name="sub-item")
    app.add_subapp("/sub/", sub)
    domain.router.add_get("/", sub_index)
    domain.router.add_get("/items/{id}", sub_item, name="sub-item")
    app.add_domain("*.example.com", domain)
    return app


# (method, target, extra header lines)
REQUESTS: list[tuple[str, str, str]] = [
    ("GET", "/", ""),
    ("HEAD", "/", ""),
    ("GET", "/users/bob", ""),
    ("GET", "/users/b%20b?x=1&x=2&y=", ""),
    ("GET", "/users/", ""),
    ("GET", "/n/21", ""),
    ("GET", "/n/x", ""),
    ("GET", "/files/a/b/c.txt", ""),
    ("GET", "/files/", ""),
    ("GET", "/any", ""),
    ("DELETE", "/any", ""),
    ("PATCH", "/any", ""),
    ("GET", "/post-only", ""),
    ("PUT", "/users/bob", ""),
    ("HEAD", "/no-head", ""),
    ("GET", "/missing", ""),
    ("POST", "/missing", ""),
    ("GET", "/slash", ""),
    ("GET", "/slash?q=1", ""),
    ("GET", "//users/bob", ""),
    ("GET", "/found", ""),
    ("GET", "/moved", ""),
    ("GET", "/see-other", ""),
    ("GET", "/bad", ""),
    ("GET", "/forbidden", ""),
    ("GET", "/gone", ""),
    ("GET", "/boom", ""),
    ("GET", "/no-content", ""),
    ("GET", "/aiohttp/forbidden", ""),
    ("GET", "/aiohttp/gone", ""),
    ("HEAD", "/aiohttp/gone", ""),
    ("GET", "/aiohttp/found", ""),
    ("GET", "/aiohttp/conflict", ""),
    ("GET", "/aiohttp/no-content", ""),
    ("GET", "/sub/aiohttp/gone", ""),
    ("GET", "/custom-reason", ""),
    ("GET", "/cookies", ""),
    ("GET", "/stream", ""),
    ("HEAD", "/stream", ""),
    ("GET", "/sized", ""),
    ("GET", "/view", ""),
    ("POST", "/view", ""),
    ("DELETE", "/view", ""),
    ("GET", "/sub", ""),
    ("GET", "/sub/", ""),
    ("GET", "/sub/items/9", ""),
    ("POST", "/sub/items/9", ""),
    ("GET", "/sub/nothing", ""),
    ("GET", "/", "Host: api.example.com\r\n"),
    ("GET", "/items/3", "Host: a.b.example.com:8080\r\n"),
    ("GET", "/users/bob", "Host: api.example.com\r\n"),
    ("GET", "/", "Host: example.com\r\n"),
    ("GET", "/", "Connection: close\r\n"),
    ("GET", "/", "X-Forwarded-For: 1.2.3.4\r\n"),
]

# Differences on purpose (each explained in docs): (target, what) -> reason.
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {
    # aiohttp answers "500 Internal Server Error\n\nServer got itself in trouble" and closes
    # the connection; heron answers like any HTTPInternalServerError ("500: Internal Server
    # Error") and keeps a connection whose request was read completely.
    ("/boom", "headers"): "500 body length and Connection: close",
    ("/boom", "body"): "500 body text",
}


@pytest.fixture
async def servers() -> AsyncIterator[dict[str, int]]:
    ports: dict[str, int] = {}
    runners: list[Any] = []
    for name, web, normalize in (
        ("aiohttp", aiohttp_web, aiohttp_web.normalize_path_middleware),
        ("heron", heron_web, heron_normalize),
    ):
        runner = web.AppRunner(build_app(web, normalize), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        ports[name] = site._server.sockets[0].getsockname()[1]
    yield ports
    for runner in runners:
        await runner.cleanup()


async def exchange(port: int, method: str, target: str, extra: str) -> dict[str, Any]:
    client = await RawClient.connect(port)
    try:
        host = "" if extra.startswith("Host:") else "Host: localhost\r\n"
        await client.send(f"{method} {target} HTTP/1.1\r\n{host}{extra}\r\n".encode())
        response, body = await client.response(method)
    finally:
        client.close()
    headers: dict[str, list[str]] = {}
    for name, value in response.headers:
        key = name.decode().lower()
        if key not in IGNORED_HEADERS:
            headers.setdefault(key, []).append(value.decode())
    return {
        "status": response.status_code,
        "reason": response.reason.decode(),
        "headers": headers,
        "body": body,
    }


def _normalise(answer: dict[str, Any]) -> dict[str, Any]:
    out = dict(answer)
    headers = dict(out["headers"])
    # Header order and Allow's method order are not meaningful.
    if "allow" in headers:
        headers["allow"] = [",".join(sorted(v.split(","))) for v in headers["allow"]]
    if "set-cookie" in headers:
        headers["set-cookie"] = sorted(headers["set-cookie"])
    out["headers"] = headers
    if headers.get("content-type", [""])[0].startswith("application/json"):
        out["body"] = json.loads(out["body"] or b"null")
    return out


@pytest.mark.parametrize(("method", "target", "extra"), REQUESTS)
async def test_same_answer(servers: dict[str, int], method: str, target: str, extra: str) -> None:
    theirs = _normalise(await exchange(servers["aiohttp"], method, target, extra))
    ours = _normalise(await exchange(servers["heron"], method, target, extra))
    for what in ("status", "reason", "headers", "body"):
        if (target, what) in KNOWN_DIFFERENCES:
            continue
        assert ours[what] == theirs[what], f"{method} {target}: {what} differs"
