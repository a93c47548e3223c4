"""The route-table compiler: an ordered list of patterns in, a fast matcher out.

Candidate order reproduces aiohttp's resolver exactly. aiohttp indexes every resource under
a *key* (its literal text up to the last ``/`` before the first variable) and, for a path,
walks the path's segment prefixes from the longest to ``/``, trying the resources of each
key in registration order. A resource can only match paths that its key is a segment prefix
of, so the same order is "longest key first, then registration order", whatever the path.

Compiled form:

* every path that equals a plain pattern maps, in one dict, to the full ordered list of its
  candidates, computed at compile time (dynamic patterns that also match it included);
* other paths walk their segment prefixes, longest first, as aiohttp does; each prefix is
  one dict lookup for the few *steps* indexed under that key, usually one regex that joins
  the key's dynamic patterns as alternatives, so matching cost does not grow with the
  number of routes;
* *opaque* entries (sub-applications, static directories: anything that must resolve
  itself) keep their place in the order; the caller resolves them.

The payload type ``T`` is the caller's (a resource); this module never looks into it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from .template import Part, Template, Var

__all__ = (
    "Candidate",
    "OpaquePattern",
    "PlainPattern",
    "RegexPattern",
    "RouteTable",
    "compile_table",
    "decode_value",
)

T = TypeVar("T")

#: A candidate for a path: the payload and its match dict, or None for an opaque entry.
Candidate = tuple[T, "dict[str, str] | None"]

_ROOT: Final = "/"
# Regex features that break when a pattern becomes one alternative among others.
_NOT_JOINABLE_RE: Final = re.compile(r"\\[0-9]|\(\?P=|\(\?\(")


@dataclass(frozen=True, slots=True)
class PlainPattern:
    """Matches exactly ``path``."""

    path: str

    @property
    def key(self) -> str:
        """The index key (see the module docstring)."""
        return self.path.rstrip("/") or _ROOT


@dataclass(frozen=True, slots=True)
class RegexPattern:
    """Matches the template's regex; values come back by variable name."""

    template: Template

    @property
    def key(self) -> str:
        """The index key (see the module docstring)."""
        return self.template.literal_prefix().rpartition("/")[0].rstrip("/") or _ROOT


@dataclass(frozen=True, slots=True)
class OpaquePattern:
    """An entry the caller resolves itself, visited for paths under ``prefix``."""

    prefix: str

    @property
    def key(self) -> str:
        """The index key (see the module docstring)."""
        return self.prefix.rstrip("/") or _ROOT


Pattern = PlainPattern | RegexPattern | OpaquePattern


def decode_value(value: str) -> str:
    """Decode a matched value the way aiohttp does: only ``%2F`` and ``%25`` remain encoded
    in the path that is matched, so only they are decoded here."""
    if "%" not in value:
        return value
    return value.replace("%2F", "/").replace("%25", "%")


def _visits(key: str, path: str) -> bool:
    """Whether aiohttp's walk over ``path`` looks at ``key``."""
    return key == _ROOT or path == key or path.startswith(key + "/")


class _Step(Generic[T]):
    """One piece of a bucket: yields the first candidate, or all of them."""

    __slots__ = ()

    def first(self, path: str) -> Candidate[T] | None:
        raise NotImplementedError

    def scan(self, path: str, out: list[Candidate[T]]) -> None:
        raise NotImplementedError


class _OpaqueStep(_Step[T]):
    __slots__ = ("_key", "_payload")

    def __init__(self, payload: T, key: str) -> None:
        self._payload = payload
        self._key = key

    def first(self, path: str) -> Candidate[T] | None:
        return (self._payload, None) if _visits(self._key, path) else None

    def scan(self, path: str, out: list[Candidate[T]]) -> None:
        if _visits(self._key, path):
            out.append((self._payload, None))


