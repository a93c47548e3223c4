"""pytest plugin: run ``async def`` tests and fixtures on an event loop, no pytest-asyncio.

Enable it with ``pytest_plugins = ["heron.pytest_plugin"]`` (or ``-p heron.pytest_plugin``).

* Every ``async def test_*`` runs on the ``loop`` fixture, which is parametrized by
  ``--heron-loop=asyncio|uvloop|all`` (default ``all``; comma-separated lists work;
  ``--aiohttp-loop`` is accepted as an alias and ``pyloop`` means asyncio).  When
  uvloop is not installed its runs are skipped with a reason.
* Async fixtures (coroutine and async-generator ones) run on the test's loop.
* Each async test and async fixture step is bounded by a timeout: the
  ``heron_timeout(seconds)`` marker, else the ``heron_test_timeout`` ini option
  (default 60 s).  A test that hangs fails instead of hanging the run.
* Fixtures with aiohttp's names: ``loop``, ``aiohttp_unused_port``,
  ``aiohttp_server``, ``aiohttp_raw_server``, ``aiohttp_client``,
  ``aiohttp_client_cls``.  Servers and clients they create are closed at teardown.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterator
from typing import Any, Protocol

import pytest

from ._web.app import Application
from .test_utils import (
    BaseTestServer,
    LowLevelHandler,
    RawTestServer,
    TestClient,
    TestServer,
    loop_context,
    unused_port,
)

__all__ = (
    "aiohttp_client",
    "aiohttp_client_cls",
    "aiohttp_raw_server",
    "aiohttp_server",
    "aiohttp_unused_port",
    "loop",
    "loop_factory",
)

DEFAULT_TIMEOUT = 60.0
LOOP_NAMES = ("asyncio", "uvloop")
_ALIASES = {"pyloop": "asyncio", "asyncio": "asyncio", "uvloop": "uvloop"}

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


class AiohttpServer(Protocol):
    """The ``aiohttp_server`` fixture's type."""

    def __call__(
        self, app: Application, *, host: str = ..., port: int | None = ..., **kwargs: Any
    ) -> Awaitable[TestServer]: ...


class AiohttpRawServer(Protocol):
    """The ``aiohttp_raw_server`` fixture's type."""

    def __call__(
        self, handler: LowLevelHandler, *, port: int | None = ..., **kwargs: Any
    ) -> Awaitable[RawTestServer]: ...


class AiohttpClient(Protocol):
    """The ``aiohttp_client`` fixture's type."""

    def __call__(
        self,
        app_or_server: Any,
        *,
        server_kwargs: dict[str, Any] | None = ...,
        **kwargs: Any,
    ) -> Awaitable[TestClient]: ...


# ---------------------------------------------------------------------- options


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("heron", "heron async test support")
    group.addoption(
        "--heron-loop",
        action="store",
        default=None,
        help="event loops for async tests: asyncio, uvloop, all, or a comma-separated list "
        "(default: all)",
    )
    with contextlib.suppress(ValueError):  # aiohttp's own plugin may own this name
        group.addoption(
            "--aiohttp-loop",
            action="store",
            default=None,
            help="alias of --heron-loop (pyloop means asyncio)",
        )
    parser.addini(
        "heron_test_timeout",
        "seconds an async test (or async fixture step) may run before it fails",
        default=str(DEFAULT_TIMEOUT),
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "heron_timeout(seconds): time limit of this async test (0 disables it)"
    )
    _selected_loops(config)  # a bad --heron-loop value is a usage error, reported early


