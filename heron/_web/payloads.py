"""Streamed bodies for ``Response(body=...)``: what aiohttp accepts besides bytes and str.

``make_payload(body)`` wraps an async iterable, a file object (an open file,
``io.BytesIO``, ``io.StringIO``, a text file), a part of a multipart request, or one of
aiohttp's own payload objects (``aiohttp.get_payload(...)``, ``MultipartWriter``,
``aiohttp.streamer``) in a :class:`BodyPayload`: its size when known, the Content-Type
and extra headers it suggests, and a coroutine that writes its bytes.  The response
sends it with ``Content-Length`` when the size is known, chunked otherwise.

Blocking files are read in the default executor, so the event loop never waits on the
disk.  A file object is closed once it has been sent, as aiohttp does.
"""

from __future__ import annotations

import asyncio
import io
import mimetypes
import os
import sys
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import IO, Any
from urllib.parse import quote

from .. import hdrs

__all__ = ("BodyPayload", "make_payload")

Write = Callable[[bytes], Awaitable[None]]

#: Bytes read from a file object at a time.
CHUNK_SIZE = 2**16
_OCTET = "application/octet-stream"


class BodyPayload:
    """A response body produced piece by piece (see the module docstring)."""

    __slots__ = ("content_type", "headers", "size", "value")

    def __init__(
        self,
        value: Any,
        size: int | None,
        content_type: str,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        #: What was given as ``body=`` (``Response.body`` returns it).
        self.value = value
        self.size = size
        self.content_type = content_type
        self.headers = headers

    async def write(self, write: Write) -> None:
        """Write the whole body through ``write``."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release what the body holds (called once it is sent, or could not be)."""

    def decode(self, encoding: str) -> str:
        raise TypeError(f"Unable to decode a {type(self.value).__name__} body")


def _disposition(disptype: str, params: dict[str, str]) -> str:
    """A Content-Disposition value; values that are not printable ASCII use RFC 8187."""
    out = [disptype]
    for key, value in params.items():
        if value.isascii() and value.isprintable():
            escaped = value.replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'{key}="{escaped}"')
        else:
            out.append(f"{key}*=utf-8''{quote(value, safe='')}")
    return "; ".join(out)


def _file_name(file: object) -> str | None:
    name = getattr(file, "name", None)
    if isinstance(name, str) and name and not (name[0] == "<" and name[-1] == ">"):
        return os.path.basename(name) or None
    return None


def _position(file: IO[Any]) -> int | None:
    try:
        return file.tell() if file.seekable() else None
    except (OSError, AttributeError, ValueError):
        return None


def _read_all(file: IO[Any], start: int | None) -> Any:
    """The whole of ``file`` from ``start``, leaving it there to be sent afterwards
    (blocking: the ``Response.text`` of a file body, as aiohttp reads it)."""
    if start is not None:
        file.seek(start)
    pieces = []
    while piece := file.read(CHUNK_SIZE):
        pieces.append(piece)
    if start is not None:
        file.seek(start)
    return pieces[0][:0].join(pieces) if pieces else b""


def _file_size(file: IO[Any]) -> int | None:
    """The bytes from the current position to the end, when the file can tell."""
    try:
        return os.fstat(file.fileno()).st_size - file.tell()
    except (OSError, AttributeError, ValueError):
        return None


class _IterablePayload(BodyPayload):
    __slots__ = ("_source",)

    def __init__(self, value: Any, source: AsyncIterable[Any]) -> None:
        super().__init__(value, None, _OCTET)
        self._source = source

    async def write(self, write: Write) -> None:
        async for piece in self._source:
            if isinstance(piece, str):
                piece = piece.encode("utf-8")
            elif not isinstance(piece, (bytes, bytearray, memoryview)):
                raise TypeError(
                    f"a body's async iterable must yield bytes, not {type(piece).__name__}"
                )
            if piece:
                await write(bytes(piece))

    async def close(self) -> None:
        aclose = getattr(self._source, "aclose", None)
        if aclose is not None:
            # An async generator stopped early (an error, or the client left): run its
            # finally blocks now rather than at garbage collection.
            await aclose()


