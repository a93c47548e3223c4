"""The layering rules of docs/design.md, checked on the source."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import heron

ROOT = Path(heron.__file__).parent

# layer of each top-level part of the package; lower may not import higher.
LAYERS = {
    "_util": 0,
    "hdrs": 0,
    "_version": 0,
    "_proto": 1,
    "_routing": 1,
    "_io": 2,
    "_web": 3,
}
NO_ASYNCIO = {"_proto", "_routing", "_util"}
# Modules that run in the supervisor of ``--workers``, which has no event loop: the asyncio
# parts of a worker live in worker_process.py.
NO_ASYNCIO_MODULES = {"_web/supervisor.py", "_web/listeners.py"}


def _modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py"))


def _part_of(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0].removesuffix(".py")


def _imported_parts(path: Path) -> set[str]:
    """heron parts imported at module level (TYPE_CHECKING blocks excluded)."""
    tree = ast.parse(path.read_text())
    parts: set[str] = set()
    package = path.relative_to(ROOT.parent).with_suffix("").parts[:-1]
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.ImportFrom):
                if sub.level:
                    base = list(package[: len(package) - sub.level + 1])
                    target = [*base, *(sub.module.split(".") if sub.module else [])]
                    if target[:1] == ["heron"] and len(target) > 1:
                        parts.add(target[1])
                    elif target == ["heron"]:
                        parts.update(alias.name for alias in sub.names)
                elif sub.module and sub.module.startswith("heron."):
                    parts.add(sub.module.split(".")[1])
            elif isinstance(sub, ast.Import):
                for alias in sub.names:
                    if alias.name.startswith("heron."):
                        parts.add(alias.name.split(".")[1])
                    if alias.name == "asyncio":
                        parts.add("<asyncio>")
            if isinstance(sub, ast.ImportFrom) and sub.module == "asyncio":
                parts.add("<asyncio>")
    return parts


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path: Path) -> None:
    part = _part_of(path)
    layer = LAYERS.get(part)
    imported = _imported_parts(path)
    if part in NO_ASYNCIO or str(path.relative_to(ROOT)) in NO_ASYNCIO_MODULES:
        assert "<asyncio>" not in imported, f"{path} imports asyncio"
    if layer is None:
        return  # L4: facade, client, test kit may use anything public
    for other in imported - {"<asyncio>", part}:
        other_layer = LAYERS.get(other)
        assert other_layer is not None, f"{path} (L{layer}) imports heron.{other} (L4)"
        assert other_layer <= layer, f"{path} (L{layer}) imports heron.{other} (L{other_layer})"


def _dotted(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def test_every_module_imports_alone() -> None:
    """Each module imports in a fresh interpreter (no hidden import-order cycles)."""
    names = [_dotted(p) for p in _modules() if p.name != "__main__.py"]
    code = (
        "import importlib, subprocess, sys\n"
        "bad = []\n"
        "for name in sys.argv[1:]:\n"
        "    r = subprocess.run([sys.executable, '-c', f'import {name}'], capture_output=True)\n"
        "    if r.returncode: bad.append((name, r.stderr.decode()[-400:]))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *names], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
