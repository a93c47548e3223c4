"""JsonAccessLogger: the access log as one JSON object per line."""

from __future__ import annotations

import logging
import time as _time
from typing import Any, ClassVar

from .. import web
from .._util.fastjson import dumps
from .._web.log import bytes_sent
from .request_ids import request_id

__all__ = ("JsonAccessLogger",)


class JsonAccessLogger(web.AbstractAccessLogger):
    """One JSON object per request, on one line: for log pipelines.

    Pass it as ``access_log_class`` to ``run_app``, ``AppRunner`` or ``web.Server``; the
    ``access_log_format`` argument is accepted and ignored.  Each record's message is the
    JSON text, and its ``access`` attribute holds the same fields as a dict::

        {"time": "2026-01-31T12:00:00.123Z", "method": "GET", "path": "/users/7",
         "query": "", "status": 200, "bytes": 153, "duration": 0.000412,
         "remote": "203.0.113.9", "request_id": "5d41...", "user_agent": "curl/8.5"}

    ``path``: the decoded path; ``query``: the query string as sent (percent-encoded).
    ``time``: when handling began (UTC, milliseconds); ``bytes``: bytes sent, head
    included (aiohttp's ``%b``); ``duration``: handling time in seconds; ``remote``:
    ``request.remote`` (the client, once a trusted proxy's headers are resolved);
    ``request_id``: ``request[REQUEST_ID]``, null without ``request_ids.setup(app)``;
    ``user_agent``: the header, or null.
    """

    __slots__ = ()

    # "YYYY-MM-DDTHH:MM:SS" of the last second formatted: one strftime per second.
    _second: ClassVar[int] = -1
    _second_text: ClassVar[str] = ""

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        try:
            fields: dict[str, Any] = {
                "time": _utc_timestamp(_time.time() - time),
                "method": request.method,
                "path": request.path,
                "query": _raw_query(request.raw_path),
                "status": response.status,
                "bytes": bytes_sent(response),
                "duration": round(time, 6),
                "remote": request.remote,
                "request_id": request_id(request),
                "user_agent": request.headers.get("User-Agent"),
            }
            logger = self.logger
            # PERF: bench/observability_cost.py "json-log": logger.info() would look up its
            # caller's frame for every record (the same line each time); the record is
            # built directly, as logger.info builds it when logging._srcfile is None.
            record = logger.makeRecord(
                logger.name,
                logging.INFO,
                __file__,
                0,
                dumps(fields),
                (),
                None,
                extra={"access": fields},
            )
            logger.handle(record)
        except Exception:
            self.logger.exception("Error in logging")


def _raw_query(target: str) -> str:
    """The query string as sent (still percent-encoded), without a fragment."""
    query = target.partition("?")[2]
    return query.partition("#")[0] if "#" in query else query


def _utc_timestamp(when: float) -> str:
    """``when`` in RFC 3339 UTC with milliseconds."""
    second = int(when)
    cls = JsonAccessLogger
    if second != cls._second:
        cls._second_text = _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(second))
        cls._second = second
    return f"{cls._second_text}.{int((when - second) * 1000):03d}Z"
