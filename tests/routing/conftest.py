"""Fixtures for the router tests: a plain data holder standing in for a request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from yarl import URL


@dataclass
class StandInRequest:
    """The attributes the router reads, with aiohttp's meanings."""

    method: str
    raw_path: str
    rel_url: URL
    match_info: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def make_request(method: str, target: str) -> StandInRequest:
    """A request for ``target`` (path and query, as sent on the wire)."""
    path, _, query = target.partition("?")
    url = URL.build(path=path, query_string=query, encoded=True)
    return StandInRequest(method, target, url)


@pytest.fixture
def req() -> Callable[[str, str], StandInRequest]:
    """Build a stand-in request: ``req("GET", "/a?b=c")``."""
    return make_request