class _RegexStep(_Step[T]):
    """Several regex patterns joined as alternatives of a single regex."""

    __slots__ = ("_alternatives", "_regex", "_singles")

    def __init__(self, entries: Sequence[tuple[RegexPattern, T]]) -> None:
        sources = []
        for i, (pattern, _) in enumerate(entries):
            sources.append(f"(?P<_a{i}>{_renamed_source(pattern.template, i)})")
        regex = re.compile("|".join(sources))
        index = regex.groupindex
        alternatives: dict[int, tuple[T, tuple[str, ...], tuple[int, ...]]] = {}
        for i, (pattern, payload) in enumerate(entries):
            names = pattern.template.names
            nums = tuple(index[f"_{i}_{j}"] for j in range(len(names)))
            alternatives[index[f"_a{i}"]] = (payload, names, nums)
        self._regex = regex
        self._alternatives = alternatives
        self._singles = [(re.compile(p.template.regex_source()), t) for p, t in entries]

    def first(self, path: str) -> Candidate[T] | None:
        # PERF: "dynamic route among 50 routes": one C-level fullmatch picks the first
        # matching pattern of the bucket instead of a Python loop over all of them.
        match = self._regex.fullmatch(path)
        if match is None:
            return None
        # The wrapping group of the alternative closes last, so it is ``lastindex``.
        payload, names, nums = self._alternatives[match.lastindex]  # type: ignore[index]
        if len(nums) == 1:
            # PERF: "dynamic route among 50 routes": the common one-variable case
            # avoids zip() and the tuple of values.
            value = match.group(nums[0])
            return payload, {names[0]: decode_value(value) if "%" in value else value}
        values = match.group(*nums) if nums else ()
        if "%" in path:
            values = tuple(decode_value(v) for v in values)
        return payload, dict(zip(names, values))  # noqa: B905 (same length by construction)

    def scan(self, path: str, out: list[Candidate[T]]) -> None:
        for regex, payload in self._singles:
            if (match := regex.fullmatch(path)) is not None:
                out.append((payload, _decoded(match.groupdict())))


class _SingleRegexStep(_Step[T]):
    """A regex that must stay alone (it has backreferences or named groups of its own)."""

    __slots__ = ("_payload", "_regex")

    def __init__(self, pattern: RegexPattern, payload: T) -> None:
        self._regex = re.compile(pattern.template.regex_source())
        self._payload = payload

    def first(self, path: str) -> Candidate[T] | None:
        match = self._regex.fullmatch(path)
        if match is None:
            return None
        return self._payload, _decoded(match.groupdict())

    def scan(self, path: str, out: list[Candidate[T]]) -> None:
        if (hit := self.first(path)) is not None:
            out.append(hit)


def _decoded(groups: dict[str, str | None]) -> dict[str, str]:
    return {k: decode_value(v) for k, v in groups.items() if v is not None}


def _renamed_source(template: Template, alt: int) -> str:
    renamed: list[Part] = []
    j = 0
    for part in template.parts:
        if isinstance(part, Var):
            renamed.append(Var(f"_{alt}_{j}", part.regex))
            j += 1
        else:
            renamed.append(part)
    return Template(template.source, tuple(renamed)).regex_source()


def _joinable(pattern: RegexPattern) -> bool:
    for part in pattern.template.parts:
        if isinstance(part, Var) and (
            _NOT_JOINABLE_RE.search(part.regex) or re.compile(part.regex).groupindex
        ):
            return False
    return True


def _build_steps(entries: Sequence[tuple[Pattern, T]]) -> tuple[_Step[T], ...]:
    steps: list[_Step[T]] = []
    run: list[tuple[RegexPattern, T]] = []

    def flush() -> None:
        if run:
            steps.append(_RegexStep(list(run)))
            run.clear()

    for pattern, payload in entries:
        if isinstance(pattern, RegexPattern):
            if _joinable(pattern):
                run.append((pattern, payload))
            else:
                flush()
                steps.append(_SingleRegexStep(pattern, payload))
        elif isinstance(pattern, OpaquePattern):
            flush()
            steps.append(_OpaqueStep(payload, pattern.key))
        # Plain patterns are served by the exact-path dict only.
    flush()
    return tuple(steps)


