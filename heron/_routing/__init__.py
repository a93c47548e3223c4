"""The pure router core: path templates, the compiled route table, URL formatting.

Layer L1: imports nothing from asyncio, ``heron._io`` or ``heron._web``. The web layer
(``heron._web.urldispatcher``) wraps it in aiohttp's classes.
"""

from .table import (
    Candidate,
    OpaquePattern,
    PlainPattern,
    RegexPattern,
    RouteTable,
    compile_table,
    decode_value,
)
from .template import DEFAULT_PART_RE, Template, Var, has_variables, parse_template

__all__ = (
    "DEFAULT_PART_RE",
    "Candidate",
    "OpaquePattern",
    "PlainPattern",
    "RegexPattern",
    "RouteTable",
    "Template",
    "Var",
    "compile_table",
    "decode_value",
    "has_variables",
    "parse_template",
)
