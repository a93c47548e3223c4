"""Run the test suites of the plugins heron builds in against heron's batteries.

    python -m tests.plugins.suite                  # every plugin, compared with its baseline
    python -m tests.plugins.suite sse jobs         # some of them
    python -m tests.plugins.suite sse -k ping      # a subset of one (pytest -k)
    python -m tests.plugins.suite --record sse     # rewrite the baseline from this run

For each plugin of :data:`PLUGINS`, the newest sdist on PyPI is downloaded into
``.cache/plugins/`` (the cached one is used when PyPI cannot be reached) and its tests run
twice, in the environment this script runs in (``make plugins`` gives it its own venv):

* **upstream**: unchanged, against the real plugin on aiohttp (the plugin, pytest-aiohttp
  and pytest-asyncio are pip-installed first), to learn which tests pass there;
* **heron**: with the plugin's imports pointed at heron's battery (``import aiohttp_sse``
  becomes ``import heron.sse as aiohttp_sse``), ``web`` taken from heron instead of aiohttp
  (:func:`tests.upstream.use_heron_web`, as tests/peer/aiohttp_suite.py does), and the
  ``aiohttp_client`` family of fixtures from ``heron.pytest_plugin``, so every request goes
  to a heron server.

The measure is the share of the tests passing upstream that pass on heron, per plugin and
overall; it must be at least :data:`REQUIRED` (95 %). ``baseline/<plugin>.txt`` names each
test that passes upstream and not on heron, with the reason (``test id  # reason``). A run
fails when a test passes upstream, fails on heron and is not in the baseline, or when a
ratio is below the bar. Baseline entries that pass now are reported (remove them).

Adding a plugin is one :class:`Plugin` row; a plugin whose conftest needs services of its
own (containers, say) gets a replacement conftest in this directory (``Plugin.conftest``).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from tests.upstream import download_sdist, junit_results, pip, read_reasons, use_heron_web

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CACHE = REPO / ".cache" / "plugins"
BASELINES = HERE / "baseline"

#: The share of the tests passing on aiohttp that must pass on heron.
REQUIRED = 0.95
#: What both runs need besides the plugin (the upstream run's async test support).
COMMON_DEPS = ("pytest-aiohttp>=1.1", "pytest-asyncio>=0.23", "pytest-mock>=3.12")
#: One test run (all of a plugin's tests) may take this long before it is stopped.
RUN_TIMEOUT = 900


@dataclass(frozen=True)
class Plugin:
    """One plugin heron builds in: where to get it and how to point its tests at heron."""

    #: Short name: the command-line name and ``baseline/<key>.txt``.
    key: str
    #: Its name on PyPI.
    dist: str
    #: Import rewrites, plugin module -> heron module. A submodule not listed maps by its
    #: longest listed prefix (``aiohttp_session.redis_storage`` becomes
    #: ``heron.sessions.redis_storage``).
    modules: dict[str, str]
    #: Further pip requirements of its tests (both runs).
    deps: tuple[str, ...] = ()
    #: Test files (relative to the sdist's ``tests/``) not run, with the reason.
    skip_files: dict[str, str] = field(default_factory=dict)
    #: A conftest of this directory that replaces the plugin's own ``tests/conftest.py``.
    conftest: str | None = None


PLUGINS: tuple[Plugin, ...] = (
    Plugin("templating", "aiohttp-jinja2", {"aiohttp_jinja2": "heron.templating"}),
    Plugin(
        "sessions",
        "aiohttp-session",
        {"aiohttp_session": "heron.sessions"},
        deps=("cryptography", "pynacl", "aiomcache", "redis>=5"),
        conftest="conftest_sessions.py",
    ),
    Plugin(
        "cors",
        "aiohttp-cors",
        # "aiohttp" too: its doc tests import web inside the test functions.
        {"aiohttp_cors": "heron.cors", "aiohttp": "heron"},
        skip_files={
            "integration/test_real_browser.py": "drives a desktop browser through selenium "
            "(heron's own tests/batteries/test_cors.py covers it in headless Chromium)",
        },
    ),
    Plugin("sse", "aiohttp-sse", {"aiohttp_sse": "heron.sse"}),
    Plugin(
        "jobs",
        "aiojobs",
        {
            "aiojobs.aiohttp": "heron.jobs",
            "aiojobs._scheduler": "heron.jobs",
            "aiojobs": "heron.jobs",
        },
    ),
)

_PYTEST_INI = """[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
heron_test_timeout = 30
"""


# ---------------------------------------------------------------------- getting the sdist


def fetch(plugin: Plugin) -> tuple[str, Path]:
    """The newest version of ``plugin`` and its sdist's unpacked directory."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        try:
            sdist = download_sdist(plugin.dist, Path(tmp))
        except subprocess.CalledProcessError:
            cached = sorted(CACHE.glob(f"{_stem(plugin.dist)}-*/"), key=_version_key)
            if not cached:
                raise
            print(f"{plugin.dist}: PyPI unreachable, using the cached {cached[-1].name}")
            return cached[-1].name.rpartition("-")[2], cached[-1]
        version = sdist.name[: -len(".tar.gz")].rpartition("-")[2]
        root = CACHE / f"{_stem(plugin.dist)}-{version}"
        if not root.is_dir():
            with tarfile.open(sdist) as tar:
                tar.extractall(tmp, filter="data")
            (unpacked,) = (p for p in Path(tmp).iterdir() if p.is_dir())
            unpacked.rename(root)
    return version, root


def _stem(dist: str) -> str:
    return re.sub(r"[-_.]+", "_", dist).lower()


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", path.name.rpartition("-")[2]))


def install(plugin: Plugin, version: str) -> None:
    """Install the plugin (for the upstream run) and its tests' dependencies."""
    pip("install", "--quiet", f"{plugin.dist}=={version}", *COMMON_DEPS, *plugin.deps)


# ---------------------------------------------------------------------- pointing tests at heron


def point_at_heron(source: str, modules: dict[str, str]) -> str:
    """Rewrite a test module's imports: the plugin's modules become heron's, ``web`` heron's."""
    names = sorted(modules, key=len, reverse=True)
    alternatives = "|".join(re.escape(n) for n in names)

    def target(module: str) -> str:
        for name in names:
            if module == name or module.startswith(name + "."):
                return modules[name] + module[len(name) :]
        raise AssertionError(module)

    def plain_import(match: re.Match[str]) -> str:
        indent, module, alias = match.group(1), match.group(2), match.group(3)
        if alias is None and "." in module:
            # `import a.b` binds `a`: bind it to a's heron module.
            module = alias = module.partition(".")[0]
        parent, _, leaf = target(module).rpartition(".")
        return f"{indent}from {parent} import {leaf} as {alias or module}"

    module = rf"((?:{alternatives})(?:\.\w+)*)"
    source = re.sub(
        rf"^([ \t]*)from {module} import ",
        lambda m: f"{m.group(1)}from {target(m.group(2))} import ",
        source,
        flags=re.MULTILINE,
    )
    source = re.sub(
        rf"^([ \t]*)import {module}(?: as (\w+))?[ \t]*$", plain_import, source, flags=re.MULTILINE
    )
    return use_heron_web(source)


def prepare(plugin: Plugin, root: Path, work: Path, *, heron: bool) -> None:
    """Copy the sdist's ``tests/`` into ``work`` (rewritten for heron when ``heron``)."""
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(root / "tests", work / "tests")
    for relative in plugin.skip_files:
        (work / "tests" / relative).unlink(missing_ok=True)
    if plugin.conftest is not None:
        shutil.copy2(HERE / plugin.conftest, work / "tests" / "conftest.py")
    if heron:
        for path in (work / "tests").rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            path.write_text(point_at_heron(text, plugin.modules), encoding="utf-8")
    (work / "pytest.ini").write_text(_PYTEST_INI, encoding="utf-8")


# ---------------------------------------------------------------------- running


def _entry_points(prefixes: tuple[str, ...]) -> list[str]:
    """Names of installed pytest plugins (``pytest11``) whose module starts with a prefix."""
    return sorted(
        ep.name for ep in metadata.entry_points(group="pytest11") if ep.value.startswith(prefixes)
    )


@dataclass(frozen=True)
class Outcome:
    """One test's outcome in a run, and its pytest node id there (to run it again)."""

    result: str  # passed, failed or skipped
    node: str


def run(
    work: Path, *, heron: bool, extra: list[str], nodes: list[str] | None = None
) -> dict[str, Outcome]:
    """Run pytest in ``work`` (all its tests, or ``nodes``); each test id's outcome."""
    report = work / "report.xml"
    if heron:
        # heron's fixtures and async support only: pytest-aiohttp's fixtures would start
        # aiohttp servers, and pytest-asyncio would run the async tests a second way.
        # (Named with -p only when no entry point loads heron's plugin already.)
        plugins = [] if _entry_points(("heron",)) else ["-p", "heron.pytest_plugin"]
        plugins.append("--heron-loop=asyncio")
        blocked = _entry_points(("pytest_aiohttp", "pytest_asyncio", "aiohttp.pytest_plugin"))
    else:
        plugins = []
        blocked = _entry_points(("heron",))
    for name in blocked:
        plugins += ["-p", f"no:{name}"]
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += [
        "--tb=line",
        "--continue-on-collection-errors",
        "-o",
        "addopts=",
        "-o",
        "junit_family=xunit1",  # a test case's file, to make its node id again
        f"--junitxml={report}",
        *plugins,
        *extra,
        *(nodes or ["tests"]),
    ]
    try:
        subprocess.run(command, cwd=work, check=False, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        print(f"pytest in {work} stopped after {RUN_TIMEOUT} s")
    if not report.exists():
        return {}
    outcomes: dict[str, Outcome] = {}
    for case, result in junit_results(report):
        classname, name = case.get("classname", ""), case.get("name", "")
        test_id = _normal_id(f"{classname}::{name}")
        previous = outcomes.get(test_id)
        if previous is None or result == "failed":  # a failing teardown fails the test
            outcomes[test_id] = Outcome(result, _node_id(case.get("file"), classname, name))
    return outcomes


def _node_id(file: str | None, classname: str, name: str) -> str:
    """pytest's node id of a junit test case (xunit1: it names the file)."""
    if not file:
        return ""
    module = file.removesuffix(".py").replace("/", ".")
    classes = classname[len(module) + 1 :].replace(".", "::") if classname != module else ""
    return "::".join(part for part in (file, classes, name) if part)


def _normal_id(test_id: str) -> str:
    """Drop heron's loop parameter (``[asyncio]``) so ids match the upstream run's."""
    name, bracket, params = test_id.partition("[")
    if not bracket:
        return test_id
    parts = [p for p in params[:-1].split("-") if p != "asyncio"]
    return f"{name}[{'-'.join(parts)}]" if parts else name


# ---------------------------------------------------------------------- comparing


@dataclass
class Result:
    """One plugin's numbers."""

    plugin: Plugin
    version: str
    upstream: int  # tests passing on aiohttp
    on_heron: int  # of those, passing on heron
    unexplained: list[str]
    explained: list[str]
    stale: list[str]
    flaky: list[str]  # failed on heron, passed when run again

    @property
    def ratio(self) -> float:
        return self.on_heron / self.upstream if self.upstream else 1.0


def read_baseline(plugin: Plugin) -> dict[str, str]:
    """``baseline/<key>.txt``: test id -> reason."""
    return read_reasons(BASELINES / f"{plugin.key}.txt")


def write_baseline(plugin: Plugin, failing: list[str], old: dict[str, str]) -> None:
    path = BASELINES / f"{plugin.key}.txt"
    BASELINES.mkdir(exist_ok=True)
    header = (
        f"# {plugin.dist} tests that pass on aiohttp and not on heron: `test id  # reason`.\n"
        "# Reasons: internals poked (the test reaches into the plugin's private names or\n"
        "# aiohttp's), or a deliberate difference listed in the battery's doc.\n"
    )
    lines = [f"{t}  # {old.get(t) or 'TODO: reason'}\n" for t in sorted(failing)]
    path.write_text(header + "".join(lines), encoding="utf-8")


def check(plugin: Plugin, k: str | None, record: bool, keep: bool) -> Result:
    version, root = fetch(plugin)
    install(plugin, version)
    extra = ["-k", k] if k else []
    baseline = read_baseline(plugin)
    outcomes = {}
    for side in ("upstream", "heron"):
        work = CACHE / "run" / plugin.key / side
        prepare(plugin, root, work, heron=side == "heron")
        outcomes[side] = run(work, heron=side == "heron", extra=extra)
    upstream = {t for t, o in outcomes["upstream"].items() if o.result == "passed"}
    on_heron = outcomes["heron"]

    def failing_on_heron() -> list[str]:
        return sorted(t for t in upstream if t not in on_heron or on_heron[t].result != "passed")

    # Timing-sensitive tests on a loaded machine: an unexplained failure gets one more run.
    again = [on_heron[t].node for t in failing_on_heron() if t not in baseline and t in on_heron]
    flaky: list[str] = []
    if again:
        work = CACHE / "run" / plugin.key / "heron"
        for test_id, outcome in run(work, heron=True, extra=[], nodes=again).items():
            if outcome.result == "passed" and test_id in on_heron:
                flaky.append(test_id)
                on_heron[test_id] = outcome
    if not keep:
        for side in ("upstream", "heron"):
            shutil.rmtree(CACHE / "run" / plugin.key / side / "tests", ignore_errors=True)
    failing = failing_on_heron()
    if record and not k:
        write_baseline(plugin, failing, baseline)
        baseline = read_baseline(plugin)
    return Result(
        plugin,
        version,
        upstream=len(upstream),
        on_heron=len(upstream) - len(failing),
        unexplained=[t for t in failing if t not in baseline],
        explained=[t for t in failing if t in baseline],
        stale=sorted(t for t in baseline if t in upstream and t not in failing),
        flaky=sorted(flaky),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    keys = [p.key for p in PLUGINS]
    parser.add_argument("plugins", nargs="*", help=f"some of {', '.join(keys)} (default: all)")
    parser.add_argument("-k", help="pytest -k expression (a subset; no ratio check)")
    parser.add_argument("--record", action="store_true", help="rewrite the baselines")
    parser.add_argument("--keep", action="store_true", help="keep the rewritten tests")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    ns = parser.parse_args(argv)
    unknown = set(ns.plugins) - set(keys)
    if unknown:
        parser.error(f"unknown plugin(s) {', '.join(sorted(unknown))}; choose from {keys}")
    chosen = [p for p in PLUGINS if not ns.plugins or p.key in ns.plugins]
    results = [check(p, ns.k, ns.record, ns.keep or bool(ns.k)) for p in chosen]

    ok = True
    print("\nplugin suites: tests passing on aiohttp that pass on heron")
    for r in results:
        bar = r.ratio >= REQUIRED or bool(ns.k)
        ok = ok and bar and not r.unexplained
        print(
            f"  {r.plugin.dist} {r.version} ({r.plugin.key}): {r.on_heron}/{r.upstream} "
            f"= {r.ratio:.1%}{'' if bar else f'  BELOW {REQUIRED:.0%}'}"
            f"; {len(r.explained)} in the baseline"
        )
        for test_id in r.unexplained:
            print(f"    NOT IN BASELINE: {test_id}")
        for test_id in r.flaky:
            print(f"    flaky (failed, then passed when run again): {test_id}")
        for test_id in r.stale:
            print(f"    passes now (remove from baseline/{r.plugin.key}.txt): {test_id}")
    upstream = sum(r.upstream for r in results)
    on_heron = sum(r.on_heron for r in results)
    overall = on_heron / upstream if upstream else 1.0
    ok = ok and (overall >= REQUIRED or bool(ns.k))
    print(f"  overall: {on_heron}/{upstream} = {overall:.1%}")
    if ns.json:
        numbers = {
            r.plugin.key: {"version": r.version, "upstream": r.upstream, "heron": r.on_heron}
            for r in results
        }
        ns.json.write_text(json.dumps(numbers, indent=2), encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
