"""The same route table resolved by aiohttp's UrlDispatcher and heron's: same answers."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import pytest

from heron._web.urldispatcher import UrlDispatcher

from .conftest import make_request

aiohttp_web = pytest.importorskip("aiohttp.web")
test_utils = pytest.importorskip("aiohttp.test_utils")

# (method, path, name) in registration order; a name identifies the handler.
ROUTES = [
    ("GET", "/", "index"),
    ("GET", "/about", "about"),
    ("GET", "/about/", "about_slash"),
    ("POST", "/about", "about_post"),
    ("GET", "/{x}/b", "root_x_b"),
    ("GET", "/a/{y}", "a_y"),
    ("PUT", "/a/{y}", "a_y_put"),
    ("GET", "/users/{name}", "user"),
    ("GET", "/users/{name}/posts/{id:\\d+}", "post"),
    ("DELETE", "/users/me", "users_me_delete"),
    ("GET", "/files/{tail:.+}", "files"),
    ("GET", "/core/locations{tail:.*}", "locations"),
    ("GET", "/a{x}b/{y}", "axb"),
    ("*", "/any/{thing}", "any"),
    ("GET", "/d/{x:[a-z]+}", "d_letters"),
    ("GET", "/d/{y}", "d_other"),
    ("POST", "/d/{z:\\d+}", "d_digits_post"),
    ("GET", "/v/{ver:v\\d}/{rest:.*}", "ver"),
    ("GET", "/q/{x}", "q"),
    ("GET", "/plain%2Fslash", "plain_encoded_slash"),
    # Escapes other than %2F and %25 in a route path match nothing.
    ("GET", "/1%2C3/hello", "plain_encoded_comma"),
    ("GET", "/c%2Cd/{x}", "dynamic_encoded_comma"),
    ("GET", "/e%41/{x}", "dynamic_encoded_letter"),
    ("GET", "/pct%25/{x}", "dynamic_encoded_percent"),
    ("GET", "/caf%C3%A9", "plain_encoded_non_ascii"),
]

TARGETS = [
    "/", "/about", "/about/", "/about?x=1", "/nope", "/a/b", "/z/b", "/a/c", "/a/",
    "/users/bob", "/users/me", "/users/bob/posts/12", "/users/bob/posts/x", "/users/",
    "/files/a/b/c.css", "/files/", "/files/a%2Fb", "/core/locations", "/core/locations/x/y",
    "/a1b/2", "/any/x", "/d/abc", "/d/123", "/d/ab1", "/v/v1/", "/v/v1/a/b", "/v/x/a",
    "/q/a%2Fb", "/q/%D0%BF", "/q/a%20b", "/q/a%25b", "/q/a+b", "/q/~x", "/plain%2Fslash",
    "/plain/slash", "//", "/a//b", "/users/bob%2Fposts/1", "/1%2C3/hello", "/1,3/hello",
    "/1%252C3/hello", "/c,d/1", "/c%2Cd/1", "/eA/1", "/e%41/1", "/pct%25/1", "/pct%2525/1",
    "/caf%C3%A9", "/caf%25C3%25A9",
]  # fmt: skip

METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]


def _handler_named(name: str) -> Any:
    async def handler(request: Any) -> Any:
        return name

    handler.__name__ = name
    return handler


def _build(router: Any) -> None:
    for method, path, name in ROUTES:
        router.add_route(method, path, _handler_named(name))
        if method == "GET":
            router.add_route("HEAD", path, _handler_named(name))


def _summary(match_info: Any) -> tuple[Any, ...]:
    exc = match_info.http_exception
    if exc is not None:
        allowed = getattr(exc, "allowed_methods", None)
        return ("error", exc.status, frozenset(allowed) if allowed else None)
    return ("ok", match_info.handler.__name__, dict(match_info))


@pytest.fixture(scope="module")
def routers() -> tuple[Any, UrlDispatcher]:
    theirs = aiohttp_web.UrlDispatcher()
    ours = UrlDispatcher()
    _build(theirs)
    _build(ours)
    theirs.freeze()
    ours.freeze()
    return theirs, ours


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("target", TARGETS)
def test_same_answer(routers: tuple[Any, UrlDispatcher], method: str, target: str) -> None:
    theirs, ours = routers

    async def resolve_theirs() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            request = test_utils.make_mocked_request(method, target)
        return await theirs.resolve(request)

    expected = _summary(asyncio.run(resolve_theirs()))
    request = make_request(method, target)
    assert _summary(asyncio.run(ours.resolve(request))) == expected
    resolver = ours.sync_resolver()
    assert resolver is not None
    assert _summary(resolver(request)) == expected