def _selected_loops(config: pytest.Config) -> list[str]:
    raw = config.getoption("--heron-loop", None)
    if raw is None:
        with contextlib.suppress(ValueError):
            raw = config.getoption("--aiohttp-loop", None)
    names: list[str] = []
    for part in str(raw or "all").split(","):
        part = part.strip().lower()
        if not part:
            continue
        if part == "all":
            chosen = list(LOOP_NAMES)
        elif part in _ALIASES:
            chosen = [_ALIASES[part]]
        else:
            raise pytest.UsageError(
                f"Unknown event loop {part!r}; use asyncio, uvloop, all (or pyloop)"
            )
        names.extend(n for n in chosen if n not in names)
    return names or list(LOOP_NAMES)


def _uvloop_factory() -> LoopFactory | None:
    try:
        import uvloop  # optional dependency
    except ImportError:
        return None
    factory: LoopFactory = uvloop.new_event_loop
    return factory


def _factory_for(name: str) -> LoopFactory:
    if name == "uvloop":
        factory = _uvloop_factory()
        if factory is None:
            pytest.skip("uvloop is not installed")
        return factory
    return asyncio.new_event_loop


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "loop_factory" not in metafunc.fixturenames:
        return
    params = []
    uvloop_missing = _uvloop_factory() is None
    for name in _selected_loops(metafunc.config):
        marks = []
        if name == "uvloop" and uvloop_missing:
            marks.append(pytest.mark.skip(reason="uvloop is not installed"))
        params.append(pytest.param(name, id=name, marks=marks))
    metafunc.parametrize("loop_factory", params, indirect=True)


# ---------------------------------------------------------------------- running async code


def _timeout_for(node: pytest.Item | pytest.Collector) -> float | None:
    marker = node.get_closest_marker("heron_timeout")
    if marker is not None and marker.args:
        value = float(marker.args[0])
    else:
        value = float(node.config.getini("heron_test_timeout"))
    return value if value > 0 else None


async def _bounded(coro: Coroutine[Any, Any, Any], timeout: float | None, what: str) -> Any:
    """Await ``coro`` in a task; fail the test if it is not done within ``timeout``."""
    task = asyncio.ensure_future(coro)
    if timeout is None:
        return await task
    done, _ = await asyncio.wait((task,), timeout=timeout)
    if not done:
        task.cancel()
        # Give the cancelled code a bounded chance to clean up.
        await asyncio.wait((task,), timeout=min(timeout, 5.0))
        pytest.fail(f"{what} timed out after {timeout:g} seconds", pytrace=False)
    return task.result()


def _run(loop: asyncio.AbstractEventLoop, awaitable: Awaitable[Any]) -> Any:
    return loop.run_until_complete(awaitable)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> None:
    """Make every async test depend on ``loop`` (so it is parametrized over loops)."""
    if (
        inspect.iscoroutinefunction(obj)
        and collector.funcnamefilter(name)
        and not hasattr(obj, "__heron_loop__")
    ):
        with contextlib.suppress(AttributeError, TypeError):
            pytest.mark.usefixtures("loop")(obj)
            obj.__heron_loop__ = True  # type: ignore[attr-defined]


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an ``async def`` test on its ``loop``, within its timeout."""
    func = pyfuncitem.obj
    if not inspect.iscoroutinefunction(func):
        return None
    loop = pyfuncitem.funcargs.get("loop")
    if not isinstance(loop, asyncio.AbstractEventLoop):
        loop = pyfuncitem._request.getfixturevalue("loop")
    argnames = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in argnames}
    timeout = _timeout_for(pyfuncitem)
    _run(loop, _bounded(func(**kwargs), timeout, f"test {pyfuncitem.name}"))
    return True


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, Any, Any]:
    """Run coroutine and async-generator fixtures on the requesting test's loop."""
    func = fixturedef.func
    if not (inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)):
        return (yield)
    fixturedef.func = _sync_fixture(func, request)  # type: ignore[misc]
    try:
        return (yield)
    finally:
        fixturedef.func = func  # type: ignore[misc]


