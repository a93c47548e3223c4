"""Serialising a request: head validation and encoding, body payloads, body writing."""

from __future__ import annotations

import asyncio
import inspect
import io
import json as jsonlib
import mimetypes
import os
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping
from pathlib import PurePath
from typing import Any, BinaryIO, Protocol, TextIO

from .._util.grammar import TOKEN
from .protocol import ClientProtocol

__all__ = (
    "AsyncIterablePayload",
    "BodyWriter",
    "BytesPayload",
    "FilePayload",
    "ForeignPayload",
    "Payload",
    "file_content_type",
    "guess_filename",
    "is_foreign_payload",
    "make_payload",
    "serialize_head",
    "validate_header",
    "write_body",
)

_TOKEN_RE = re.compile(TOKEN)
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


def serialize_head(
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]],
    version: tuple[int, int] = (1, 1),
) -> bytes:
    """Return the request line and header block, validated, as bytes."""
    if not _TOKEN_RE.fullmatch(method):
        raise ValueError(f"Invalid method {method!r}")
    if not target or _BAD_TARGET_RE.search(target):
        raise ValueError(f"Invalid request target {target!r}")
    parts = [f"{method} {target} HTTP/{version[0]}.{version[1]}\r\n"]
    for name, value in headers:
        validate_header(name, value)
        parts.append(f"{name}: {value}\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("utf-8", "surrogateescape")


class BodyWriter(Protocol):
    """Where a payload writes its bytes (aiohttp's payloads call ``await writer.write(b)``)."""

    async def write(self, chunk: bytes) -> None: ...


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

    def header_items(self) -> Iterable[tuple[str, str]]:
        """Headers the body brings to the request (unless the caller set them)."""
        if self.content_type:
            return (("Content-Type", self.content_type),)
        return ()

    async def write_to(self, writer: BodyWriter) -> None:
        """Write the body's bytes to ``writer``."""
        async for piece in self.chunks():
            await writer.write(piece)

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
            if not isinstance(file, io.TextIOBase):
                # A text file's size on disk is not its UTF-8 length (newline
                # translation, other encodings): that one goes chunked.
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


_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding"})


def is_foreign_payload(obj: object) -> bool:
    """True for a payload object of aiohttp's API (``aiohttp.payload.Payload``,
    ``MultipartWriter``): ``headers``, ``size`` and ``async write(writer)``."""
    return (
        not isinstance(obj, (io.IOBase, Payload))
        and hasattr(obj, "headers")
        and hasattr(obj, "size")
        and inspect.iscoroutinefunction(getattr(obj, "write", None))
    )


class ForeignPayload(Payload):
    """A body given as an aiohttp payload object (what ``aiohttp.FormData()`` returns, a
    ``MultipartWriter``...): its headers go on the request and it writes itself."""

    __slots__ = ("_headers", "_obj")

    def __init__(self, obj: Any) -> None:
        raw = obj.headers
        headers = [(str(k), str(v)) for k, v in raw.items()] if raw else []
        ctype = next((v for k, v in headers if k.lower() == "content-type"), None)
        size = obj.size
        super().__init__(ctype, size if isinstance(size, int) else None)
        self._obj = obj
        self._headers = [(k, v) for k, v in headers if k.lower() not in _FRAMING_HEADERS]

    def header_items(self) -> Iterable[tuple[str, str]]:
        return self._headers

    async def chunks(self) -> AsyncIterator[bytes]:
        chunks: list[bytes] = []

        class _Collect:
            async def write(self, chunk: bytes) -> None:
                chunks.append(bytes(chunk))

        await self._obj.write(_Collect())
        for piece in chunks:
            yield piece

    async def write_to(self, writer: BodyWriter) -> None:
        await self._obj.write(writer)


def guess_filename(obj: object, default: str | None = None) -> str | None:
    """The base name of a file object's ``name`` (not ``<stdin>``-like ones), else ``default``."""
    name = getattr(obj, "name", None)
    if isinstance(name, str) and name and not (name[0] == "<" and name[-1] == ">"):
        return PurePath(name).name
    return default


def file_content_type(file: object, filename: str | None = None) -> str:
    """The Content-Type of a file body: guessed from its name, else by its kind."""
    filename = filename or guess_filename(file)
    if filename is not None:
        guessed = mimetypes.guess_type(filename)[0]
        if guessed is not None:
            return guessed
    if isinstance(file, io.TextIOBase):
        return "text/plain; charset=utf-8"
    return "application/octet-stream"


def _is_form(data: object) -> bool:
    if isinstance(data, Mapping):
        return True
    if isinstance(data, (list, tuple)):
        return all(
            isinstance(item, io.IOBase) or (isinstance(item, (list, tuple)) and len(item) == 2)
            for item in data
        )
    return False


def _is_form_builder(data: object) -> bool:
    # aiohttp's FormData: calling it returns the body payload.
    return callable(data) and hasattr(data, "add_field") and hasattr(data, "add_fields")


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
    if _is_form_builder(data):
        data = data()
    if is_foreign_payload(data):
        return ForeignPayload(data)
    if _is_form(data):
        # Fields (a mapping, (name, value) pairs, open files): urlencoded, or
        # multipart/form-data when a value is a file, as aiohttp does.
        from .formdata import FormData  # formdata imports this module

        return FormData(data).to_payload()
    if isinstance(data, io.IOBase) or hasattr(data, "read"):
        return FilePayload(data, file_content_type(data))
    if isinstance(data, AsyncIterable):
        return AsyncIterablePayload(data)
    raise TypeError(f"Cannot send {type(data).__name__!r} as a request body")


class _ConnectionWriter:
    """The :class:`BodyWriter` over a connection: frames chunks, waits for drain."""

    __slots__ = ("_chunked", "_proto")

    def __init__(self, proto: ClientProtocol, chunked: bool) -> None:
        self._proto = proto
        self._chunked = chunked

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        if not chunk:
            return
        piece = bytes(chunk)
        if self._chunked:
            self._proto.write(b"%x\r\n%b\r\n" % (len(piece), piece))
        else:
            self._proto.write(piece)
        await self._proto.drain()


async def write_body(proto: ClientProtocol, payload: Payload, *, chunked: bool) -> None:
    """Write ``payload`` to the connection, honouring write flow control."""
    await payload.write_to(_ConnectionWriter(proto, chunked))
    if chunked:
        proto.write(b"0\r\n\r\n")
