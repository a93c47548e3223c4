"""Web-layer tests reuse the engine's real-socket fixtures (server and h11 raw client),
and share a logger that keeps what it is given (the access-log tests)."""

from __future__ import annotations

import logging

import pytest

from ..engine.conftest import raw, serve, started

__all__ = ("ListHandler", "access", "raw", "serve", "started")


class ListHandler(logging.Handler):
    """Keeps every record it is given; ``lines`` are their messages."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def lines(self) -> list[str]:
        return [record.getMessage() for record in self.records]


@pytest.fixture
def access() -> tuple[logging.Logger, ListHandler]:
    """A logger of its own (INFO, not propagated) and the handler that keeps its records."""
    logger = logging.getLogger(f"heron.test.access.{id(object())}")
    logger.setLevel(logging.INFO)
    handler = ListHandler()
    logger.addHandler(handler)
    logger.propagate = False
    return logger, handler
