"""App-wide response compression: ``heron.compression.setup(app)``.

aiohttp compresses only the responses whose handler calls ``enable_compression()``.  This
battery compresses every response that is worth it, chosen by content type and size, with
the coding the client prefers among zstd, br, gzip and deflate (zstd and br when the
``compression`` extra is installed).  It hooks ``on_response_prepare``, so it sees every
response just before its head is sent: a ``Response`` returned by a handler or raised as an
HTTP exception, a ``StreamResponse`` the handler prepares and writes in chunks, a file.

A ``Response`` body is compressed in one piece (in an executor when it is large) and keeps
its ``Content-Length``; any other response is compressed as it is written, through
``StreamResponse.enable_compression()``.  See docs/compression.md.
"""

from __future__ import annotations

import asyncio
import importlib
import re
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from fnmatch import translate
from typing import Any, TypeGuard

from . import hdrs, web

__all__ = ("DEFAULT_CONTENT_TYPES", "Compression", "setup")

#: Media types compressed by default (shell-style patterns, matched without parameters).
DEFAULT_CONTENT_TYPES = (
    "text/*",
    "application/json",
    "application/*+json",
    "application/x-ndjson",
    "application/javascript",
    "application/xml",
    "application/*+xml",
    "application/wasm",
    "image/svg+xml",
)
#: Never compressed: a buffering compressor would hold server-sent events back.
_NEVER = frozenset({"text/event-stream"})
_PREFERENCE = ("zstd", "br", "gzip", "deflate")
_SKIP_STATUSES = frozenset({204, 206, 304})
# The same levels as StreamResponse.enable_compression(): fast enough for dynamic content.
_ZLIB_LEVEL = 6
_BROTLI_QUALITY = 4
_ZSTD_LEVEL = 3
_UNLISTED_IDENTITY = 0.0001

_OneShot = Callable[[bytes], bytes]


def _zlib(wbits: int) -> _OneShot:
    def compress(data: bytes) -> bytes:
        obj = zlib.compressobj(_ZLIB_LEVEL, zlib.DEFLATED, wbits)
        return obj.compress(data) + obj.flush()

    return compress


def _brotli() -> _OneShot | None:
    try:  # optional dependency: the "compression" extra
        brotli: Any = importlib.import_module("brotli")
    except ImportError:
        return None
    return lambda data: bytes(brotli.compress(data, quality=_BROTLI_QUALITY))


def _zstd() -> _OneShot | None:
    for name in ("compression.zstd", "backports.zstd"):
        try:  # optional dependency: stdlib from Python 3.14, or the backport
            module: Any = importlib.import_module(name)
        except ImportError:
            continue
        return lambda data: bytes(module.compress(data, level=_ZSTD_LEVEL))
    try:  # optional dependency: the "compression" extra before Python 3.14
        zstandard: Any = importlib.import_module("zstandard")
    except ImportError:
        return None
    return lambda data: bytes(zstandard.ZstdCompressor(level=_ZSTD_LEVEL).compress(data))


def _codecs() -> dict[str, _OneShot]:
    codecs = {"gzip": _zlib(16 + zlib.MAX_WBITS), "deflate": _zlib(zlib.MAX_WBITS)}
    for name, factory in (("br", _brotli), ("zstd", _zstd)):
        codec = factory()
        if codec is not None:
            codecs[name] = codec
    return codecs


_CODECS = _codecs()


def _accept_weights(raw: str) -> dict[str, float]:
    """Accept-Encoding as coding (or ``*``) to q-value; malformed elements are skipped."""
    weights: dict[str, float] = {}
    for element in raw.split(","):
        name, _, params = element.partition(";")
        name = name.strip().lower()
        if not name:
            continue
        q = 1.0
        key, _, value = params.partition("=")
        if key.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                continue
            if not 0.0 <= q <= 1.0:
                continue
        if name == "x-gzip":
            name = "gzip"
        weights[name] = max(q, weights.get(name, -1.0))
    return weights


def _weight(weights: dict[str, float], coding: str) -> float:
    if coding in weights:
        return weights[coding]
    if "*" in weights:
        return weights["*"]
    return _UNLISTED_IDENTITY if coding == "identity" else 0.0


def _in_memory(response: web.StreamResponse) -> TypeGuard[web.Response]:
    """A Response whose whole body is bytes (not streamed): compressed in one piece."""
    return (
        isinstance(response, web.Response)
        and not response.chunked
        and isinstance(response.body, (bytes, type(None)))
    )


