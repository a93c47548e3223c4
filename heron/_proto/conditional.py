"""Validators and preconditions (RFC 9110 §8.8, §13), and ``Accept-Encoding`` (§12.5.3).

Pure functions over header text: entity-tag lists, HTTP-dates, the precondition
evaluation order of §13.2.2, ``If-Range`` (§13.1.5) and content-coding preferences.
Digits are ASCII digits only (``str.isdigit`` and ``int`` accept other scripts' digits;
nothing here does), so every recipient of a header reads the same value.
"""

from __future__ import annotations

import calendar
import re
import time
from typing import Final, NamedTuple

from .._util.grammar import TOKEN

__all__ = (
    "ANY_TAG",
    "NOT_MODIFIED",
    "PRECONDITION_FAILED",
    "PROCEED",
    "EntityTag",
    "Preconditions",
    "coding_weight",
    "evaluate_preconditions",
    "if_range_holds",
    "parse_accept_encoding",
    "parse_entity_tags",
    "parse_http_date",
)

#: Outcomes of :func:`evaluate_preconditions` (0, or the status to answer with).
PROCEED: Final = 0
NOT_MODIFIED: Final = 304
PRECONDITION_FAILED: Final = 412


class EntityTag(NamedTuple):
    """An entity-tag (RFC 9110 §8.8.3): its opaque value and whether it is weak."""

    value: str
    weak: bool = False


#: ``If-Match: *`` / ``If-None-Match: *``: any current representation.
ANY_TAG: Final = EntityTag("*")

# etagc = %x21 / %x23-7E / obs-text; a list of [W/]"..." separated by commas and OWS.
_TAG_RE: Final = re.compile(r'[ \t]*(W/)?"([\x21\x23-\x7e\x80-\U0010ffff]*)"[ \t]*(?:,|\Z)')
_EMPTY_ELEMENT_RE: Final = re.compile(r"[ \t]*,")

_MONTHS: Final = {
    m: i + 1
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    )
}
_DAY: Final = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_LONG_DAY: Final = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_MONTH: Final = r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_TIME: Final = r"([0-9]{2}):([0-9]{2}):([0-9]{2})"
# RFC 9110 §5.6.7: IMF-fixdate, then the two obsolete forms recipients must accept.
# A one-digit day ("Mon, 1 Jan 1990", RFC 5322's form) is accepted too, as aiohttp does.
_IMF_RE: Final = re.compile(rf"{_DAY}, ([0-9]{{1,2}}) {_MONTH} ([0-9]{{4}}) {_TIME} GMT")
_RFC850_RE: Final = re.compile(rf"{_LONG_DAY}, ([0-9]{{2}})-{_MONTH}-([0-9]{{2}}) {_TIME} GMT")
_ASCTIME_RE: Final = re.compile(rf"{_DAY} {_MONTH} ([0-9 ][0-9]) {_TIME} ([0-9]{{4}})")

# Accept-Encoding element: token [ OWS ";" OWS "q=" qvalue ] (other parameters are not defined).
_UNLISTED_IDENTITY: Final = 0.0001
_CODING_RE: Final = re.compile(
    rf"[ \t]*({TOKEN})[ \t]*"
    r"(?:;[ \t]*[qQ]=(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)[ \t]*)?$"
)


def parse_entity_tags(raw: str, *, leading: bool = False) -> tuple[EntityTag, ...] | None:
    """Parse ``If-Match``/``If-None-Match``: ``*`` or a list of entity-tags.

    Returns ``(ANY_TAG,)`` for ``*``, the tags in order otherwise, and None when the value
    is not a valid list (a malformed tag is never guessed at: commas may sit inside tags).
    With ``leading``, a malformed element ends the list instead: the well-formed tags
    before it are returned (None if there are none), as aiohttp reads ``If-None-Match``.
    """
    text = raw.strip(" \t")
    if text == "*":
        return (ANY_TAG,)
    tags: list[EntityTag] = []
    pos, end = 0, len(text)
    while pos < end:
        empty = _EMPTY_ELEMENT_RE.match(text, pos)
        if empty is not None:  # empty list elements are allowed (RFC 9110 §5.6.1.2)
            pos = empty.end()
            continue
        match = _TAG_RE.match(text, pos)
        if match is None:
            if leading:
                break
            return None
        tags.append(EntityTag(match.group(2), match.group(1) is not None))
        pos = match.end()
    return tuple(tags) if tags else None


def _year_from_two_digits(yy: int) -> int:
    # RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past.
    this_year = time.gmtime().tm_year
    year = this_year - this_year % 100 + yy
    if year > this_year + 50:
        year -= 100
    return year


def parse_http_date(raw: str) -> int | None:
    """Seconds since the epoch for an HTTP-date (RFC 9110 §5.6.7), or None if invalid."""
    text = raw.strip(" \t")
    if not text.isascii():
        return None
    if match := _IMF_RE.fullmatch(text):
        day, mon, year, hh, mm, ss = match.groups()
        year_n = int(year)
    elif match := _RFC850_RE.fullmatch(text):
        day, mon, year, hh, mm, ss = match.groups()
        year_n = _year_from_two_digits(int(year))
    elif match := _ASCTIME_RE.fullmatch(text):
        mon, day, hh, mm, ss, year = match.groups()
        year_n = int(year)
    else:
        return None
    day_n, hour, minute, second = int(day), int(hh), int(mm), int(ss)
    month = _MONTHS[mon]
    if not (
        year_n >= 1  # year 0 does not exist (and the calendar functions raise on it)
        and 1 <= day_n <= calendar.monthrange(year_n, month)[1]
        and hour < 24
        and minute < 60
        and second < 61  # a leap second is allowed by the grammar
    ):
        return None
    return calendar.timegm((year_n, month, day_n, hour, minute, min(second, 59), 0, 0, 0))


