"""heron.web's public surface against aiohttp.web 3.14: every name, every keyword."""

from __future__ import annotations

import inspect
import logging
import warnings
from typing import Any

import pytest

import heron.abc as heron_abc
import heron.web as heron_web

aiohttp_web = pytest.importorskip("aiohttp.web")

# Names whose implementation is in progress under another open issue; remove a name from
# this list when its issue lands (the test below then checks it like the others).
PENDING: set[str] = set()

# Constructors that are internal in aiohttp too (built by the server, never by users), with
# heron-specific parameters: their signatures are not part of the contract.
INTERNAL_CONSTRUCTORS = {"BaseRequest", "Request", "RequestHandler"}


def test_all_names_exported() -> None:
    missing = set(aiohttp_web.__all__) - set(heron_web.__all__) - PENDING
    assert not missing, f"heron.web lacks {sorted(missing)}"
    for name in heron_web.__all__:
        assert hasattr(heron_web, name), name


def test_pending_names_are_still_missing() -> None:
    """Fails once a pending name is exported: then drop it from PENDING."""
    done = {name for name in PENDING if name in heron_web.__all__}
    assert not done, f"exported now, remove from PENDING: {sorted(done)}"


def _callables() -> list[str]:
    names = []
    for name in aiohttp_web.__all__:
        if name in PENDING or name in INTERNAL_CONSTRUCTORS:
            continue
        obj = getattr(aiohttp_web, name)
        if not callable(obj):
            continue
        try:
            inspect.signature(obj)
        except (TypeError, ValueError):
            continue  # exception classes with C-level signatures
        names.append(name)
    return names


@pytest.mark.parametrize("name", _callables())
def test_signature_accepts_aiohttp_keywords(name: str) -> None:
    """Every parameter of aiohttp's callable exists in heron's, usable the same way."""
    theirs = inspect.signature(getattr(aiohttp_web, name)).parameters
    ours = inspect.signature(getattr(heron_web, name)).parameters
    problems = []
    for pname, param in theirs.items():
        if pname.startswith("_") or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        mine = ours.get(pname)
        if mine is None:
            problems.append(f"{pname}: missing")
            continue
        if param.kind is param.KEYWORD_ONLY and mine.kind is mine.POSITIONAL_ONLY:
            problems.append(f"{pname}: not accepted as a keyword")
        if param.kind is param.POSITIONAL_OR_KEYWORD and mine.kind is mine.KEYWORD_ONLY:
            problems.append(f"{pname}: not accepted positionally")
        if param.default is not param.empty and mine.default is mine.empty:
            problems.append(f"{pname}: required in heron, optional in aiohttp")
    assert not problems, f"{name}: {problems}"


async def _handler(request: Any) -> Any:
    return heron_web.Response()


