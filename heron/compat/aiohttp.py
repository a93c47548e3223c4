"""Opt-in: plugins written against ``aiohttp.web`` receive heron's classes and functions.

``import heron.compat.aiohttp`` (before the plugins are imported) points the public names of
aiohttp's server modules — ``aiohttp.web`` and its ``web_*`` submodules, ``aiohttp.abc``,
aiohttp's multipart reader — at heron's objects of the same name.  A plugin that raises
``web.HTTPBadRequest``, returns ``web.json_response(...)``, subclasses ``web.View`` or checks
``isinstance(request, web.Request)`` then does so with heron's classes, on a heron app.

Why a switch and not something invisible: aiohttp's classes are not ABCs, so heron's
objects cannot be registered as their virtual subclasses, and converting aiohttp's
responses and exceptions where heron receives them would miss every middleware in between.
The cost is that the process serves heron applications only: after the switch
``aiohttp.web.Application`` is heron's.  aiohttp's client is untouched.  A module that
imported one of the names before the switch keeps aiohttp's object, hence "before".
:func:`uninstall` restores aiohttp's objects (for later imports; for tests).
docs/compat-plugins.md lists the plugins tried this way.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

__all__ = ("install", "installed", "uninstall")

#: heron's module -> the aiohttp modules whose names of the same meaning it replaces
#: (a trailing ``*`` matches the loaded submodules of that prefix).
_REPLACES = (
    ("heron.web", ("aiohttp.web", "aiohttp.web_*")),
    ("heron.abc", ("aiohttp.abc",)),
    ("heron.multipart", ("aiohttp.multipart", "aiohttp")),
)

_saved: list[tuple[ModuleType, str, object]] = []


def _targets(patterns: tuple[str, ...]) -> list[ModuleType]:
    modules = []
    for pattern in patterns:
        if pattern.endswith("*"):
            prefix = pattern[:-1]
            modules += [m for n, m in sorted(sys.modules.items()) if n.startswith(prefix)]
        else:
            modules.append(importlib.import_module(pattern))
    return modules


def install() -> None:
    """Point aiohttp's server-side names at heron's (idempotent)."""
    if _saved:
        return
    importlib.import_module("aiohttp.web")  # loads the web_* submodules to patch
    # aiohttp's own test kit binds these names when imported: loaded first, it keeps
    # aiohttp's objects (it tests aiohttp applications, which stay aiohttp's to build).
    importlib.import_module("aiohttp.test_utils")
    for heron_name, patterns in _REPLACES:
        heron_module = importlib.import_module(heron_name)
        public: tuple[str, ...] = heron_module.__all__
        for module in _targets(patterns):
            namespace = vars(module)
            for name in public:
                if name not in namespace:
                    continue
                new = getattr(heron_module, name)
                if namespace[name] is not new:
                    _saved.append((module, name, namespace[name]))
                    setattr(module, name, new)


def uninstall() -> None:
    """Give aiohttp's modules their own objects back."""
    while _saved:
        module, name, old = _saved.pop()
        setattr(module, name, old)


def installed() -> bool:
    """Whether aiohttp's names point at heron's now."""
    return bool(_saved)


install()
