"""The pytest plugin, exercised on generated test files with pytester."""

from __future__ import annotations

import importlib.util

import pytest

pytest_plugins = ["pytester"]

# The plugin is active through its entry point: no -p option.
PLUGIN = ("-p", "no:randomly")

LOOP_CHECK = """
import asyncio

import pytest

seen = []

async def test_loop_kind(loop):
    assert asyncio.get_running_loop() is loop
    seen.append(type(loop).__module__.split(".")[0])

async def test_without_loop_argument():
    asyncio.get_running_loop()

def test_summary():
    pass
"""


def test_async_tests_run_on_both_loops(pytester: pytest.Pytester) -> None:
    pytest.importorskip("uvloop")
    pytester.makepyfile(LOOP_CHECK)
    result = pytester.runpytest(*PLUGIN, "--heron-loop=all", "-v")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(
        [
            "*test_loop_kind?asyncio? PASSED*",
            "*test_loop_kind?uvloop? PASSED*",
            "*test_without_loop_argument?asyncio? PASSED*",
            "*test_without_loop_argument?uvloop? PASSED*",
        ]
    )


@pytest.mark.parametrize("option", ["--heron-loop=asyncio", "--aiohttp-loop=pyloop"])
def test_select_one_loop(pytester: pytest.Pytester, option: str) -> None:
    pytester.makepyfile(LOOP_CHECK)
    result = pytester.runpytest(*PLUGIN, option, "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_loop_kind?asyncio? PASSED*"])
    result.stdout.no_fnmatch_line("*uvloop*")


def test_unknown_loop_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(LOOP_CHECK)
    result = pytester.runpytest(*PLUGIN, "--heron-loop=trio")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_hanging_test_times_out(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import asyncio
        import pytest

        @pytest.mark.heron_timeout(0.2)
        async def test_hangs():
            await asyncio.Event().wait()

        async def test_fine():
            pass
        """
    )
    result = pytester.runpytest(*PLUGIN, "--heron-loop=asyncio")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test test_hangs* timed out after 0.2 seconds*"])


def test_ini_timeout_and_hanging_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nheron_test_timeout = 0.2\n")
    pytester.makepyfile(
        """
        import asyncio
        import pytest

        @pytest.fixture
        async def stuck(loop):
            await asyncio.Event().wait()

        async def test_uses_stuck(stuck):
            pass

        async def test_hangs():
            await asyncio.Event().wait()
        """
    )
    result = pytester.runpytest(*PLUGIN, "--heron-loop=asyncio")
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(["*fixture stuck timed out*", "*test test_hangs* timed out*"])


def test_async_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import asyncio
        import pytest

        events = []

        @pytest.fixture
        async def plain(loop):
            await asyncio.sleep(0)
            return "plain"

        @pytest.fixture
        async def generator(loop):
            events.append(("setup", asyncio.get_running_loop() is loop))
            yield "gen"
            events.append(("teardown", asyncio.get_running_loop() is loop))

        async def test_both(plain, generator, loop):
            assert (plain, generator) == ("plain", "gen")

        def test_sync_test_with_async_fixture(plain):
            assert plain == "plain"

        def test_events():
            assert events == [("setup", True), ("teardown", True)]
        """
    )
    result = pytester.runpytest(*PLUGIN, "--heron-loop=asyncio", "-p", "no:randomly")
    result.assert_outcomes(passed=3)


def test_client_fixture_in_generated_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from heron._web.app import Application
        from heron._web.response import Response

        async def test_client(aiohttp_client):
            async def hello(request):
                return Response(text="hi")

            app = Application()
            app.router.add_get("/", hello)
            client = await aiohttp_client(app)
            resp = await client.get("/")
            assert resp.status == 200
            assert await resp.text() == "hi"
        """
    )
    result = pytester.runpytest(*PLUGIN)
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 1
    assert "failed" not in outcomes and "errors" not in outcomes


# ---------------------------------------------------------------------- as users install it

HERON_APP_TEST = """
from heron import web

async def test_client(aiohttp_client):
    async def hello(request):
        return web.Response(text="hi")

    app = web.Application()
    app.router.add_get("/", hello)
    client = await aiohttp_client(app)
    resp = await client.get("/")
    assert await resp.text() == "hi"
