"""heron: an asyncio web server framework with aiohttp.web's API.

``from heron import web`` is a drop-in for ``from aiohttp import web``.
"""

from ._version import __version__

__all__ = ("__version__",)
