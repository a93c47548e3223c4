"""The pytest plugin, exercised on generated test files with pytester."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

PLUGIN = ("-p", "heron.pytest_plugin")

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
    result = pytester.runpytest(*PLUGIN, "-v")
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
