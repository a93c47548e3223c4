"""Client-to-server payload masking (RFC 6455 §5.3)."""

from __future__ import annotations

__all__ = ("apply_mask",)


def apply_mask(mask: bytes, data: bytes | bytearray | memoryview, offset: int = 0) -> bytes:
    """XOR ``data`` with the 4-byte ``mask``, starting ``offset`` bytes into the key stream."""
    n = len(data)
    if not n:
        return b""
    if offset & 3:
        shift = offset & 3
        mask = mask[shift:] + mask[:shift]
    # PERF: one big-integer XOR runs in C over the whole payload; it beats a
    # bytes.translate table per key byte and any per-byte Python loop by far.
    key = mask * ((n >> 2) + 1)
    value = int.from_bytes(data, "little") ^ int.from_bytes(key[:n], "little")
    return value.to_bytes(n, "little")