def _sync_fixture(func: Callable[..., Any], request: pytest.FixtureRequest) -> Callable[..., Any]:
    what = f"fixture {request.fixturename}"

    def run_fixture(**kwargs: Any) -> Any:
        loop = kwargs.get("loop")
        if not isinstance(loop, asyncio.AbstractEventLoop):
            loop = request.getfixturevalue("loop")
        timeout = _timeout_for(request.node)
        if not inspect.isasyncgenfunction(func):
            return _run(loop, _bounded(func(**kwargs), timeout, what))
        gen = func(**kwargs)
        value = _run(loop, _bounded(gen.__anext__(), timeout, what))

        def finish() -> None:
            try:
                _run(loop, _bounded(gen.__anext__(), timeout, f"teardown of {what}"))
            except StopAsyncIteration:
                return
            _run(loop, gen.aclose())
            pytest.fail(f"{what} yielded more than once", pytrace=False)

        request.addfinalizer(finish)
        return value

    return run_fixture


# ---------------------------------------------------------------------- fixtures


@pytest.fixture
def loop_factory(request: pytest.FixtureRequest) -> LoopFactory:
    """The event loop factory of this run (parametrized by ``--heron-loop``)."""
    name: str = getattr(request, "param", "asyncio")
    return _factory_for(name)


@pytest.fixture
def loop(loop_factory: LoopFactory) -> Iterator[asyncio.AbstractEventLoop]:
    """A fresh event loop, current for the test, closed afterwards."""
    with loop_context(loop_factory) as new_loop:
        yield new_loop


@pytest.fixture
def aiohttp_unused_port() -> Callable[[], int]:
    """A function returning a free TCP port of 127.0.0.1."""
    return unused_port


@pytest.fixture
def aiohttp_server(loop: asyncio.AbstractEventLoop) -> Iterator[AiohttpServer]:
    """Start a ``TestServer`` for an application: ``await aiohttp_server(app)``."""
    servers: list[TestServer] = []

    async def go(
        app: Application, *, host: str = "127.0.0.1", port: int | None = None, **kwargs: Any
    ) -> TestServer:
        server = TestServer(app, host=host, port=port)
        await server.start_server(**kwargs)
        servers.append(server)
        return server

    yield go
    _run(loop, _close_all(servers))


@pytest.fixture
def aiohttp_raw_server(loop: asyncio.AbstractEventLoop) -> Iterator[AiohttpRawServer]:
    """Start a ``RawTestServer`` for a low-level handler."""
    servers: list[RawTestServer] = []

    async def go(
        handler: LowLevelHandler, *, port: int | None = None, **kwargs: Any
    ) -> RawTestServer:
        server = RawTestServer(handler, port=port)
        await server.start_server(**kwargs)
        servers.append(server)
        return server

    yield go
    _run(loop, _close_all(servers))


@pytest.fixture
def aiohttp_client_cls() -> type[TestClient]:
    """The TestClient class ``aiohttp_client`` builds; override to use a subclass."""
    return TestClient


@pytest.fixture
def aiohttp_client(
    loop: asyncio.AbstractEventLoop, aiohttp_client_cls: type[TestClient]
) -> Iterator[AiohttpClient]:
    """Start a server for an app (or take a test server) and return a started TestClient."""
    clients: list[TestClient] = []

    async def go(
        app_or_server: Any, *, server_kwargs: dict[str, Any] | None = None, **kwargs: Any
    ) -> TestClient:
        server: BaseTestServer
        if isinstance(app_or_server, BaseTestServer):
            server = app_or_server
        elif isinstance(app_or_server, Application):
            server = TestServer(app_or_server, **(server_kwargs or {}))
        else:
            raise ValueError(f"Unknown argument type: {type(app_or_server)!r}")
        client = aiohttp_client_cls(server, **kwargs)
        await client.start_server()
        clients.append(client)
        return client

    yield go
    _run(loop, _close_all(clients))


async def _close_all(items: list[TestServer] | list[RawTestServer] | list[TestClient]) -> None:
    while items:
        await items.pop().close()