class Preconditions(NamedTuple):
    """The conditional header fields of a request, parsed once.

    A field that is absent is None. A malformed ``If-Match`` is kept as an empty tuple (it
    can match nothing, so the request fails with 412); ``If-None-Match`` keeps the tags
    before a malformed element (a match among them can only mean 304) and is ignored when
    it starts malformed; a malformed date is ignored, as RFC 9110 §13.1.3 and §13.1.4
    require.
    """

    if_match: tuple[EntityTag, ...] | None = None
    if_none_match: tuple[EntityTag, ...] | None = None
    if_modified_since: int | None = None
    if_unmodified_since: int | None = None

    @classmethod
    def parse(
        cls,
        if_match: str | None,
        if_none_match: str | None,
        if_modified_since: str | None,
        if_unmodified_since: str | None,
    ) -> Preconditions:
        """Build from raw header values (None when absent)."""
        match_tags: tuple[EntityTag, ...] | None = None
        if if_match is not None:
            match_tags = parse_entity_tags(if_match) or ()
        return cls(
            match_tags,
            parse_entity_tags(if_none_match, leading=True) if if_none_match is not None else None,
            parse_http_date(if_modified_since) if if_modified_since else None,
            parse_http_date(if_unmodified_since) if if_unmodified_since else None,
        )

    @property
    def any(self) -> bool:
        """True when at least one precondition is present."""
        return (
            self.if_match is not None
            or self.if_none_match is not None
            or self.if_modified_since is not None
            or self.if_unmodified_since is not None
        )


def _strong_match(tags: tuple[EntityTag, ...], etag: EntityTag) -> bool:
    # RFC 9110 §8.8.3.2: strong comparison: both strong and the same opaque value.
    if tags == (ANY_TAG,):
        return True
    return not etag.weak and any(not t.weak and t.value == etag.value for t in tags)


def _weak_match(tags: tuple[EntityTag, ...], etag: EntityTag) -> bool:
    # RFC 9110 §8.8.3.2: weak comparison: the opaque values are the same.
    if tags == (ANY_TAG,):
        return True
    return any(t.value == etag.value for t in tags)


def evaluate_preconditions(
    pre: Preconditions, method: str, etag: EntityTag, last_modified: int
) -> int:
    """Apply RFC 9110 §13.2.2's order; return PROCEED, NOT_MODIFIED or PRECONDITION_FAILED.

    ``last_modified`` is the representation's Last-Modified in whole seconds (as sent).
    """
    # Step 1 (§13.1.1) and step 2 (§13.1.4, only without If-Match).
    if pre.if_match is not None:
        if not _strong_match(pre.if_match, etag):
            return PRECONDITION_FAILED
    elif pre.if_unmodified_since is not None and last_modified > pre.if_unmodified_since:
        return PRECONDITION_FAILED
    # Step 3 (§13.1.2): a match means 304 for GET/HEAD, 412 for other methods.
    safe = method in ("GET", "HEAD")
    if pre.if_none_match is not None:
        if _weak_match(pre.if_none_match, etag):
            return NOT_MODIFIED if safe else PRECONDITION_FAILED
    # Step 4 (§13.1.3): only GET/HEAD, only without If-None-Match.
    elif safe and pre.if_modified_since is not None and last_modified <= pre.if_modified_since:
        return NOT_MODIFIED
    return PROCEED


def if_range_holds(raw: str, etag: EntityTag, last_modified: int, now: float) -> bool:
    """Whether an ``If-Range`` value lets a Range be honoured (RFC 9110 §13.1.5).

    An entity-tag must match strongly; a date must equal Last-Modified exactly, and
    Last-Modified must be a strong validator (at least one second before now, §8.8.2.2).
    Anything else, malformed values included, means "send the whole representation".
    """
    text = raw.strip(" \t")
    if text.startswith(('"', "W/")):
        tags = parse_entity_tags(text)
        if tags is None or len(tags) != 1 or tags[0] == ANY_TAG:
            return False
        tag = tags[0]
        return not tag.weak and not etag.weak and tag.value == etag.value
    date = parse_http_date(text)
    return date is not None and date == last_modified and now - last_modified >= 1


def parse_accept_encoding(raw: str) -> dict[str, float]:
    """Content-coding preferences: lower-cased coding (or ``*``) to its qvalue.

    Malformed elements are skipped; a coding listed twice keeps its highest weight.
    ``x-gzip`` counts as ``gzip`` (RFC 9110 §8.4.1.3).
    """
    prefs: dict[str, float] = {}
    for element in raw.split(","):
        if not element.strip(" \t"):
            continue
        match = _CODING_RE.match(element)
        if match is None:
            continue
        coding = match.group(1).lower()
        if coding == "x-gzip":
            coding = "gzip"
        q = float(match.group(2)) if match.group(2) is not None else 1.0
        if q > prefs.get(coding, -1.0):
            prefs[coding] = q
    return prefs


def coding_weight(prefs: dict[str, float], coding: str) -> float:
    """The weight of ``coding`` under ``prefs`` (``*`` covers codings not listed).

    Identity that is not listed (by name or by ``*``) is acceptable (§12.5.3) but weighs
    less than any coding the client did list: a client that names codings prefers them.
    """
    if coding in prefs:
        return prefs[coding]
    if "*" in prefs:
        return prefs["*"]
    return _UNLISTED_IDENTITY if coding == "identity" else 0.0
