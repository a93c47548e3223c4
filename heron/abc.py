"""heron.abc: the abstract base classes of aiohttp.abc that server code subclasses.

Only re-exports; the classes live in ``heron._web``.
"""

from ._web.abc import AbstractMatchInfo, AbstractResolver, AbstractRouter, ResolveResult
from ._web.log import AbstractAccessLogger
from ._web.view import AbstractView

__all__ = (
    "AbstractAccessLogger",
    "AbstractMatchInfo",
    "AbstractResolver",
    "AbstractRouter",
    "AbstractView",
    "ResolveResult",
)