def _add_vary(headers: Any, token: str) -> None:
    listed = {v.strip().lower() for h in headers.getall(hdrs.VARY, ()) for v in h.split(",")}
    if "*" not in listed and token.lower() not in listed:
        headers.add(hdrs.VARY, token)


class Compression:
    """The app-wide compression policy; an instance is an ``on_response_prepare`` handler.

    ``min_size``: bodies smaller than this many bytes are sent as they are (a streamed
    body of unknown length is always compressed).  ``content_types``: shell-style media
    type patterns to compress.  ``codings``: the codings to offer, in the server's order
    of preference for ties (those whose library is missing are dropped).
    ``executor_size``: a ``Response`` body at least this large is compressed in
    ``executor`` (None: the loop's default executor) rather than on the event loop.
    """

    def __init__(
        self,
        *,
        min_size: int = 1024,
        content_types: Iterable[str] = DEFAULT_CONTENT_TYPES,
        codings: Iterable[str] = _PREFERENCE,
        executor_size: int = 32 * 1024,
        executor: Executor | None = None,
    ) -> None:
        wanted = tuple(codings)
        unknown = set(wanted) - set(_PREFERENCE)
        if unknown:
            raise ValueError(f"unknown codings {sorted(unknown)}; choose from {_PREFERENCE}")
        self.min_size = min_size
        self.codings = tuple(c for c in wanted if c in _CODECS)
        self.executor_size = executor_size
        self.executor = executor
        patterns = tuple(content_types)
        self._types = re.compile("|".join(translate(p.lower()) for p in patterns) or "(?!)")

    def compressible(self, content_type: str) -> bool:
        """True if responses of this media type (no parameters) are compressed."""
        ctype = content_type.lower()
        return ctype not in _NEVER and self._types.match(ctype) is not None

    def negotiate(self, accept_encoding: str) -> str | None:
        """The offered coding the client weighs highest, or None to send the body as it is."""
        if not accept_encoding:
            return None
        weights = _accept_weights(accept_encoding)
        best, best_q = None, 0.0
        for coding in self.codings:
            q = _weight(weights, coding)
            if q > best_q:
                best, best_q = coding, q
        # A coding weighed as much as identity wins: the client asked for codings.
        return best if best_q >= _weight(weights, "identity") else None

    async def __call__(self, request: web.BaseRequest, response: web.StreamResponse) -> None:
        """Compress ``response`` if it qualifies (``on_response_prepare`` signature)."""
        if not self._qualifies(response):
            return
        # The body now depends on Accept-Encoding, compressed or not: tell caches.
        _add_vary(response.headers, hdrs.ACCEPT_ENCODING)
        coding = self.negotiate(request.headers.get(hdrs.ACCEPT_ENCODING, ""))
        if coding is None:
            return
        if _in_memory(response):
            await self._compress_body(response, coding)
        else:
            response.enable_compression(web.ContentCoding(coding))
        etag = response.headers.get(hdrs.ETAG)
        if etag is not None and not etag.startswith("W/"):
            # A strong validator names exact bytes, and these bytes are new.
            response.headers[hdrs.ETAG] = "W/" + etag

    def _qualifies(self, response: web.StreamResponse) -> bool:
        headers = response.headers
        status = response.status
        if status < 200 or status in _SKIP_STATUSES or response.compression:
            return False
        if hdrs.CONTENT_ENCODING in headers or hdrs.CONTENT_RANGE in headers:
            return False
        if "no-transform" in headers.get(hdrs.CACHE_CONTROL, "").lower():
            return False
        if not self.compressible(response.content_type):
            return False
        if _in_memory(response):
            size: int | None = len(response.body or b"")
        else:
            size = response.content_length
        return size is None or size >= self.min_size

    async def _compress_body(self, response: web.Response, coding: str) -> None:
        body = response.body or b""
        codec = _CODECS[coding]
        if len(body) >= self.executor_size:
            loop = asyncio.get_running_loop()
            data = await loop.run_in_executor(self.executor, codec, body)
        else:
            data = codec(body)
        response.body = data
        response.headers[hdrs.CONTENT_ENCODING] = coding
        response.headers.pop(hdrs.CONTENT_LENGTH, None)  # recomputed from the new body


def setup(app: web.Application, **options: Any) -> Compression:
    """Compress ``app``'s responses (and its sub-applications'); returns the policy.

    ``options`` are :class:`Compression`'s.  Call it before the app starts.
    """
    policy = Compression(**options)
    app.on_response_prepare.append(policy)
    return policy
