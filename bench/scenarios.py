"""The scenario registry: name -> what wrk requests, how, and from which app.

Adding a scenario is adding one ``Scenario`` to ``_SCENARIOS`` (and, if it needs a new route or
app option, a route in ``app.py`` and a flag in ``serve.py`` listed in ``server_args``).
``routes-N`` for any N is built on demand by ``get_scenario``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app import DEFAULT_ROUTES, PLAINTEXT

ECHO_SIZE = 4096
PIPELINE_DEPTH = 16
ITEM_URL = "/api/v1/items/42?fields=name,price"
ROUTING_SIZES = (10, 100, 1000)
_ROUTES_RE = re.compile(r"routes-(\d+)")


@dataclass(frozen=True)
class Scenario:
    """One thing to measure: a request (path, method, optional wrk lua script) against an app."""

    name: str
    description: str
    path: str
    method: str = "GET"
    script: str | None = None  # a lua file in bench/, passed to wrk with -s
    script_args: tuple[str, ...] = ()  # passed to the script after "--"
    body: bytes | None = None  # what the script sends, for the pre-flight check
    expect_status: int = 200
    expect_body: bytes | None = None  # checked by the pre-flight request when given
    routes: int = DEFAULT_ROUTES  # app option: size of the API route table
    ceiling: bool = False  # also meaningful against the canned-bytes ceiling server
    latency: bool = True  # False: wrk's percentiles are meaningless (pipelining reports 0)

    def server_args(self) -> list[str]:
        """Extra ``serve.py`` arguments that build the app this scenario needs."""
        return ["--routes", str(self.routes)]


def routing_scenario(routes: int) -> Scenario:
    """The dynamic-route-with-query request against an app with ``routes`` API routes."""
    return Scenario(
        name=f"routes-{routes}",
        description=f"dynamic route + query string, matched among {routes} API routes",
        path=ITEM_URL,
        routes=routes,
    )


_SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="plaintext",
        description="GET /plaintext: the minimal request/response cycle",
        path="/plaintext",
        expect_body=PLAINTEXT.encode(),
        ceiling=True,
    ),
    Scenario(
        name="json",
        description="GET /json: json_response of a small dict",
        path="/json",
    ),
    Scenario(
        name="routing",
        description=f"GET {ITEM_URL}: dynamic route among {DEFAULT_ROUTES}, query parsed",
        path=ITEM_URL,
    ),
    Scenario(
        name="echo",
        description=f"POST /echo with a {ECHO_SIZE} B body read by await request.read()",
        path="/echo",
        method="POST",
        script="post.lua",
        script_args=(str(ECHO_SIZE),),
        body=b"x" * ECHO_SIZE,
        expect_body=b"x" * ECHO_SIZE,
    ),
    Scenario(
        name="middleware",
        description="GET /sub/hello: sub-app behind three trivial @web.middleware",
        path="/sub/hello",
        expect_body=PLAINTEXT.encode(),
    ),
    Scenario(
        name="notfound",
        description="GET /no/such/path: the router's 404",
        path="/no/such/path",
        expect_status=404,
    ),
    Scenario(
        name="pipeline",
        description=f"GET /plaintext pipelined {PIPELINE_DEPTH} deep (wrk lua)",
        path="/plaintext",
        script="pipeline.lua",
        script_args=(str(PIPELINE_DEPTH),),
        expect_body=PLAINTEXT.encode(),
        ceiling=True,
        latency=False,
    ),
    *(routing_scenario(n) for n in ROUTING_SIZES),
)

SCENARIOS: dict[str, Scenario] = {s.name: s for s in _SCENARIOS}


def get_scenario(name: str) -> Scenario:
    """Return the scenario called ``name``; ``routes-N`` works for any N >= 1."""
    if name in SCENARIOS:
        return SCENARIOS[name]
    match = _ROUTES_RE.fullmatch(name)
    if match and int(match.group(1)) >= 1:
        return routing_scenario(int(match.group(1)))
    known = ", ".join(SCENARIOS)
    raise KeyError(f"unknown scenario {name!r}; known: {known}, routes-N")
