"""HTTP Basic authentication credentials."""

from __future__ import annotations

import base64
import binascii
from typing import NamedTuple

from yarl import URL

__all__ = ("BasicAuth",)


class BasicAuth(NamedTuple):
    """Credentials for the ``Authorization: Basic`` scheme."""

    login: str
    password: str = ""
    encoding: str = "latin1"

    def encode(self) -> str:
        """The Authorization header value."""
        if ":" in self.login:
            raise ValueError('A ":" is not allowed in login (RFC 1945#section-11.1)')
        creds = f"{self.login}:{self.password}".encode(self.encoding)
        return "Basic " + base64.b64encode(creds).decode(self.encoding)

    @classmethod
    def decode(cls, auth_header: str, encoding: str = "latin1") -> BasicAuth:
        """Parse an Authorization header value."""
        scheme, _, token = auth_header.strip().partition(" ")
        if scheme.lower() != "basic":
            raise ValueError(f"Unknown authorization method {scheme}")
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode(encoding)
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ValueError("Invalid base64 encoding.") from exc
        login, sep, password = decoded.partition(":")
        if not sep:
            raise ValueError("Invalid credentials.")
        return cls(login, password, encoding)

    @classmethod
    def from_url(cls, url: URL, *, encoding: str = "latin1") -> BasicAuth | None:
        """Credentials embedded in ``url`` (``http://user:pass@host/``), if any."""
        if url.user is None and url.password is None:
            return None
        return cls(url.user or "", url.password or "", encoding)
