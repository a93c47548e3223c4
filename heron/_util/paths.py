"""Keeping request paths inside a directory: the static-files safety rules.

Two steps, both needed:

1. :func:`split_relative` checks the decoded file name of a request *lexically*: it
   refuses NUL and other control characters, backslashes, absolute paths (``/etc``,
   ``//host/share``), Windows drive forms (``C:``) and any ``..`` that would climb above
   the root, and returns the remaining segments. ``..`` inside the root is resolved here,
   before the file system is asked anything.
2. :func:`confine` resolves symbolic links and checks that the real path is still inside
   the (already resolved) root, unless links may point anywhere (``follow_symlinks``).

Neither touches the file system except ``confine`` (``os.path.realpath``): call it from a
worker thread, never on the event loop.
"""

from __future__ import annotations

import os
import re
import stat
from typing import Final

__all__ = ("confine", "is_within", "resolve_plain", "split_relative")

_DRIVE_RE: Final = re.compile(r"[A-Za-z]:")
_CONTROL: Final = frozenset(chr(c) for c in (*range(0x20), 0x7F))
_WINDOWS: Final = os.name == "nt"
# Names Windows maps to devices whatever the directory (and whatever the extension).
_WINDOWS_DEVICES: Final = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)]
)


def _bad_segment(segment: str, first: bool) -> bool:
    if "\\" in segment or not _CONTROL.isdisjoint(segment):
        return True
    if first and _DRIVE_RE.match(segment):
        return True  # C:, C:foo: a drive-relative or absolute Windows path
    return _WINDOWS and (
        ":" in segment  # alternate data streams (file::$DATA)
        or segment[-1] in ". "  # Windows drops trailing dots and spaces
        or segment.partition(".")[0].upper() in _WINDOWS_DEVICES
    )


def split_relative(name: str) -> tuple[str, ...] | None:
    """The segments of ``name`` (a decoded, ``/``-separated relative path), or None.

    None means the name may not be served whatever the file system holds. Empty and
    ``.`` segments are dropped; ``..`` removes the previous segment and is refused when
    there is none.
    """
    if name.startswith("/"):
        return None  # absolute, or a UNC path (//host/share)
    parts: list[str] = []
    for segment in name.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not parts:
                return None
            parts.pop()
            continue
        if _bad_segment(segment, not parts):
            return None
        parts.append(segment)
    return tuple(parts)


def is_within(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or below it (both absolute and normalised)."""
    if path == root:
        return True
    return path.startswith(root if root.endswith(os.sep) else root + os.sep)


def confine(path: str, root: str, follow_symlinks: bool) -> str | None:
    """The real path of ``path`` (under ``root``), or None if it escapes ``root``.

    ``root`` must be a resolved directory. With ``follow_symlinks`` links may point
    anywhere (the lexical path is what was checked); without, the fully resolved path
    must stay inside ``root``. Blocking: call from a worker thread.
    """
    real = os.path.realpath(path)
    if follow_symlinks or is_within(real, root):
        return real
    return None


def resolve_plain(root: str, parts: tuple[str, ...]) -> tuple[str, os.stat_result] | None:
    """``root`` joined with ``parts`` and its ``lstat``, when no component below ``root``
    is a symbolic link; None when one is (then :func:`confine` must decide).

    ``root`` must be resolved and ``parts`` come from :func:`split_relative` (no ``..``),
    so a path without links below ``root`` is its own real path, inside ``root``.
    Raises what ``os.lstat`` raises.  Blocking: call from a worker thread.

    PERF: "static 64 KiB": one ``lstat`` per component below the root, where
    ``os.path.realpath`` walks every component from ``/`` and ``os.stat`` follows.
    """
    path = root
    st: os.stat_result | None = None
    for part in parts:
        path = os.path.join(path, part)
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            return None
    if st is None:
        return None
    return path, st
