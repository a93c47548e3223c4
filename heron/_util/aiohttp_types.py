"""Recognising aiohttp's objects without importing aiohttp.

Code written for aiohttp.web (plugins, test suites) hands heron aiohttp's own objects; heron
tells them apart by class name and module, so it never imports aiohttp to do so.
"""

from __future__ import annotations

__all__ = ("is_aiohttp_instance",)


def is_aiohttp_instance(obj: object, name: str) -> bool:
    """Whether ``obj`` is an instance of aiohttp's class ``name`` (or of a subclass of it)."""
    return any(
        cls.__name__ == name and cls.__module__.startswith("aiohttp.") for cls in type(obj).__mro__
    )
