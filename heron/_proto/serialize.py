"""Response serialisation: status lines, header blocks and chunked framing.

Pure functions over bytes and strings.  Header blocks are validated so that no
CR, LF or NUL from application data can reach the wire (no response
splitting), whatever API the application used to set them.
"""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus

from .errors import ProtocolError

__all__ = (
    "LAST_CHUNK",
    "build_error_response",
    "encode_chunk",
    "reason_phrase",
    "serialize_head",
    "status_line",
)

LAST_CHUNK = b"0\r\n\r\n"

_REASONS: dict[int, str] = {s.value: s.phrase for s in HTTPStatus}

# PERF: status lines for every registered status, precomputed ("plaintext").
_STATUS_LINES: dict[tuple[int, int, int], str] = {
    (major, minor, code): f"HTTP/{major}.{minor} {code} {phrase}\r\n"
    for major, minor in ((1, 1), (1, 0))
    for code, phrase in _REASONS.items()
}


def reason_phrase(status: int) -> str:
    """The standard reason phrase for ``status`` (empty for unregistered codes)."""
    return _REASONS.get(status, "")


def status_line(version: tuple[int, int], status: int, reason: str | None) -> str:
    """``HTTP/1.1 200 OK\\r\\n`` for the given version, status and reason."""
    if reason is None:
        line = _STATUS_LINES.get((version[0], version[1], status))
        if line is not None:
            return line
        reason = _REASONS.get(status, "")
    elif "\r" in reason or "\n" in reason:
        raise ValueError("Reason cannot contain CR or LF")
    return f"HTTP/{version[0]}.{version[1]} {status} {reason}\r\n"


def serialize_head(line: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """Join a status line and header fields into the bytes of a response head.

    Raises ``ValueError`` when a name or value would break the framing.
    """
    fields = [f"{name}: {value}\r\n" for name, value in headers]
    block = "".join(fields)
    # PERF: one scan each instead of a check per field ("plaintext"): a block of
    # n well-formed fields holds exactly n CRs and n LFs and no NUL.
    n = len(fields)
    if block.count("\n") != n or block.count("\r") != n or "\x00" in block:
        _reject(headers)
    return (line + block + "\r\n").encode("utf-8", "surrogateescape")


def _reject(headers: Iterable[tuple[str, str]]) -> None:
    for name, value in headers:
        for text in (name, value):
            if "\r" in text or "\n" in text or "\x00" in text:
                raise ValueError(f"Newline or NUL in header {name!r} is not allowed")
    raise ValueError("Malformed header block")


def encode_chunk(data: bytes) -> bytes:
    """Frame ``data`` as one chunk of a chunked body."""
    return b"%x\r\n%b\r\n" % (len(data), data)


def build_error_response(
    error: ProtocolError, server: str, date: str, *, close: bool = True, head_only: bool = False
) -> bytes:
    """The complete response for a request that broke the protocol (then close) or that a
    limit refuses (``close=False`` when the connection stays usable; ``head_only`` for HEAD)."""
    body = f"{error.status} {reason_phrase(error.status)}: {error.reason}".encode()
    fields = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Date", date),
        ("Server", server),
        *error.headers,
    ]
    if close:
        fields.insert(2, ("Connection", "close"))
    head = serialize_head(status_line((1, 1), error.status, None), fields)
    return head if head_only else head + body
