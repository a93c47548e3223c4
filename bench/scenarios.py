"""The scenario registry: name -> what is measured, how, and against which app.

A scenario's ``kind`` says which measuring function of ``run.py`` takes it: ``wrk`` (wrk's
req/s and latencies), ``ws`` (``ws.py``'s WebSocket echo load: messages/s) or ``idle``
(``memory.py``: the server's RSS while a client holds idle connections).

Adding a scenario is adding one ``Scenario`` to ``_SCENARIOS`` (and, if it needs a new route or
app option, a route in ``app.py`` and a flag in ``serve.py`` listed in ``server_args``).
``routes-N`` for any N is built on demand by ``get_scenario``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from app import (
    DEFAULT_ROUTES,
    PLAINTEXT,
    STATIC_FILE,
    STATIC_PREFIX,
    STATIC_SIZE,
    WS_PATH,
    static_body,
)

ECHO_SIZE = 4096
PIPELINE_DEPTH = 16
ITEM_URL = "/api/v1/items/42?fields=name,price"
ROUTING_SIZES = (10, 100, 1000)
_ROUTES_RE = re.compile(r"routes-(\d+)")
#: Listen backlog of the memory scenarios' servers (the kernel caps it at net.core.somaxconn).
IDLE_BACKLOG = 4096
#: The HTTP scenarios the summary's geometric mean of heron/aiohttp req/s is taken over.
HTTP_SUMMARY = (
    "plaintext",
    "json",
    "routing",
    "echo",
    "static",
    "middleware",
    "notfound",
    "pipeline",
)


@dataclass(frozen=True)
class Scenario:
    """One thing to measure: a request (path, method, optional wrk lua script) against an app."""

    name: str
    description: str
    path: str
    kind: Literal["wrk", "ws", "idle"] = "wrk"
    method: str = "GET"
    script: str | None = None  # a lua file in bench/, passed to wrk with -s
    script_args: tuple[str, ...] = ()  # passed to the script after "--"
    body: bytes | None = None  # what the script sends, for the pre-flight check
    expect_status: int = 200
    expect_body: bytes | None = None  # checked by the pre-flight request when given
    routes: int = DEFAULT_ROUTES  # app option: size of the API route table
    ceiling: bool = False  # also meaningful against the canned-bytes ceiling server
    latency: bool = True  # False: wrk's percentiles are meaningless (pipelining reports 0)
    static: bool = False  # app option: serve the static directory (``--static-dir``)
    websocket: bool = False  # ``path`` is a WebSocket endpoint (ws and idle kinds)
    compress: bool = False  # ws: offer permessage-deflate
    backlog: int | None = None  # server option: listen backlog (None: run_app's default)

    def server_args(self, static_dir: Path | None = None) -> list[str]:
        """Extra ``serve.py`` arguments that build the app this scenario needs."""
        args = ["--routes", str(self.routes)]
        if self.static:
            if static_dir is None:
                raise ValueError(f"scenario {self.name} needs a static directory")
            args += ["--static-dir", str(static_dir)]
        if self.backlog is not None:
            args += ["--backlog", str(self.backlog)]
        return args


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
        name="static",
        description=f"GET {STATIC_PREFIX}/{STATIC_FILE}: a {STATIC_SIZE // 1024} KiB file",
        path=f"{STATIC_PREFIX}/{STATIC_FILE}",
        expect_body=static_body(),
        static=True,
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
    Scenario(
        name="ws",
        description=f"WebSocket echo on {WS_PATH}: small text messages, no compression",
        path=WS_PATH,
        kind="ws",
        websocket=True,
    ),
    Scenario(
        name="ws-deflate",
        description=f"WebSocket echo on {WS_PATH}: small text messages, permessage-deflate",
        path=WS_PATH,
        kind="ws",
        websocket=True,
        compress=True,
    ),
    Scenario(
        name="mem-http",
        description="server RSS holding idle keep-alive HTTP connections (one GET each)",
        path="/plaintext",
        kind="idle",
        backlog=IDLE_BACKLOG,
    ),
    Scenario(
        name="mem-ws",
        description=f"server RSS holding idle WebSockets on {WS_PATH} (handshake only)",
        path=WS_PATH,
        kind="idle",
        websocket=True,
        backlog=IDLE_BACKLOG,
    ),
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
