"""Request bodies turned into values: the multipart form of ``post()``, and ``json_body``.

``read_multipart_form`` reads a ``multipart/form-data`` body into the
``MultiDictProxy`` that ``request.post()`` returns.  Limits are enforced while
reading: the raw body is counted against ``client_max_size`` as it arrives (every
field counts, files included), the number of fields against ``client_max_fields``.
File parts are spooled: kept in memory up to 64 KiB, then written to an anonymous
temporary file (in the default executor, so the loop never blocks on the disk).
Every such file is closed, hence removed, when the request's task ends.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from multidict import MultiDict, MultiDictProxy

from .. import hdrs
from .exceptions import HTTPBadRequest, HTTPRequestEntityTooLarge, HTTPUnsupportedMediaType
from .multipart import BodyPartReader, MultipartError, MultipartReader

if TYPE_CHECKING:
    from .request import BaseRequest

__all__ = ("SPOOL_MAX_SIZE", "json_body", "read_multipart_form", "too_many_fields")

#: Bytes of an uploaded file kept in memory before it is spooled to a temporary file.
SPOOL_MAX_SIZE = 2**16

FileFactory = Callable[..., Any]


def too_many_fields(max_fields: int) -> HTTPRequestEntityTooLarge:
    """The 413 for a form with more than ``max_fields`` fields."""
    exc = HTTPRequestEntityTooLarge(
        max_fields, max_fields + 1, text=f"Maximum number of form fields {max_fields} exceeded."
    )
    exc.force_close()
    return exc


async def read_multipart_form(
    reader: MultipartReader,
    *,
    max_fields: int,
    loop: asyncio.AbstractEventLoop,
    task: asyncio.Future[Any] | None,
    file_field: FileFactory,
) -> MultiDictProxy[Any]:
    """Read every field of ``reader`` (see the module docstring)."""
    out: MultiDict[Any] = MultiDict()
    files: list[IO[bytes]] = []
    try:
        while (part := await reader.next()) is not None:
            if 0 < max_fields <= len(out):
                raise too_many_fields(max_fields)
            if not isinstance(part, BodyPartReader):
                raise MultipartError("Nested multipart is not supported by post()")
            name = part.name
            if name is None:
                # (aiohttp raises ValueError with these words; MultipartError is both, and a 400.)
                raise MultipartError("Multipart field missing name")
            field_ct = part.headers.get(hdrs.CONTENT_TYPE)
            if part.filename:
                file = await _spool(part, loop, files)
                out.add(
                    name,
                    file_field(
                        name,
                        part.filename,
                        file,
                        field_ct or "application/octet-stream",
                        part.headers,
                    ),
                )
                continue
            value = bytearray()
            async for piece in part._iter_decoded():
                value += piece
            if field_ct is None or field_ct.lstrip().lower().startswith("text/"):
                charset = part.get_charset(default="utf-8")
                try:
                    out.add(name, value.decode(charset))
                except (LookupError, UnicodeDecodeError):
                    raise HTTPBadRequest(text=f"Form field {name!r} is not {charset}") from None
            else:
                out.add(name, value)
    except BaseException:
        for file in files:
            file.close()
        raise
    if files:
        _close_at_end(files, task)
    return MultiDictProxy(out)


async def _spool(
    part: BodyPartReader, loop: asyncio.AbstractEventLoop, files: list[IO[bytes]]
) -> IO[bytes]:
    # Closed by _close_at_end (or on error by the caller), not by a with block.
    file: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
        max_size=SPOOL_MAX_SIZE, mode="w+b"
    )
    files.append(file)
    size = 0
    async for piece in part._iter_decoded():
        size += len(piece)
        if size > SPOOL_MAX_SIZE:
            # On disk (or about to roll over to it): keep the loop free.
            await loop.run_in_executor(None, file.write, piece)
        else:
            file.write(piece)
    if size > SPOOL_MAX_SIZE:
        await loop.run_in_executor(None, file.seek, 0)
    else:
        file.seek(0)
    return file


def _close_at_end(files: list[IO[bytes]], task: asyncio.Future[Any] | None) -> None:
    def close(_: object = None) -> None:
        for file in files:
            file.close()

    if task is None or task.done():
        # No task to follow (a request built by hand): the files close when collected.
        return
    task.add_done_callback(close)


async def json_body(
    request: BaseRequest,
    *,
    loads: Callable[[str], Any] = json.loads,
    content_type: str | None = None,
) -> Any:
    """``await request.json(loads=loads)``, but invalid JSON answers 400 with a clear reason.

    With ``content_type`` given, a body of another media type answers 415.
    """
    if content_type is not None and request.content_type != content_type:
        raise HTTPUnsupportedMediaType(
            text=f"Expected a {content_type} body, got {request.content_type}"
        )
    try:
        return await request.json(loads=loads)
    except UnicodeDecodeError as exc:
        raise HTTPBadRequest(text=f"Invalid JSON body: not {exc.encoding} text") from None
    except ValueError as exc:  # json.JSONDecodeError and most loads() errors
        raise HTTPBadRequest(text=f"Invalid JSON body: {exc}") from None