def test_constructors_take_aiohttp_keyword_arguments() -> None:
    """Calls written for aiohttp, with their keywords spelled out, build heron objects."""
    logger = logging.getLogger("heron.test.kwargs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        app = heron_web.Application(
            logger=logger,
            router=None,
            middlewares=(),
            handler_args={"max_field_size": 100},
            client_max_size=10,
            client_max_fields=5,
            loop=None,
            debug=False,
        )
    assert app.client_max_size == 10
    response = heron_web.Response(
        body=None,
        status=201,
        reason="Made",
        text="x",
        headers={"X-A": "1"},
        content_type="text/html",
        charset="utf-8",
        zlib_executor_size=1024,
        zlib_executor=None,
    )
    assert (response.status, response.reason, response.content_type) == (201, "Made", "text/html")
    stream = heron_web.StreamResponse(status=202, reason="Later", headers={"X-B": "2"})
    assert stream.headers["X-B"] == "2"
    json = heron_web.json_response(
        {"a": 1},
        status=200,
        reason=None,
        headers=None,
        content_type="application/json",
        dumps=lambda obj: '{"a": 1}',
    )
    assert json.body == b'{"a": 1}'
    raw = heron_web.json_bytes_response({"a": 1}, dumps=lambda obj: b"{}", status=200)
    assert raw.body == b"{}"
    moved = heron_web.HTTPFound(
        location="/x", headers={"X": "y"}, reason="R", text="t", content_type="text/plain"
    )
    assert moved.location == "/x"
    not_allowed = heron_web.HTTPMethodNotAllowed(method="PUT", allowed_methods=["GET"])
    assert not_allowed.headers["Allow"] == "GET"
    too_large = heron_web.HTTPRequestEntityTooLarge(max_size=1, actual_size=2)
    assert too_large.status == 413
    legal = heron_web.HTTPUnavailableForLegalReasons(link="https://example.com/why")
    assert legal.status == 451
    server = heron_web.Server(
        _handler,
        request_factory=None,
        handler_cancellation=False,
        loop=None,
        keepalive_timeout=3630,
        tcp_keepalive=True,
        logger=logger,
        access_log_class=heron_web.AccessLogger,
        access_log=logger,
        access_log_format="%a",
        debug=False,
        max_line_size=8190,
        max_headers=128,
        max_field_size=8190,
        lingering_time=10.0,
        read_bufsize=2**16,
        auto_decompress=True,
        timeout_ceil_threshold=5,
    )
    assert server.config.max_headers == 128
    runner = heron_web.AppRunner(
        app,
        handle_signals=False,
        access_log_class=heron_web.AccessLogger,
        shutdown_timeout=5.0,
        keepalive_timeout=30,
        access_log=None,
    )
    assert runner.app is app
    heron_web.ServerRunner(server, handle_signals=False, shutdown_timeout=1.0)
    routes = heron_web.RouteTableDef()
    routes.get("/x", name="x", allow_head=False)(_handler)
    routes.route("PATCH", "/y", name="y", expect_handler=None)(_handler)
    assert len(routes) == 2
    definition = heron_web.get("/z", _handler, name="z", allow_head=True)
    assert definition.path == "/z"
    assert heron_web.AppKey("k", int) is not None and heron_web.AppKey("k") is not None


async def test_site_keyword_arguments(tmp_path: Any) -> None:
    app = heron_web.Application()
    runner = heron_web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        tcp = heron_web.TCPSite(
            runner,
            host="127.0.0.1",
            port=0,
            shutdown_timeout=1.0,
            ssl_context=None,
            backlog=10,
            reuse_address=True,
            reuse_port=None,
        )
        unix = heron_web.UnixSite(
            runner, path=str(tmp_path / "s"), shutdown_timeout=1.0, ssl_context=None, backlog=10
        )
        await tcp.start()
        await unix.start()
        assert tcp.port > 0
    finally:
        await runner.cleanup()


def test_run_app_signature_matches() -> None:
    theirs = inspect.signature(aiohttp_web.run_app).parameters
    ours = inspect.signature(heron_web.run_app).parameters
    for name, param in theirs.items():
        if param.kind is param.VAR_KEYWORD:
            continue
        assert name in ours, name
        if param.default is not param.empty and name not in ("access_log", "access_log_class"):
            # Those two default to each library's own logger and logger class.
            assert ours[name].default == param.default, name


def test_abc_module() -> None:
    """heron.abc holds the ABCs server code imports from aiohttp.abc, and heron's own
    classes are instances of them."""
    aiohttp_abc = pytest.importorskip("aiohttp.abc")
    for name in (
        "AbstractAccessLogger",
        "AbstractMatchInfo",
        "AbstractResolver",
        "AbstractRouter",
        "AbstractView",
        "ResolveResult",
    ):
        assert hasattr(aiohttp_abc, name) and hasattr(heron_abc, name), name
    app = heron_web.Application()
    assert isinstance(app.router, heron_abc.AbstractRouter)
    assert issubclass(heron_web.View, heron_abc.AbstractView)
    assert issubclass(heron_web.AccessLogger, heron_abc.AbstractAccessLogger)
    assert heron_web.AbstractAccessLogger is heron_abc.AbstractAccessLogger
    info = heron_web.UrlMappingMatchInfo({}, heron_web.ResourceRoute("GET", _handler, None))  # type: ignore[arg-type]
    assert isinstance(info, heron_abc.AbstractMatchInfo)
