"""The JSON access log and request ids, through real sockets."""

from __future__ import annotations

import calendar
import json
import logging
import re
import time

from heron import web
from heron.client import ClientSession
from heron.observability import (
    REQUEST_ID,
    JsonAccessLogger,
    RequestIdFilter,
    current_request_id,
    request_id,
    request_ids,
)

from ..web.conftest import ListHandler
from .conftest import Start
from .probes import exchange

HEX_ID = re.compile(r"[0-9a-f]{32}")


async def hello(request: web.Request) -> web.Response:
    return web.Response(text=f"hello {request_id(request)}")


async def test_json_line_field_by_field(
    start: Start, records: tuple[logging.Logger, ListHandler]
) -> None:
    logger, kept = records
    app = web.Application()
    app.router.add_get("/users/{id}", hello)
    request_ids.setup(app)
    _, port = await start(app, access_log=logger, access_log_class=JsonAccessLogger)
    before = time.time()
    answer = await exchange(
        port,
        b"GET /users/7?full=1&x=%20 HTTP/1.1\r\nHost: example\r\nUser-Agent: probe/1.0\r\n"
        b"X-Request-ID: abc-123.XYZ\r\nConnection: close\r\n\r\n",
    )
    after = time.time()
    assert answer.endswith(b"hello abc-123.XYZ")
    assert b"\r\nX-Request-ID: abc-123.XYZ\r\n" in answer
    assert len(kept.records) == 1
    record = kept.records[0]
    line = record.getMessage()
    assert "\n" not in line
    fields = json.loads(line)
    assert list(fields) == [
        "time",
        "method",
        "path",
        "query",
        "status",
        "bytes",
        "duration",
        "remote",
        "request_id",
        "user_agent",
    ]
    stamp = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z", fields["time"])
    assert stamp is not None
    started = calendar.timegm(time.strptime(stamp[1], "%Y-%m-%dT%H:%M:%S"))
    started += int(stamp[2]) / 1000
    assert before - 0.002 <= started <= after
    assert fields["method"] == "GET"
    assert fields["path"] == "/users/7"
    assert fields["query"] == "full=1&x=%20"
    assert fields["status"] == 200
    assert fields["bytes"] == len(answer)  # head and body, as sent
    assert isinstance(fields["duration"], float) and 0 <= fields["duration"] <= after - before
    assert fields["remote"] == "127.0.0.1"
    assert fields["request_id"] == "abc-123.XYZ"
    assert fields["user_agent"] == "probe/1.0"
    assert record.access == fields  # type: ignore[attr-defined]


async def test_json_line_without_request_ids_or_user_agent(
    start: Start, records: tuple[logging.Logger, ListHandler]
) -> None:
    logger, kept = records
    app = web.Application()
    _, port = await start(app, access_log=logger, access_log_class=JsonAccessLogger)
    answer = await exchange(
        port, b"DELETE /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 404 ")
    fields = json.loads(kept.lines[0])
    assert fields["status"] == 404 and fields["method"] == "DELETE"
    assert fields["request_id"] is None and fields["user_agent"] is None
    assert fields["query"] == "" and fields["bytes"] == len(answer)


async def test_json_logger_off_below_info(start: Start) -> None:
    logger = logging.getLogger("heron.test.observability.quiet")
    logger.setLevel(logging.WARNING)
    app = web.Application()
    runner, _ = await start(app, access_log=logger, access_log_class=JsonAccessLogger)
    assert runner.server is not None and runner.server.access_logger is None


async def test_incoming_ids_validated_and_generated(start: Start) -> None:
    app = web.Application()
    app.router.add_get("/", hello)
    request_ids.setup(app)
    _, port = await start(app, access_log=None)
    async with ClientSession(f"http://127.0.0.1:{port}") as session:
        generated = set()
        for sent in (None, "x" * 129, "bad id", "semi;colon", "ünïcode", ""):
            headers = {} if sent is None else {"X-Request-ID": sent}
            async with session.get("/", headers=headers) as response:
                echoed = response.headers["X-Request-ID"]
                assert HEX_ID.fullmatch(echoed), (sent, echoed)
                assert await response.text() == f"hello {echoed}"
                generated.add(echoed)
        assert len(generated) == 6
        longest = "a1-._~:+/=@" + "z" * 117
        async with session.get("/", headers={"X-Request-ID": longest}) as response:
            assert response.headers["X-Request-ID"] == longest


async def test_untrusted_incoming_ids_replaced(start: Start) -> None:
    app = web.Application()
    app.router.add_get("/", hello)
    request_ids.setup(app, trust_incoming=False, header="X-Trace")
    _, port = await start(app, access_log=None)
    async with (
        ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/", headers={"X-Trace": "mine"}) as response,
    ):
        assert HEX_ID.fullmatch(response.headers["X-Trace"])


async def test_id_on_errors_streams_and_logs(
    start: Start, records: tuple[logging.Logger, ListHandler]
) -> None:
    logger, kept = records
    kept.addFilter(RequestIdFilter())
    seen: list[str | None] = []

    async def boom(request: web.Request) -> web.Response:
        seen.append(request[REQUEST_ID])
        raise RuntimeError("boom")

    async def missing(request: web.Request) -> web.Response:
        raise web.HTTPNotFound()

    async def stream(request: web.Request) -> web.StreamResponse:
        seen.append(current_request_id())
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"part")
        return response

    app = web.Application()
    app.router.add_get("/boom", boom)
    app.router.add_get("/missing", missing)
    app.router.add_get("/stream", stream)
    request_ids.setup(app)
    _, port = await start(app, access_log=None, logger=logger)
    async with ClientSession(f"http://127.0.0.1:{port}") as session:
        for path, status, rid in (
            ("/boom", 500, "r-500"),
            ("/missing", 404, "r-404"),
            ("/stream", 200, "r-200"),
            ("/no-route", 404, "r-unrouted"),
        ):
            async with session.get(path, headers={"X-Request-ID": rid}) as response:
                assert response.status == status
                assert response.headers["X-Request-ID"] == rid
    assert seen == ["r-500", "r-200"]
    # The server's own error log line carries the id through the filter.
    errors = [r for r in kept.records if r.levelno >= logging.ERROR]
    assert [r.request_id for r in errors] == ["r-500"]  # type: ignore[attr-defined]


def test_no_request_id_outside_requests() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 0, "message", (), None)
    assert RequestIdFilter().filter(record)
    assert record.request_id == "-"  # type: ignore[attr-defined]
    assert current_request_id() is None
