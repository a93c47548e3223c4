"""Multipart readers (aiohttp keeps these at top level: ``aiohttp.MultipartReader``).

Re-exports only; the code lives in ``heron._web.multipart`` and ``heron._proto.multipart``.
"""

from ._web.multipart import (
    BodyPartReader,
    MultipartError,
    MultipartReader,
    parse_content_disposition,
)

__all__ = ("BodyPartReader", "MultipartError", "MultipartReader", "parse_content_disposition")
