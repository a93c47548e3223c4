"""Pieces of HTTP's grammar shared by the parsers and validators (RFC 9110 §5.6)."""

from __future__ import annotations

from typing import Final

__all__ = ("TOKEN",)

#: A regular expression for ``token = 1*tchar`` (RFC 9110 §5.6.2), to embed in others.
TOKEN: Final = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
