"""Byte ranges (RFC 9110 §14): a ``Range`` header against a representation's size.

:func:`parse_range` turns the header into the ranges to send, coalesced and bounded, or
into the decision to send everything (200) or to refuse (416).
:func:`byteranges_pieces` frames several ranges as ``multipart/byteranges`` (§14.6).
Digits are ASCII digits only.
"""

from __future__ import annotations

import secrets
from typing import Final, NamedTuple

from .._util.grammar import TCHARS

__all__ = (
    "MAX_RANGES",
    "ByteRanges",
    "Piece",
    "byteranges_pieces",
    "content_range",
    "parse_range",
    "unsatisfied_range",
)

#: Most range-specs honoured in one request; with more, the Range header is ignored (200),
#: as RFC 9110 §14.2 allows for requests that look like a denial-of-service attempt.
MAX_RANGES: Final = 32
#: Ranges closer than this are sent as one part: a part's own head costs about as much.
COALESCE_GAP: Final = 80
# A number longer than this is larger than any file (and int() of a huge string is slow).
_MAX_DIGITS: Final = 18
_HUGE: Final = 10**_MAX_DIGITS
_TCHAR: Final = frozenset(TCHARS)

#: Something to send: literal bytes, or ``(offset, count)`` bytes of the file.
Piece = bytes | tuple[int, int]


class ByteRanges(NamedTuple):
    """What to do with a Range header.

    ``status`` is 200 (send the whole representation; ``ranges`` is empty), 206 (send
    ``ranges``, half-open ``(start, stop)`` pairs in the order asked for) or 416.
    """

    status: int
    ranges: tuple[tuple[int, int], ...] = ()


_WHOLE: Final = ByteRanges(200)
_UNSATISFIABLE: Final = ByteRanges(416)


def _number(text: str) -> int | None:
    if not text or not text.isascii() or not text.isdigit():
        return None
    if len(text) > _MAX_DIGITS:
        return _HUGE
    return int(text)


def parse_range(raw: str, size: int) -> ByteRanges:
    """Decide how to answer ``Range: raw`` for a representation of ``size`` bytes.

    * an unknown range unit, or more than :data:`MAX_RANGES` ranges: 200 (§14.2 says to
      ignore the former and allows ignoring the latter);
    * a malformed ``bytes`` range set, or none satisfiable (§14.1.1): 416;
    * otherwise 206 with the satisfiable ranges, clipped to the size, overlapping or
      nearby ranges merged (§14.6 allows coalescing), in the order first asked for.
    """
    unit, sep, spec = raw.strip(" \t").partition("=")
    if not sep or not unit or not set(unit) <= _TCHAR:
        return _UNSATISFIABLE
    if unit.lower() != "bytes":
        return _WHOLE
    wanted: list[tuple[int, int]] = []
    suffix_on_empty = False
    count = 0
    for element in spec.split(","):
        element = element.strip(" \t")
        if not element:
            continue  # empty list elements are allowed (§5.6.1.2)
        count += 1
        if count > MAX_RANGES:
            return _WHOLE
        first_text, dash, last_text = element.partition("-")
        if not dash:
            return _UNSATISFIABLE
        if not first_text:
            suffix = _number(last_text)
            if suffix is None:
                return _UNSATISFIABLE
            if suffix > 0:
                if size == 0:
                    suffix_on_empty = True
                else:
                    wanted.append((max(0, size - suffix), size))
            continue
        first = _number(first_text)
        last = _number(last_text) if last_text else None
        if first is None or (last_text and last is None):
            return _UNSATISFIABLE
        if last is not None and last < first:
            return _UNSATISFIABLE  # an invalid range-spec (§14.1.1)
        if first < size:
            wanted.append((first, size if last is None else min(last + 1, size)))
    if not wanted:
        # A suffix range on an empty representation is satisfiable but selects nothing
        # a 206 can describe: send the (empty) whole.
        return _WHOLE if suffix_on_empty else _UNSATISFIABLE
    return ByteRanges(206, _coalesce(wanted))


def _coalesce(wanted: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Merge ranges that overlap or nearly touch; keep the order of first appearance."""
    if len(wanted) == 1:
        return (wanted[0],)
    order = sorted(range(len(wanted)), key=lambda i: wanted[i])
    groups: list[list[int]] = []  # [start, stop, first index]
    for i in order:
        start, stop = wanted[i]
        if groups and start <= groups[-1][1] + COALESCE_GAP:
            group = groups[-1]
            group[1] = max(group[1], stop)
            group[2] = min(group[2], i)
        else:
            groups.append([start, stop, i])
    groups.sort(key=lambda g: g[2])
    return tuple((g[0], g[1]) for g in groups)


def content_range(start: int, stop: int, size: int) -> str:
    """``Content-Range`` for the half-open range ``[start, stop)`` (§14.4)."""
    return f"bytes {start}-{stop - 1}/{size}"


def unsatisfied_range(size: int) -> str:
    """``Content-Range`` of a 416 response (§14.4, §15.5.17)."""
    return f"bytes */{size}"


def byteranges_pieces(
    ranges: tuple[tuple[int, int], ...], size: int, content_type: str
) -> tuple[str, list[Piece], int]:
    """Frame ``ranges`` as a ``multipart/byteranges`` body (RFC 9110 §14.6).

    Returns the response's Content-Type, the body as literal bytes and file segments, and
    the body's exact length.
    """
    boundary = secrets.token_hex(16)
    pieces: list[Piece] = []
    total = 0
    for index, (start, stop) in enumerate(ranges):
        part_head = (b"\r\n" if index else b"") + (
            f"--{boundary}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Range: {content_range(start, stop, size)}\r\n\r\n"
        ).encode("utf-8", "surrogateescape")
        pieces.append(part_head)
        pieces.append((start, stop - start))
        total += len(part_head) + stop - start
    closing = f"\r\n--{boundary}--\r\n".encode("ascii")
    pieces.append(closing)
    total += len(closing)
    return f"multipart/byteranges; boundary={boundary}", pieces, total
