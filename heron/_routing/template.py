"""Path templates: ``/users/{name}``, ``/files/{id:\\d+}``, ``/static/{tail:.+}``.

A template is split into literal text and variables, following aiohttp's grammar:

* a variable is ``{name}`` or ``{name:regex}``; ``name`` is an ASCII identifier;
* the regex may hold one level of nested braces (``{id:\\d{4}}``);
* a variable without a regex matches one path segment, :data:`DEFAULT_PART_RE`;
* any other ``{`` or ``}`` is an error.

This module is pure: it knows nothing about quoting, requests or handlers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

__all__ = (
    "DEFAULT_PART_RE",
    "Part",
    "Template",
    "Var",
    "has_variables",
    "parse_template",
)

#: What ``{name}`` matches: one non-empty path segment without braces.
DEFAULT_PART_RE: Final = r"[^{}/]+"

# A variable, allowing one level of braces inside its regex (aiohttp's grammar).
_VAR_SPLIT_RE: Final = re.compile(r"(\{[_a-zA-Z][^{}]*(?:\{[^{}]*\}[^{}]*)*\})")
_VAR_RE: Final = re.compile(r"\{(?P<name>[_a-zA-Z][_a-zA-Z0-9]*)\}")
_VAR_WITH_RE_RE: Final = re.compile(r"\{(?P<name>[_a-zA-Z][_a-zA-Z0-9]*):(?P<re>.+)\}")


@dataclass(frozen=True, slots=True)
class Var:
    """A variable of a template: its name and the regex its value must match."""

    name: str
    regex: str = DEFAULT_PART_RE


Part = str | Var


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed path template: literal strings and :class:`Var` in order."""

    source: str
    parts: tuple[Part, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The variable names, in order."""
        return tuple(p.name for p in self.parts if isinstance(p, Var))

    def map_literals(self, func: Callable[[str], str]) -> Template:
        """Return a template whose literal parts are ``func(literal)``."""
        parts = tuple(p if isinstance(p, Var) else func(p) for p in self.parts)
        return Template(self.source, parts)

    def literal_prefix(self) -> str:
        """The literal text before the first variable."""
        first = self.parts[0] if self.parts else ""
        return first if isinstance(first, str) else ""

    def regex_source(self) -> str:
        """A regex (for ``fullmatch``) with one named group per variable."""
        out = []
        for part in self.parts:
            if isinstance(part, Var):
                out.append(f"(?P<{part.name}>{part.regex})")
            else:
                out.append(re.escape(part))
        return "".join(out)

    def compile(self) -> re.Pattern[str]:
        """The compiled :meth:`regex_source`."""
        return re.compile(self.regex_source())

    def format(self, values: Mapping[str, str]) -> str:
        """Fill the variables with ``values`` (already quoted); KeyError if one is missing."""
        return "".join(values[p.name] if isinstance(p, Var) else p for p in self.parts)

    def formatter(self) -> str:
        """The canonical form: literals as they are and variables as ``{name}``."""
        return "".join("{" + p.name + "}" if isinstance(p, Var) else p for p in self.parts)


def has_variables(path: str) -> bool:
    """Whether ``path`` must be parsed as a template (it holds a brace)."""
    return "{" in path or "}" in path


def parse_template(path: str) -> Template:
    """Parse ``path`` into a :class:`Template`.

    Raises ValueError for stray or unbalanced braces, bad variable names, a variable
    used twice, or a regex that does not compile.
    """
    parts: list[Part] = []
    seen: set[str] = set()
    for chunk in _VAR_SPLIT_RE.split(path):
        if not chunk:
            continue
        var = _parse_var(chunk)
        if var is None:
            if "{" in chunk or "}" in chunk:
                raise ValueError(f"Invalid path '{path}'['{chunk}']")
            parts.append(chunk)
            continue
        if var.name in seen:
            raise ValueError(f"Invalid path '{path}': variable {var.name!r} is used twice")
        seen.add(var.name)
        parts.append(var)
    template = Template(path, tuple(parts))
    try:
        re.compile(template.regex_source())
    except re.error as exc:
        raise ValueError(f"Bad pattern '{template.regex_source()}': {exc}") from None
    return template


def _parse_var(chunk: str) -> Var | None:
    if match := _VAR_RE.fullmatch(chunk):
        return Var(match.group("name"))
    if match := _VAR_WITH_RE_RE.fullmatch(chunk):
        return Var(match.group("name"), match.group("re"))
    return None
