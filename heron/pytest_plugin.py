"""pytest plugin: async tests and fixtures, and the test fixtures under aiohttp's names.

Installing heron registers it (the ``pytest11`` entry point ``heron.pytest_plugin``);
``-p no:heron.pytest_plugin`` turns it off.  docs/testing.md is the user's guide.

* Fixtures with aiohttp's names and pytest-aiohttp's semantics: ``loop``,
  ``aiohttp_unused_port``, ``aiohttp_server``, ``aiohttp_raw_server``,
  ``aiohttp_client``, ``aiohttp_client_cls``.  What they start is closed at teardown.
  They serve heron applications; an ``aiohttp.web.Application`` given to them is
  served by aiohttp's own test server and client.  Because the names are the same,
  this plugin blocks pytest-aiohttp's and aiohttp's own pytest plugin.
* Who runs ``async def`` tests and fixtures: when pytest-asyncio is active, it runs
  what it claims (everything in ``asyncio_mode = auto``; ``@pytest.mark.asyncio`` tests
  and ``@pytest_asyncio.fixture`` fixtures in strict mode) and this plugin runs the
  rest.  Without pytest-asyncio this plugin runs them all, honouring pytest-asyncio's
  ini options and marker: ``asyncio_default_fixture_loop_scope`` (an async fixture's
  loop lives as long as this scope, by default the fixture's own),
  ``asyncio_default_test_loop_scope`` and ``@pytest.mark.asyncio(loop_scope=...)``
  (the test's loop), ``asyncio_debug``.  Those options are declared here too, so a
  suite configured for pytest-asyncio starts without it.
* The fixtures above always run on the loop the test runs on, whoever runs it.
* Loops of the tests this plugin runs: ``--heron-loop=asyncio|uvloop|all`` (or the
  ``heron_loop`` ini option; default asyncio; ``--aiohttp-loop`` is an alias and
  ``pyloop`` means asyncio) parametrizes each test over them; uvloop runs are skipped
  when it is not installed.
* Each async test and fixture step it runs is bounded: the ``heron_timeout(seconds)``
  marker, else the ``heron_test_timeout`` ini option (default 60 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import sys
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Iterator
from typing import Any, Protocol, cast

import pytest

from ._util.aiohttp_types import is_aiohttp_instance
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
#: pytest's scopes, narrowest first (the order pytest-asyncio's loop scopes use too).
SCOPES = ("function", "class", "module", "package", "session")
#: Plugins this one replaces: pytest-aiohttp (entry point ``aiohttp``) and aiohttp's own.
_REPLACED_PLUGINS = ("aiohttp", "pytest_aiohttp", "pytest_aiohttp.plugin", "aiohttp.pytest_plugin")

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


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    for name in _REPLACED_PLUGINS:
        pluginmanager.set_blocked(name)
    group = parser.getgroup("heron", "heron async test support")
    group.addoption(
        "--heron-loop",
        action="store",
        default=None,
        help="event loops for async tests: asyncio, uvloop, all, or a comma-separated list "
        "(default: the heron_loop ini option, else asyncio)",
    )
    with contextlib.suppress(ValueError):  # another plugin may own this name
        group.addoption(
            "--aiohttp-loop",
            action="store",
            default=None,
            help="alias of --heron-loop (pyloop means asyncio)",
        )
    parser.addini("heron_loop", "default of --heron-loop", default="asyncio")
    parser.addini(
        "heron_test_timeout",
        "seconds an async test (or async fixture step) may run before it fails",
        default=str(DEFAULT_TIMEOUT),
    )
    # pytest-asyncio's ini options, declared with its types and defaults so that a suite
    # configured for it starts without it.  When it is installed it declares them too
    # (a second declaration of an ini name replaces the first: same meaning either way).
    parser.addini("asyncio_mode", "pytest-asyncio's mode: auto or strict", default="strict")
    parser.addini(
        "asyncio_default_fixture_loop_scope",
        "default scope of the event loop async fixtures run on",
        default=None,
    )
    parser.addini(
        "asyncio_default_test_loop_scope",
        "default scope of the event loop async tests run on",
        default="function",
    )
    parser.addini("asyncio_debug", "asyncio debug mode on test loops", type="bool", default=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "heron_timeout(seconds): time limit of this async test (0 disables it)"
    )
    if not _pytest_asyncio_active(config):
        config.addinivalue_line(
            "markers", "asyncio(loop_scope=...): run this test on the loop of that scope"
        )
    _selected_loops(config)  # a bad --heron-loop value is a usage error, reported early
    for option in ("asyncio_default_fixture_loop_scope", "asyncio_default_test_loop_scope"):
        value = config.getini(option)
        if value and value != "fixture-scope" and value not in SCOPES:
            raise pytest.UsageError(f"{value!r} is not a valid {option}: use one of {SCOPES}")


def _selected_loops(config: pytest.Config) -> list[str]:
    raw = config.getoption("--heron-loop", None)
    if raw is None:
        with contextlib.suppress(ValueError):
            raw = config.getoption("--aiohttp-loop", None)
    if raw is None:
        raw = config.getini("heron_loop")
    names: list[str] = []
    for part in str(raw or "asyncio").split(","):
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
    return names or ["asyncio"]


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


# ---------------------------------------------------------------------- who runs what


def _pytest_asyncio_active(config: pytest.Config) -> bool:
    module = sys.modules.get("pytest_asyncio.plugin")
    return module is not None and config.pluginmanager.is_registered(module)


def _asyncio_auto_mode(config: pytest.Config) -> bool:
    mode = config.getoption("asyncio_mode", None) or config.getini("asyncio_mode")
    return str(mode) == "auto"


def _is_async(func: object) -> bool:
    return inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)


def _claimed_by_pytest_asyncio(definition: Any) -> bool:
    """Whether pytest-asyncio will run this test definition (pytest-asyncio's own rule)."""
    config = definition.config
    if not _pytest_asyncio_active(config):
        return False
    if not inspect.iscoroutinefunction(getattr(definition, "obj", None)):
        return False
    return _asyncio_auto_mode(config) or definition.get_closest_marker("asyncio") is not None


def _run_by_pytest_asyncio(node: Any) -> bool:
    """Whether this collected test is one of pytest-asyncio's items."""
    return type(node).__module__.startswith("pytest_asyncio")


def _fixture_on_pytest_asyncio(func: object, config: pytest.Config) -> bool:
    """Whether pytest-asyncio runs this (user's) async fixture."""
    if not _pytest_asyncio_active(config):
        return False
    return _asyncio_auto_mode(config) or bool(getattr(func, "_force_asyncio_fixture", False))


def _check_scope(scope: object, what: str) -> str:
    if scope not in SCOPES:
        raise pytest.UsageError(f"{what}: loop scope {scope!r} is not one of {SCOPES}")
    return str(scope)


def _test_loop_scope(node: Any) -> str:
    """The scope of the loop a test runs on: its asyncio marker, else the ini default."""
    marker = node.get_closest_marker("asyncio")
    scope = None
    if marker is not None:
        scope = marker.kwargs.get("loop_scope") or marker.kwargs.get("scope")
    if scope is None:
        scope = node.config.getini("asyncio_default_test_loop_scope") or "function"
    return _check_scope(scope, node.nodeid)


def _fixture_loop_scope(fixturedef: pytest.FixtureDef[Any], config: pytest.Config) -> str:
    """The scope of the loop an async fixture run here uses (pytest-asyncio's rule)."""
    scope = getattr(fixturedef.func, "_loop_scope", None)
    if scope is None:
        default = config.getini("asyncio_default_fixture_loop_scope")
        scope = default if default and default != "fixture-scope" else fixturedef.scope
    return _check_scope(scope, f"fixture {fixturedef.argname}")


def _loop_fixture_name(scope: str) -> str:
    return "loop" if scope == "function" else f"_heron_{scope}_loop"


def _is_factory_fixture(func: object) -> bool:
    return bool(getattr(func, "_heron_factory_fixture", False))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Give the tests this plugin runs their loops, parametrized by loop kind."""
    definition = metafunc.definition
    if _claimed_by_pytest_asyncio(definition):
        return
    config = metafunc.config
    fixturenames = metafunc.fixturenames
    scopes: set[str] = set()
    if inspect.iscoroutinefunction(definition.obj):
        scopes.add(_test_loop_scope(definition))
    if "loop" in fixturenames or "loop_factory" in fixturenames:
        scopes.add("function")
    # Async fixtures this plugin runs on a loop wider than a test's are parametrized by
    # the loop kind as well: their cached value then belongs to one kind's loop.
    kind_bound: list[tuple[str, str]] = []
    name2defs = definition._fixtureinfo.name2fixturedefs
    for name in list(fixturenames):
        defs = name2defs.get(name)
        if not defs:
            continue
        fixturedef = defs[-1]
        func = fixturedef.func
        if not _is_async(func) or _is_factory_fixture(func):
            continue
        if _fixture_on_pytest_asyncio(func, config):
            continue
        scope = _fixture_loop_scope(fixturedef, config)
        scopes.add(scope)
        if scope != "function" and fixturedef.scope != "function" and fixturedef.params is None:
            kind_bound.append((name, fixturedef.scope))
    if not scopes:
        return
    parametrized = [
        ("loop_factory" if scope == "function" else _loop_fixture_name(scope), scope)
        for scope in sorted(scopes, key=SCOPES.index)
    ]
    for name, _ in parametrized:
        if name not in fixturenames:
            fixturenames.append(name)
    parametrized += kind_bound
    kinds = _selected_loops(config)
    uvloop_missing = _uvloop_factory() is None
    # One parametrization per fixture, each at its own scope (a joint one would impose one
    # scope on all).  With several kinds that makes combinations of kinds: the mixed ones
    # are deselected in pytest_collection_modifyitems.
    for index, (name, scope) in enumerate(parametrized):
        params = []
        for kind in kinds:
            marks = []
            if kind == "uvloop" and uvloop_missing:
                marks.append(pytest.mark.skip(reason="uvloop is not installed"))
            shown = kind if index == 0 or len(kinds) > 1 else _HIDDEN
            params.append(pytest.param(kind, id=shown, marks=marks))
        metafunc.parametrize(name, params, indirect=True, scope=scope)  # type: ignore[arg-type]
    if len(kinds) > 1 and len(parametrized) > 1:
        config.stash.setdefault(_KIND_ARGS, {})[definition.nodeid] = [n for n, _ in parametrized]


#: pytest >= 8.4 can leave a parameter out of a test's id.
_HIDDEN: Any = getattr(pytest, "HIDDEN_PARAM", None)
#: Test definition node id -> the names parametrized by loop kind (when there are several).
_KIND_ARGS = pytest.StashKey[dict[str, list[str]]]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the tests whose loops and fixtures would be of different loop kinds."""
    kind_args = config.stash.get(_KIND_ARGS, None)
    if not kind_args:
        return
    keep, drop = [], []
    for item in items:
        names = kind_args.get(item.nodeid.split("[", 1)[0])
        callspec = getattr(item, "callspec", None)
        if names and callspec is not None and len({callspec.params[n] for n in names}) > 1:
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an ``async def`` test on its loop, within its timeout."""
    func = pyfuncitem.obj
    if not inspect.iscoroutinefunction(func):
        return None  # a plain test, or one pytest-asyncio runs (it swapped in a wrapper)
    loop = pyfuncitem._request.getfixturevalue("loop")
    argnames = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in argnames}
    timeout = _timeout_for(pyfuncitem)
    _run(loop, _bounded(func(**kwargs), timeout, f"test {pyfuncitem.name}"))
    return True


@pytest.hookimpl(tryfirst=True, wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, Any, Any]:
    """Run the async fixtures this plugin owns on their loop.

    ``tryfirst`` makes this the outermost wrapper: a fixture run here is seen by
    pytest-asyncio as the plain function it is swapped for, so it leaves it alone.
    """
    func = fixturedef.func
    if not _is_async(func):
        return (yield)
    if _is_factory_fixture(func):
        if _run_by_pytest_asyncio(request.node):
            # pytest-asyncio runs it: on the test's loop, not the fixtures' default one.
            scope: str = getattr(request.node, "_loop_scope", "function")
            fixturedef.func = _with_loop_scope(func, scope)  # type: ignore[misc]
        else:
            fixturedef.func = _sync_fixture(func, fixturedef, request, "function")  # type: ignore[misc]
    elif _fixture_on_pytest_asyncio(func, request.config):
        return (yield)
    else:
        scope = _fixture_loop_scope(fixturedef, request.config)
        fixturedef.func = _sync_fixture(func, fixturedef, request, scope)  # type: ignore[misc]
    try:
        return (yield)
    finally:
        fixturedef.func = func  # type: ignore[misc]


def _with_loop_scope(func: Any, scope: str) -> Any:
    """A copy of an async generator function that pytest-asyncio runs on ``scope``'s loop."""
    clone = types.FunctionType(
        func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__
    )
    clone._force_asyncio_fixture = True  # type: ignore[attr-defined]
    clone._loop_scope = scope  # type: ignore[attr-defined]
    return clone


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


def _sync_fixture(
    func: Callable[..., Any],
    fixturedef: pytest.FixtureDef[Any],
    request: pytest.FixtureRequest,
    loop_scope: str,
) -> Callable[..., Any]:
    what = f"fixture {request.fixturename}"

    def run_fixture(**kwargs: Any) -> Any:
        loop_name = _loop_fixture_name(loop_scope)
        loop = request.getfixturevalue(loop_name)
        # The fixture ends before its loop does, also when the loop is replaced early (by
        # a test of the next loop kind): the loop's teardown finishes the fixture first.
        loop_def = request._get_active_fixturedef(loop_name)
        loop_def.addfinalizer(functools.partial(fixturedef.finish, request=cast(Any, request)))
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


# ---------------------------------------------------------------------- loops


#: The loops of wider scopes that are open, innermost last: when a narrower loop closes,
#: the innermost wider one becomes the current loop again.
_OPEN_LOOPS: list[asyncio.AbstractEventLoop] = []


@contextlib.contextmanager
def _test_loop(factory: LoopFactory, config: pytest.Config) -> Iterator[asyncio.AbstractEventLoop]:
    with loop_context(factory) as new_loop:
        new_loop.set_debug(_asyncio_debug(config))
        _OPEN_LOOPS.append(new_loop)
        try:
            yield new_loop
        finally:
            _OPEN_LOOPS.remove(new_loop)
    if _OPEN_LOOPS:
        asyncio.set_event_loop(_OPEN_LOOPS[-1])


def _asyncio_debug(config: pytest.Config) -> bool:
    # pytest-asyncio declares this option with the default "false", a string, which a
    # bool ini option returns as it is when the ini file does not set it.
    value = config.getini("asyncio_debug")
    return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1")


def _kind(request: pytest.FixtureRequest) -> str:
    """The loop kind of this test: its parameter, else the first one selected."""
    kind: str | None = getattr(request, "param", None)
    return kind or _selected_loops(request.config)[0]


@pytest.fixture
def loop_factory(request: pytest.FixtureRequest) -> LoopFactory:
    """The event loop factory of this run (parametrized by ``--heron-loop``)."""
    return _factory_for(_kind(request))


@pytest.fixture
def loop(request: pytest.FixtureRequest) -> Iterator[asyncio.AbstractEventLoop]:
    """The event loop the test runs on, current while it runs.

    A fresh loop per test, closed afterwards; the loop of the test's loop scope when it
    has a wider one; pytest-asyncio's loop when pytest-asyncio runs the test.
    """
    node = request.node
    if _run_by_pytest_asyncio(node):
        scope = getattr(node, "_loop_scope", "function")
        yield request.getfixturevalue(f"_{scope}_scoped_runner").get_loop()
        return
    if isinstance(node, pytest.Function) and inspect.iscoroutinefunction(node.obj):
        scope = _test_loop_scope(node)
        if scope != "function":
            yield request.getfixturevalue(_loop_fixture_name(scope))
            return
    with _test_loop(request.getfixturevalue("loop_factory"), request.config) as new_loop:
        yield new_loop


def _scoped_loop(scope: str) -> Any:
    def scoped_loop(request: pytest.FixtureRequest) -> Iterator[asyncio.AbstractEventLoop]:
        with _test_loop(_factory_for(_kind(request)), request.config) as new_loop:
            yield new_loop

    scoped_loop.__doc__ = f"The event loop of tests and async fixtures of {scope} loop scope."
    return pytest.fixture(scope=scope, name=_loop_fixture_name(scope))(scoped_loop)  # type: ignore[call-overload]


_heron_class_loop = _scoped_loop("class")
_heron_module_loop = _scoped_loop("module")
_heron_package_loop = _scoped_loop("package")
_heron_session_loop = _scoped_loop("session")


# ---------------------------------------------------------------------- factory fixtures


def _factory_fixture(func: Callable[..., AsyncIterator[Any]]) -> Any:
    """Mark an async generator fixture to run on the loop of the test that uses it."""
    func._heron_factory_fixture = True  # type: ignore[attr-defined]
    return pytest.fixture(func)


@pytest.fixture
def aiohttp_unused_port() -> Callable[[], int]:
    """A function returning a free TCP port of 127.0.0.1."""
    return unused_port


@_factory_fixture
async def aiohttp_server() -> AsyncIterator[AiohttpServer]:
    """Start a ``TestServer`` for an application: ``await aiohttp_server(app)``."""
    servers: list[Any] = []

    async def go(
        app: Application, *, host: str = "127.0.0.1", port: int | None = None, **kwargs: Any
    ) -> TestServer:
        server: Any
        if is_aiohttp_instance(app, "Application"):
            from aiohttp.test_utils import TestServer as AiohttpTestServer

            server = AiohttpTestServer(app, host=host, port=port)  # type: ignore[arg-type]
        else:
            server = TestServer(app, host=host, port=port)
        await server.start_server(**kwargs)
        servers.append(server)
        return server  # type: ignore[no-any-return]

    yield go
    await _close_all(servers)


@_factory_fixture
async def aiohttp_raw_server() -> AsyncIterator[AiohttpRawServer]:
    """Start a ``RawTestServer`` for a low-level handler."""
    servers: list[Any] = []

    async def go(
        handler: LowLevelHandler, *, port: int | None = None, **kwargs: Any
    ) -> RawTestServer:
        server = RawTestServer(handler, port=port)
        await server.start_server(**kwargs)
        servers.append(server)
        return server

    yield go
    await _close_all(servers)


@pytest.fixture
def aiohttp_client_cls() -> type[TestClient]:
    """The TestClient class ``aiohttp_client`` builds; override to use a subclass."""
    return TestClient


@_factory_fixture
async def aiohttp_client(aiohttp_client_cls: type[TestClient]) -> AsyncIterator[AiohttpClient]:
    """Start a server for an app (or take a test server) and return a started TestClient."""
    clients: list[Any] = []

    async def go(
        app_or_server: Any, *, server_kwargs: dict[str, Any] | None = None, **kwargs: Any
    ) -> TestClient:
        client: Any
        if isinstance(app_or_server, BaseTestServer):
            client = aiohttp_client_cls(app_or_server, **kwargs)
        elif isinstance(app_or_server, Application):
            server = TestServer(app_or_server, **(server_kwargs or {}))
            client = aiohttp_client_cls(server, **kwargs)
        elif is_aiohttp_instance(app_or_server, "Application") or is_aiohttp_instance(
            app_or_server, "BaseTestServer"
        ):
            client = _aiohttp_client(app_or_server, server_kwargs, kwargs)
        else:
            raise ValueError(f"Unknown argument type: {type(app_or_server)!r}")
        await client.start_server()
        clients.append(client)
        return client  # type: ignore[no-any-return]

    yield go
    await _close_all(clients)


def _aiohttp_client(app_or_server: Any, server_kwargs: Any, kwargs: dict[str, Any]) -> Any:
    """aiohttp's own test client, for an aiohttp application or test server."""
    from aiohttp import test_utils

    server = app_or_server
    if is_aiohttp_instance(app_or_server, "Application"):
        server = test_utils.TestServer(app_or_server, **(server_kwargs or {}))
    return test_utils.TestClient(server, **kwargs)


async def _close_all(items: list[Any]) -> None:
    while items:
        await items.pop().close()
