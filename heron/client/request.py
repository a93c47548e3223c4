"""Serialising a request: head validation and encoding, body payloads, body writing."""

from __future__ import annotations

import asyncio
import io
import json as jsonlib
import os
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping
from typing import Any, BinaryIO, TextIO
from urllib.parse import urlencode

from .protocol import ClientProtocol

__all__ = (
    "AsyncIterablePayload",
    "BytesPayload",
    "FilePayload",
    "Payload",
    "make_payload",
    "serialize_head",
    "validate_header",
    "write_body",
)

_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE_RE = re.compile(r"[\x00\r\n]")
_BAD_TARGET_RE = re.compile(r"[\x00-\x20\x7f]")

CHUNK_SIZE = 2**16

JSONEncoder = Callable[[Any], str]


def validate_header(name: str, value: str) -> None:
    """Refuse names that are not HTTP tokens and values containing CR, LF or NUL."""
    if not _TOKEN_RE.fullmatch(name):
        raise ValueError(f"Invalid header name {name!r}")
    if _BAD_VALUE_RE.search(value):
        raise ValueError(f"Newline or NUL in value of header {name!r}")


def serialize_head(method: str, target: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """Return the request line and header block, validated, as bytes."""
    if not _TOKEN_RE.fullmatch(method):
        raise ValueError(f"Invalid method {method!r}")
    if not target or _BAD_TARGET_RE.search(target):
        raise ValueError(f"Invalid request target {target!r}")
    parts = [f"{method} {target} HTTP/1.1\r\n"]
    for name, value in headers:
        validate_header(name, value)
        parts.append(f"{name}: {value}\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("utf-8", "surrogateescape")


class Payload:
    """A request body: its chunks, its size if known, and a default Content-Type."""

    __slots__ = ("content_type", "size")

    def __init__(self, content_type: str | None, size: int | None) -> None:
        self.content_type = content_type
        self.size = size

    @property
    def replayable(self) -> bool:
        """True if the body can be sent again (after a 307/308 redirect or a retry)."""
        return False

    def chunks(self) -> AsyncIterator[bytes]:
        """Yield the body's bytes."""
        raise NotImplementedError

    def rewind(self) -> None:
        """Prepare to send the body again (only for replayable payloads)."""


class BytesPayload(Payload):
    """A body held in memory."""

    __slots__ = ("data",)

    def __init__(self, data: bytes, content_type: str | None) -> None:
        super().__init__(content_type, len(data))
        self.data = data

    @property
    def replayable(self) -> bool:
        return True

    async def chunks(self) -> AsyncIterator[bytes]:
        if self.data:
            yield self.data


class AsyncIterablePayload(Payload):
    """A body produced by an async iterable, sent chunked; it can be sent once."""

    __slots__ = ("_iterable",)

    def __init__(self, iterable: AsyncIterable[bytes | bytearray | memoryview | str]) -> None:
        super().__init__("application/octet-stream", None)
        self._iterable = iterable

    async def chunks(self) -> AsyncIterator[bytes]:
        async for piece in self._iterable:
            if isinstance(piece, str):
                yield piece.encode("utf-8")
            else:
                yield bytes(piece)


class FilePayload(Payload):
    """A body read from a file object; blocking files are read in an executor."""

    __slots__ = ("_blocking", "_file", "_start")

    def __init__(self, file: BinaryIO | TextIO, content_type: str | None) -> None:
        size: int | None = None
        start: int | None = None
        try:
            start = file.tell()
            size = os.fstat(file.fileno()).st_size - start
        except (OSError, AttributeError, ValueError):
            if isinstance(file, io.BytesIO):
                size = len(file.getbuffer()) - (start or 0)
        super().__init__(content_type, size)
        self._file = file
        self._start = start
        self._blocking = not isinstance(file, (io.BytesIO, io.StringIO))

    @property
    def replayable(self) -> bool:
        return self._start is not None

    def rewind(self) -> None:
        if self._start is not None:
            self._file.seek(self._start)

    async def chunks(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        read = self._file.read
        while True:
            if self._blocking:
                piece: bytes | str = await loop.run_in_executor(None, read, CHUNK_SIZE)
            else:
                piece = read(CHUNK_SIZE)
            if not piece:
                return
            yield piece.encode("utf-8") if isinstance(piece, str) else piece


def _is_form(data: object) -> bool:
    if isinstance(data, Mapping):
        return True
    if isinstance(data, (list, tuple)):
        return all(isinstance(item, (list, tuple)) and len(item) == 2 for item in data)
    return False


def make_payload(data: Any, json: Any, dumps: JSONEncoder = jsonlib.dumps) -> Payload | None:
    """Turn the ``data=``/``json=`` arguments of a request into a Payload."""
    if data is not None and json is not None:
        raise ValueError("data and json parameters can not be used at the same time")
    if json is not None:
        return BytesPayload(dumps(json).encode("utf-8"), "application/json")
    if data is None:
        return None
    if isinstance(data, Payload):
        return data
    to_payload = getattr(data, "to_payload", None)
    if to_payload is not None:  # FormData (which imports this module)
        payload: Payload = to_payload()
        return payload
    if isinstance(data, (bytes, bytearray, memoryview)):
        return BytesPayload(bytes(data), "application/octet-stream")
    if isinstance(data, str):
        return BytesPayload(data.encode("utf-8"), "text/plain; charset=utf-8")
    if _is_form(data):
        items = data.items() if isinstance(data, Mapping) else data
        body = urlencode([(str(k), str(v)) for k, v in items])
        return BytesPayload(body.encode("ascii"), "application/x-www-form-urlencoded")
    if isinstance(data, io.IOBase) or hasattr(data, "read"):
        return FilePayload(data, "application/octet-stream")
    if isinstance(data, AsyncIterable):
        return AsyncIterablePayload(data)
    raise TypeError(f"Cannot send {type(data).__name__!r} as a request body")


async def write_body(proto: ClientProtocol, payload: Payload, *, chunked: bool) -> None:
    """Write ``payload`` to the connection, honouring write flow control."""
    async for piece in payload.chunks():
        if not piece:
            continue
        if chunked:
            proto.write(b"%x\r\n%b\r\n" % (len(piece), piece))
        else:
            proto.write(piece)
        await proto.drain()
    if chunked:
        proto.write(b"0\r\n\r\n")
