"""FormData: an HTML form as a request body (urlencoded, or multipart/form-data with files).

The same API as aiohttp's ``FormData``: ``add_field(name, value, *, content_type=None,
filename=None)``, ``add_fields(...)``; pass it as ``data=``.  File-like values are
streamed, never read into memory at once.
"""

from __future__ import annotations

import io
import mimetypes
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from .request import (
    BodyWriter,
    BytesPayload,
    FilePayload,
    ForeignPayload,
    Payload,
    file_content_type,
    guess_filename,
    is_foreign_payload,
)

__all__ = ("FormData", "MultipartPayload")


def _quote(value: str) -> str:
    # HTML's multipart/form-data encoding: percent-escape the three bytes that would break it.
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


class MultipartPayload(Payload):
    """A ``multipart/form-data`` body built from (headers, payload) parts; it can be sent once."""

    __slots__ = ("_boundary", "_parts")

    def __init__(self, parts: list[tuple[bytes, Payload]], boundary: str) -> None:
        self._boundary = boundary.encode("ascii")
        self._parts = parts
        size: int | None = len(self._boundary) + 6
        for head, payload in parts:
            if size is None or payload.size is None:
                size = None
            else:
                size += len(self._boundary) + 4 + len(head) + payload.size + 2
        super().__init__(f"multipart/form-data; boundary={boundary}", size)

    async def write_to(self, writer: BodyWriter) -> None:
        for head, payload in self._parts:
            await writer.write(b"--" + self._boundary + b"\r\n" + head)
            await payload.write_to(writer)
            await writer.write(b"\r\n")
        await writer.write(b"--" + self._boundary + b"--\r\n")


def _is_file(value: object) -> bool:
    return isinstance(value, io.IOBase) or (
        hasattr(value, "read") and not is_foreign_payload(value) and not isinstance(value, Payload)
    )


class FormData:
    """Form fields to send; files make it ``multipart/form-data``."""

    def __init__(
        self,
        fields: Iterable[Any] | Mapping[str, Any] = (),
        quote_fields: bool = True,
        charset: str | None = None,
        *,
        default_to_multipart: bool = False,
    ) -> None:
        self._fields: list[tuple[str, Any, str | None, str | None]] = []
        self._is_multipart = default_to_multipart
        self._charset = charset
        self._quote_fields = quote_fields
        if isinstance(fields, Mapping):
            fields = list(fields.items())
        elif not isinstance(fields, (list, tuple)):
            fields = (fields,)
        self.add_fields(*fields)

    @property
    def is_multipart(self) -> bool:
        return self._is_multipart

    def add_field(
        self,
        name: str,
        value: Any,
        *,
        content_type: str | None = None,
        filename: str | None = None,
        content_transfer_encoding: str | None = None,
    ) -> None:
        """Add one field; a file-like value (or a filename/content type) makes it multipart."""
        if _is_file(value):
            self._is_multipart = True
            if filename is None:
                filename = guess_filename(value) or name
        elif isinstance(value, Payload) or is_foreign_payload(value):
            self._is_multipart = True
        elif isinstance(value, (bytes, bytearray, memoryview)):
            self._is_multipart = True
            if filename is None and content_type is None:
                filename = name
        if content_type is not None or filename is not None:
            self._is_multipart = True
        self._fields.append((name, value, content_type, filename))

    def add_fields(self, *fields: Any) -> None:
        """Add ``(name, value)`` pairs, mappings of them, open files (named after the
        file), or other FormData."""
        for field in fields:
            if isinstance(field, FormData):
                self._fields.extend(field._fields)
                self._is_multipart = self._is_multipart or field._is_multipart
            elif isinstance(field, Mapping):
                for name, value in field.items():
                    self.add_field(name, value)
            elif isinstance(field, io.IOBase):
                self.add_field(guess_filename(field) or "unknown", field)
            elif isinstance(field, (list, tuple)) and len(field) == 2:
                name, value = field
                self.add_field(name, value)
            else:
                raise TypeError(
                    "Only io.IOBase, mappings and (name, value) pairs are form fields; "
                    f"use add_field() for more options, got {field!r}"
                )

    def __call__(self) -> Payload:
        """The body payload (as aiohttp's ``FormData()`` call)."""
        return self.to_payload()

    def to_payload(self) -> Payload:
        """The body payload (``make_payload`` calls this for ``data=FormData(...)``)."""
        charset = self._charset or "utf-8"
        if not self._is_multipart:
            body = urlencode([(n, str(v)) for n, v, _, _ in self._fields], encoding=charset)
            return BytesPayload(body.encode("ascii"), "application/x-www-form-urlencoded")
        parts: list[tuple[bytes, Payload]] = []
        for name, value, content_type, filename in self._fields:
            disposition = f'form-data; name="{_quote(name)}"'
            if filename is not None:
                disposition += f'; filename="{_quote(filename)}"'
            payload: Payload
            if isinstance(value, (bytes, bytearray, memoryview)):
                guessed = mimetypes.guess_type(filename)[0] if filename else None
                payload = BytesPayload(
                    bytes(value), content_type or guessed or "application/octet-stream"
                )
            elif isinstance(value, str):
                if content_type is None and filename is not None:
                    content_type = f"text/plain; charset={charset}"
                payload = BytesPayload(value.encode(charset), content_type)
            elif isinstance(value, Payload):
                payload = value
            elif is_foreign_payload(value):
                payload = ForeignPayload(value)
            elif _is_file(value):
                payload = FilePayload(value, content_type or file_content_type(value, filename))
            else:
                raise TypeError(f"Cannot send {type(value).__name__!r} as a multipart field")
            head = f"Content-Disposition: {disposition}\r\n"
            if payload is value or isinstance(payload, ForeignPayload):
                # A payload object brings its own headers (its type unless given here).
                for key, val in payload.header_items():
                    low = key.lower()
                    if low == "content-type" and content_type is not None:
                        val = content_type
                    if low not in ("content-disposition", "content-length"):
                        head += f"{key}: {val}\r\n"
                if content_type is not None and payload.content_type is None:
                    head += f"Content-Type: {content_type}\r\n"
            elif content_type is not None or filename is not None:
                head += f"Content-Type: {payload.content_type}\r\n"
            parts.append(((head + "\r\n").encode(charset), payload))
        return MultipartPayload(parts, uuid.uuid4().hex)
