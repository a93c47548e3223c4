"""Web-layer tests reuse the engine's real-socket fixtures (server and h11 raw client)."""

from ..engine.conftest import raw, serve, started

__all__ = ("raw", "serve", "started")
