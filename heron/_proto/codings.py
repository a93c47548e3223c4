"""Sans-IO incremental compressors for response bodies: gzip, deflate, br, zstd.

Every compressor has the same shape: ``compress(data)`` returns the compressed bytes it
can emit so far (often ``b""``: the codec buffers), ``flush()`` ends the stream and
returns the rest.  ``br`` needs the ``brotli`` package and ``zstd`` needs
``compression.zstd`` (Python 3.14), ``backports.zstd`` or ``zstandard`` (the
``compression`` extra); :func:`available` says which codings this interpreter has.
"""

from __future__ import annotations

import importlib
import zlib
from typing import Any, Protocol

from .conditional import coding_weight, parse_accept_encoding

__all__ = ("PREFERENCE", "Compressor", "available", "make_compressor", "negotiate")

#: Server preference among codings the client weighs equally: best ratio per CPU first.
PREFERENCE = ("zstd", "br", "gzip", "deflate")

# Levels for content made per request: fast settings that still beat gzip's ratio.
_BROTLI_QUALITY = 4
_ZSTD_LEVEL = 3

brotli: Any
try:  # optional dependency: the "compression" extra
    import brotli  # type: ignore[import-untyped,import-not-found,no-redef,unused-ignore]
except ImportError:  # pragma: no cover - depends on the environment
    brotli = None


def _zstd_factory() -> Any:
    """A callable ``(level) -> object with compress/flush``, or None without a zstd library."""
    for name in ("compression.zstd", "backports.zstd"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        cls = module.ZstdCompressor
        return lambda level: cls(level=level)
    try:
        import zstandard  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return lambda level: zstandard.ZstdCompressor(level=level).compressobj()


_new_zstd = _zstd_factory()


class Compressor(Protocol):
    """An incremental compressor for one body."""

    def compress(self, data: bytes | bytearray | memoryview, /) -> bytes:
        """Compressed bytes for ``data`` that are ready now."""

    def flush(self) -> bytes:
        """End the stream: the remaining compressed bytes."""


class _Brotli:
    __slots__ = ("_impl",)

    def __init__(self, quality: int) -> None:
        self._impl = brotli.Compressor(quality=quality)

    def compress(self, data: bytes | bytearray | memoryview, /) -> bytes:
        return bytes(self._impl.process(data))

    def flush(self) -> bytes:
        return bytes(self._impl.finish())


def available() -> tuple[str, ...]:
    """The codings this interpreter can produce, in :data:`PREFERENCE` order."""
    missing = {"br"} if brotli is None else set()
    if _new_zstd is None:
        missing.add("zstd")
    return tuple(c for c in PREFERENCE if c not in missing)


def make_compressor(coding: str, strategy: int | None = None) -> Compressor:
    """A fresh compressor for ``coding``; ``strategy`` is zlib's (gzip and deflate only).

    Raises ``RuntimeError`` when the coding's library is not installed.
    """
    if coding in ("gzip", "deflate"):
        wbits = 16 + zlib.MAX_WBITS if coding == "gzip" else zlib.MAX_WBITS
        zstrategy = zlib.Z_DEFAULT_STRATEGY if strategy is None else strategy
        obj: Compressor = zlib.compressobj(wbits=wbits, strategy=zstrategy)
        return obj
    if coding == "br" and brotli is not None:
        return _Brotli(_BROTLI_QUALITY)
    if coding == "zstd" and _new_zstd is not None:
        zobj: Compressor = _new_zstd(_ZSTD_LEVEL)
        return zobj
    if coding in ("br", "zstd"):
        raise RuntimeError(f"{coding!r} compression needs the 'compression' extra installed")
    raise ValueError(f"unknown content coding {coding!r}")


def negotiate(accept_encoding: str, offered: tuple[str, ...]) -> str | None:
    """The coding of ``offered`` the client weighs highest (ties: ``offered`` order).

    None (send the body as it is) when the client accepts none of them or weighs
    ``identity`` above them.
    """
    if not accept_encoding:
        return None
    prefs = parse_accept_encoding(accept_encoding)
    best, best_q = None, 0.0
    for coding in offered:
        q = coding_weight(prefs, coding)
        if q > best_q:
            best, best_q = coding, q
    # A coding the client weighs as much as identity wins: it asked for codings.
    return best if best_q >= coding_weight(prefs, "identity") else None
