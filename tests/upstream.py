"""What the harnesses that run upstream test suites against heron share.

tests/peer/aiohttp_suite.py runs aiohttp's server tests, tests/plugins/suite.py the suites of
the plugins heron builds in. Both get an sdist from PyPI (:func:`download_sdist`), take the
server side of the tests from heron (:func:`use_heron_web`), read the outcomes from
pytest's junit report (:func:`junit_results`) and keep the reason of each test that cannot
pass on heron in a file of ``test-id  # reason`` lines (:func:`read_reasons`).
"""

from __future__ import annotations

import functools
import importlib
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import aiohttp.web

import heron.client
import heron.multipart
import heron.web

# ---------------------------------------------------------------------- PyPI and pytest


def pip(*args: str) -> None:
    """Run pip of this environment (CalledProcessError when it fails)."""
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args], check=True)


def download_sdist(requirement: str, dest: Path) -> Path:
    """Download the sdist of ``requirement`` (no dependencies) into ``dest``; its path."""
    pip(
        "download", "--quiet", "--no-deps", "--no-binary", ":all:", "--dest", str(dest), requirement
    )
    (sdist,) = dest.glob("*.tar.gz")
    return sdist


def junit_results(report: Path) -> Iterator[tuple[ET.Element, str]]:
    """Each test case of a junit report with its result: passed, failed or skipped."""
    for case in ET.parse(report).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            yield case, "failed"
        elif case.find("skipped") is not None:
            yield case, "skipped"
        else:
            yield case, "passed"


def read_reasons(path: Path) -> dict[str, str]:
    """A file of ``test-id  # reason`` lines (``#`` comments): test id -> reason."""
    reasons: dict[str, str] = {}
    if not path.exists():
        return reasons
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        test_id, sep, reason = line.partition("  # ")
        if not sep or not reason.strip():
            raise SystemExit(f"{path.name}:{number}: no '  # reason' after the test id")
        reasons[test_id.strip()] = reason.strip()
    return reasons


# ---------------------------------------------------------------------- heron's web

# `from aiohttp[.module] import (a, b)` in any layout: the module, and the name list.
_FROM_AIOHTTP = re.compile(
    r"^from (aiohttp(?:\.\w+)?) import (\((?:[^)]*)\)|[^\n]*)$", re.MULTILINE
)


def _heron_module(aiohttp_module: str) -> str | None:
    """Where heron offers the public names of one of aiohttp's modules, if anywhere."""
    if aiohttp_module == "aiohttp.web" or aiohttp_module.startswith("aiohttp.web_"):
        return "heron.web"  # aiohttp.web re-exports its web_* modules' public names
    if aiohttp_module == "aiohttp.helpers":
        return "heron.web"  # the public types it defines that aiohttp.web's objects use (ETag)
    if aiohttp_module in ("aiohttp.test_utils", "aiohttp.abc"):
        return "heron." + aiohttp_module.partition(".")[2]
    return None


def use_heron_web(source: str) -> str:
    """Take the server side from heron, the way an app's test suite would switch.

    ``web`` comes from heron instead of ``aiohttp``; a name imported from ``aiohttp.web``,
    one of its ``aiohttp.web_*`` modules, ``aiohttp.test_utils`` or ``aiohttp.abc`` comes from
    heron's module of that name when heron has it (private names and the ones heron lacks
    stay aiohttp's, so a missing name shows up as a failing test, not an import error), and
    so does a name of the package that is aiohttp.web's own object (``aiohttp.WSMsgType``).
    """

    def one(match: re.Match[str]) -> str:
        module, names_text = match.group(1), match.group(2)
        names = [n.strip() for n in names_text.strip("()").replace("\n", " ").split(",")]
        names = [n for n in names if n and not n.startswith("#")]
        lines = []
        if module in ("aiohttp", "aiohttp.http"):
            # `web` itself, and what aiohttp.web re-exports from the package (WSMsgType).
            if "web" in names:
                names.remove("web")
                lines.append("from heron import web")
            taken = [n for n in names if n.split(" as ")[0] in _web_reexports()]
            target = "heron.web"
        else:
            heron_module = _heron_module(module)
            if heron_module is None:
                return match.group(0)
            offered = importlib.import_module(heron_module)
            taken = [
                n
                for n in names
                if not n.split(" as ")[0].startswith("_") and hasattr(offered, n.split(" as ")[0])
            ]
            target = heron_module
        if not lines and not taken:
            return match.group(0)
        rest = [n for n in names if n not in taken]
        if rest:
            lines.insert(0, f"from {module} import {', '.join(rest)}")
        if taken:
            lines.append(f"from {target} import {', '.join(taken)}")
        return "\n".join(lines)

    source = _FROM_AIOHTTP.sub(one, source)
    # `aiohttp.web.X` (attribute access through the package) means heron's web as well,
    # and so does `aiohttp.web_request.X` for a name heron's web has.
    source = re.sub(r"\baiohttp\.web\.", "web.", source)
    source = re.sub(
        r"(?<![\"'])\baiohttp\.web_\w+\.(\w+)\b",  # not a dotted path in a string (mock.patch)
        lambda m: f"web.{m.group(1)}" if hasattr(heron.web, m.group(1)) else m.group(0),
        source,
    )
    # `multipart.MultipartReader` (after `from aiohttp import multipart`): the readers are
    # the server's side, heron.multipart's; the writers stay aiohttp's (the client's side).
    if re.search(r"^from aiohttp import .*\bmultipart\b", source, re.MULTILINE):
        source = re.sub(
            r"\bmultipart\.(\w+)\b",
            lambda m: (
                f"heron.multipart.{m.group(1)}"
                if m.group(1) in heron.multipart.__all__
                else m.group(0)
            ),
            source,
        )
        source = "import heron.multipart\n" + source
    # `aiohttp.WSMsgType` (or `aiohttp.http.WSMsgType`) is the very object aiohttp.web
    # re-exports: heron's web has it.
    reexported = _web_reexports()
    source = re.sub(
        r"(?<![\"'])\baiohttp\.(?:http\.)?(\w+)\b",
        lambda m: f"web.{m.group(1)}" if m.group(1) in reexported else m.group(0),
        source,
    )
    # The fixtures' client is heron's: an exception it raises is heron.client's. A test
    # expecting aiohttp's client exception accepts heron's of the same name as well.
    return _RAISES_CLIENT_ERROR.sub(_either_client_error, source)


# `pytest.raises(aiohttp.Name` / `except client.Name`: a client exception expected.
_RAISES_CLIENT_ERROR = re.compile(r"(pytest\.raises\(\s*|except\s+)((?:aiohttp|client)\.(\w+))")


def _either_client_error(match: re.Match[str]) -> str:
    before, expected, name = match.groups()
    theirs, ours = getattr(aiohttp, name, None), getattr(heron.client, name, None)
    is_error = isinstance(theirs, type) and issubclass(theirs, BaseException)
    if not is_error or not isinstance(ours, type):
        return match.group(0)
    return f"{before}({expected}, __import__('heron.client').client.{name})"


@functools.cache
def _web_reexports() -> frozenset[str]:
    """Names of the ``aiohttp`` package that are aiohttp.web's own objects and heron's web has."""
    return frozenset(
        name
        for name in dir(aiohttp)
        if not name.startswith("_")
        and name != "web"
        and getattr(aiohttp.web, name, None) is getattr(aiohttp, name)
        and hasattr(heron.web, name)
    )