class _FileObjectPayload(BodyPayload):
    """A file object sent from its current position (encoded when it is a text file)."""

    __slots__ = ("_encoding", "_start")

    def __init__(
        self,
        value: Any,
        size: int | None,
        content_type: str,
        encoding: str | None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(value, size, content_type, headers)
        self._encoding = encoding
        self._start = _position(value)

    def decode(self, encoding: str) -> str:
        data = _read_all(self.value, self._start)
        return data if isinstance(data, str) else data.decode(encoding)

    async def close(self) -> None:
        self.value.close()


class _BytesPayload(_FileObjectPayload):
    """An in-memory file: read without an executor."""

    __slots__ = ()

    async def write(self, write: Write) -> None:
        read = self.value.read
        encoding = self._encoding
        while piece := read(CHUNK_SIZE):
            await write(piece.encode(encoding) if encoding is not None else piece)


class _FilePayload(_FileObjectPayload):
    """A file that may block: read in the default executor, closed when sent."""

    __slots__ = ()

    async def write(self, write: Write) -> None:
        loop = asyncio.get_running_loop()
        read = self.value.read
        encoding = self._encoding
        while piece := await loop.run_in_executor(None, read, CHUNK_SIZE):
            await write(piece.encode(encoding) if encoding is not None else piece)


class _PartPayload(BodyPayload):
    """A part of a multipart request, sent on as it is read (decoded)."""

    __slots__ = ()

    async def write(self, write: Write) -> None:
        async for piece in self.value._iter_decoded():
            await write(piece)


class _WriterAdapter:
    """The stream writer an aiohttp payload writes to."""

    __slots__ = ("_write", "buffer_size", "output_size")

    def __init__(self, write: Write) -> None:
        self._write = write
        self.buffer_size = 0
        self.output_size = 0

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        if chunk:
            self.buffer_size += len(chunk)
            self.output_size += len(chunk)
            await self._write(bytes(chunk))

    async def write_eof(self, chunk: bytes = b"") -> None:
        await self.write(chunk)

    async def drain(self) -> None:
        """Each write already waits for the peer."""


class _ForeignPayload(BodyPayload):
    """One of aiohttp's payload objects, written through its own ``write``."""

    __slots__ = ()

    async def write(self, write: Write) -> None:
        await self.value.write(_WriterAdapter(write))

    async def close(self) -> None:
        close = getattr(self.value, "close", None)
        if close is not None:
            result = close()
            if asyncio.iscoroutine(result):
                await result

    def decode(self, encoding: str) -> str:
        text: str = self.value.decode(encoding)
        return text


def _foreign(body: Any) -> BodyPayload | None:
    """``body`` as an aiohttp payload, if it is one or aiohttp knows how to make one."""
    payload_mod = sys.modules.get("aiohttp.payload")
    if payload_mod is None:
        return None
    if not isinstance(body, payload_mod.Payload):
        if type(body).__module__.partition(".")[0] != "aiohttp":
            return None
        try:
            body = payload_mod.get_payload(body)
        except payload_mod.LookupError:
            return None
    headers = tuple(
        (name, value) for name, value in body.headers.items() if name != hdrs.CONTENT_TYPE
    )
    return _ForeignPayload(body, body.size, body.content_type, headers)


def _file_payload(body: Any) -> BodyPayload:
    text = isinstance(body, io.TextIOBase)
    encoding: str | None = None
    if text:
        encoding = getattr(body, "encoding", None) or "utf-8"
    if isinstance(body, io.StringIO):
        # Known in full already: encoded once, sent with its length.
        data = body.read().encode("utf-8")
        body.close()
        return _BytesPayload(io.BytesIO(data), len(data), "text/plain; charset=utf-8", None)
    if isinstance(body, io.BytesIO):
        return _BytesPayload(body, len(body.getbuffer()) - body.tell(), _OCTET, None)
    size = _file_size(body)
    filename = _file_name(body)
    headers: tuple[tuple[str, str], ...] = ()
    if filename is not None:
        headers = ((hdrs.CONTENT_DISPOSITION, _disposition("attachment", {"filename": filename})),)
    if text:
        content_type = f"text/plain; charset={encoding}"
    elif filename is not None:
        content_type = mimetypes.guess_type(filename)[0] or _OCTET
    else:
        content_type = _OCTET
    return _FilePayload(body, size, content_type, encoding, headers)


def make_payload(body: Any) -> BodyPayload:
    """Wrap ``body`` (not bytes, not str) for sending; ValueError if it cannot be sent."""
    # Imported here: multipart imports the exceptions, which import the responses.
    from .multipart import BodyPartReader

    if isinstance(body, BodyPartReader):
        params: dict[str, str] = {}
        if body.name is not None:
            params["name"] = body.name
        if body.filename is not None:
            params["filename"] = body.filename
        headers: tuple[tuple[str, str], ...] = ()
        if params:
            headers = ((hdrs.CONTENT_DISPOSITION, _disposition("attachment", params)),)
        return _PartPayload(body, None, _OCTET, headers)
    foreign = _foreign(body)
    if foreign is not None:
        return foreign
    if isinstance(body, io.IOBase):
        return _file_payload(body)
    iter_any = getattr(body, "iter_any", None)
    if iter_any is not None and isinstance(body, AsyncIterable):
        # A stream reader (request.content): pieces as they arrive, not lines.
        return _IterablePayload(body, iter_any())
    if isinstance(body, AsyncIterable):
        return _IterablePayload(body, body)
    raise ValueError(f"Unsupported body type {type(body).__name__}")
