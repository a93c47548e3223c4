"""Pieces of HTTP's grammar shared by the parsers and validators (RFC 9110 §5.6)."""

from __future__ import annotations

import re
import string
from typing import Final

__all__ = ("TCHARS", "TOKEN")

#: ``tchar`` (RFC 9110 §5.6.2): the characters of a token.
TCHARS: Final = "!#$%&'*+-.^_`|~" + string.digits + string.ascii_letters
#: A regular expression for ``token = 1*tchar``, to embed in others.
TOKEN: Final = f"[{re.escape(TCHARS)}]+"
