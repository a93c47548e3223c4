"""Bridges for code written against aiohttp (opt-in, one module per bridge)."""