def _key_walk(path: str) -> list[str]:
    """The keys aiohttp's walk visits for ``path``, longest first (the root excluded)."""
    keys = []
    part = path
    while part:
        keys.append(part)
        part = part[: part.rfind("/")]
    return keys


class RouteTable(Generic[T]):
    """A compiled route table. Build it with :func:`compile_table`."""

    __slots__ = ("_by_key", "_plain", "_root_steps")

    def __init__(
        self,
        plain: dict[str, tuple[Candidate[T], ...]],
        by_key: dict[str, tuple[_Step[T], ...]],
        root_steps: tuple[_Step[T], ...],
    ) -> None:
        self._plain = plain
        self._by_key = by_key
        self._root_steps = root_steps

    def first(self, path: str) -> Candidate[T] | None:
        """The first candidate for ``path`` in aiohttp's order, or None if there is none.

        ``path`` is the request path as aiohttp matches it (yarl's ``path_safe``). A
        candidate whose match dict is None is opaque: the caller must resolve it, then go
        on with :meth:`scan`.
        """
        # PERF: "plaintext": a plain path is one dict lookup, with no regex work.
        candidates = self._plain.get(path)
        if candidates is not None:
            return candidates[0]
        # PERF: "dynamic route among 50 routes" / routes-1000: one dict lookup per path
        # segment finds the few patterns indexed under that prefix, so the cost does not
        # grow with the number of routes.
        by_key = self._by_key
        part = path
        while part:
            steps = by_key.get(part)
            if steps is not None:
                for step in steps:
                    if (hit := step.first(path)) is not None:
                        return hit
            part = part[: part.rfind("/")]
        for step in self._root_steps:
            if (hit := step.first(path)) is not None:
                return hit
        return None

    def scan(self, path: str) -> list[Candidate[T]]:
        """All candidates for ``path`` in order (for 405s and opaque entries)."""
        candidates = self._plain.get(path)
        if candidates is not None:
            return list(candidates)
        out: list[Candidate[T]] = []
        for key in _key_walk(path):
            for step in self._by_key.get(key, ()):
                step.scan(path, out)
        for step in self._root_steps:
            step.scan(path, out)
        return out


def compile_table(entries: Sequence[tuple[Pattern, T]]) -> RouteTable[T]:
    """Compile ``entries`` (in registration order) into a :class:`RouteTable`."""
    grouped: dict[str, list[tuple[Pattern, T]]] = {}
    for entry in entries:
        grouped.setdefault(entry[0].key, []).append(entry)
    root = grouped.pop(_ROOT, [])
    by_key = {key: _build_steps(group) for key, group in grouped.items()}
    root_steps = _build_steps(root)

    regexes = {
        pattern: re.compile(pattern.template.regex_source())
        for pattern, _ in entries
        if isinstance(pattern, RegexPattern)
    }
    plain: dict[str, tuple[Candidate[T], ...]] = {}
    for pattern, _ in entries:
        if isinstance(pattern, PlainPattern) and pattern.path not in plain:
            visited = [e for key in _key_walk(pattern.path) for e in grouped.get(key, ())]
            plain[pattern.path] = _candidates_of(pattern.path, visited + root, regexes)
    return RouteTable(plain, by_key, root_steps)


def _candidates_of(
    path: str,
    entries: Sequence[tuple[Pattern, T]],
    regexes: dict[RegexPattern, re.Pattern[str]],
) -> tuple[Candidate[T], ...]:
    """The ordered candidates for one concrete path, computed once at compile time."""
    out: list[Candidate[T]] = []
    for pattern, payload in entries:
        if isinstance(pattern, PlainPattern):
            if pattern.path == path:
                out.append((payload, {}))
        elif isinstance(pattern, OpaquePattern):
            if _visits(pattern.key, path):
                out.append((payload, None))
        elif (match := regexes[pattern].fullmatch(path)) is not None:
            out.append((payload, _decoded(match.groupdict())))
    return tuple(out)