"""


@pytest.mark.parametrize("how", ["-p heron.pytest_plugin", "pytest_plugins in conftest"])
def test_registered_once_however_named(pytester: pytest.Pytester, how: str) -> None:
    pytester.makepyfile(HERON_APP_TEST)
    options = list(PLUGIN)
    if how.startswith("-p"):
        options += how.split()
    elif how.startswith("pytest_plugins"):
        pytester.makeconftest('pytest_plugins = ["heron.pytest_plugin"]')
    result = pytester.runpytest(*options)
    result.assert_outcomes(passed=1)


def test_replaces_pytest_aiohttp(pytester: pytest.Pytester) -> None:
    """Installed side by side, heron's fixtures take the names; turned off, aiohttp's do."""
    pytest.importorskip("pytest_aiohttp")
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function")
    pytester.makepyfile(
        test_heron=HERON_APP_TEST,
        test_aiohttp=HERON_APP_TEST.replace("from heron import web", "from aiohttp import web"),
    )
    result = pytester.runpytest(*PLUGIN)
    # heron's aiohttp_client serves both: an aiohttp app with aiohttp's own test server.
    result.assert_outcomes(passed=2)
    result = pytester.runpytest(*PLUGIN, "-p", "no:heron.pytest_plugin", "test_aiohttp.py")
    result.assert_outcomes(passed=1)


def test_pytest_asyncio_configuration_without_pytest_asyncio(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\n"
        "asyncio_mode = auto\n"
        "asyncio_default_fixture_loop_scope = function\n"
        "asyncio_default_test_loop_scope = function\n"
        "asyncio_debug = true\n"
    )
    pytester.makepyfile(
        """
        import asyncio
        import pytest

        @pytest.mark.asyncio
        async def test_marked(loop):
            assert asyncio.get_running_loop() is loop
            assert loop.get_debug()
        """
    )
    result = pytester.runpytest(*PLUGIN, "-p", "no:asyncio", "--strict-config", "--strict-markers")
    result.assert_outcomes(passed=1)


LOOP_SCOPES = """
import asyncio
import pytest

seen = {}

@pytest.fixture(scope="session")
async def session_resource():
    seen.setdefault("session", []).append(asyncio.get_running_loop())
    yield "session"

@pytest.fixture(scope="module")
async def module_resource(session_resource):
    # Loop-bound, like a connection pool: it must be used on the loop it was made on.
    queue = asyncio.Queue()
    await queue.put("connection")
    seen.setdefault("module", []).append(asyncio.get_running_loop())
    yield queue
    seen.setdefault("module_closed", []).append(asyncio.get_running_loop().is_running())

@pytest.fixture
async def function_resource():
    return asyncio.get_running_loop()
"""


def test_loop_scopes_without_pytest_asyncio(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = fixture-scope")
    pytester.makeconftest(LOOP_SCOPES)
    test_module = """
        import asyncio
        import pytest
        from conftest import seen

        pytestmark = pytest.mark.asyncio(loop_scope="module")

        async def test_one(module_resource, function_resource, loop):
            assert asyncio.get_running_loop() is loop is seen["module"][-1]
            assert function_resource is loop  # function fixtures run on the test's loop
            connection = await module_resource.get()
            await module_resource.put(connection)

        async def test_two(module_resource, loop):
            assert loop is seen["module"][-1]
            assert await module_resource.get() == "connection"
            await module_resource.put("connection")
    """
    pytester.makepyfile(test_a=test_module, test_b=test_module)
    pytester.makepyfile(
        test_z="""
        import asyncio
        from conftest import seen

        async def test_function_loop(session_resource, loop):
            assert asyncio.get_running_loop() is loop
            assert loop is not seen["session"][0]

        def test_summary():
            assert len(seen["session"]) == 1  # once for the session
            assert len(seen["module"]) == 2  # once per module, each on its own loop
            assert seen["module"][0] is not seen["module"][1]
            assert seen["module_closed"] == [True, True]  # torn down on its running loop
        """
    )
    result = pytester.runpytest(*PLUGIN, "-p", "no:asyncio")
    result.assert_outcomes(passed=6)
    if importlib.util.find_spec("uvloop") is not None:
        # Each module's loop and fixture per loop kind; no test mixes kinds.
        result = pytester.runpytest(*PLUGIN, "-p", "no:asyncio", "--heron-loop=all", "test_a.py")
        outcomes = result.parseoutcomes()
        assert outcomes["passed"] == 4 and outcomes["deselected"] > 0, outcomes


def test_strict_mode_shares_the_work(pytester: pytest.Pytester) -> None:
    """pytest-asyncio (strict) runs its marked tests; heron runs the rest; fixtures follow."""
    pytest.importorskip("pytest_asyncio")
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function")
    pytester.makepyfile(
        HERON_APP_TEST
        + """
import asyncio
import pytest

@pytest.mark.asyncio
async def test_marked(aiohttp_client, loop):
    assert type(loop).__module__.startswith("asyncio")
    assert asyncio.get_running_loop() is loop
    await test_client(aiohttp_client)

async def test_unmarked(aiohttp_client, loop):
    assert asyncio.get_running_loop() is loop
    assert not loop.get_debug()  # asyncio_debug unset (pytest-asyncio's default: "false")
    await test_client(aiohttp_client)
"""
    )
    result = pytester.runpytest(*PLUGIN, "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_marked PASSED*", "*test_unmarked?asyncio? PASSED*"])


def test_auto_mode_with_module_loop(pytester: pytest.Pytester) -> None:
    """In auto mode pytest-asyncio runs everything; heron's fixtures use the test's loop."""
    pytest.importorskip("pytest_asyncio")
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = fixture-scope"
    )
    pytester.makeconftest(LOOP_SCOPES)
    pytester.makepyfile(
        HERON_APP_TEST
        + """
import asyncio
import pytest
from conftest import seen

pytestmark = pytest.mark.asyncio(loop_scope="module")

async def test_module_loop(aiohttp_client, loop, module_resource):
    assert asyncio.get_running_loop() is loop is seen["module"][-1]
    await test_client(aiohttp_client)
"""
    )
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(passed=2)
