"""Access logging with aiohttp's format atoms, compiled once per format.

``AccessLogger(logger, fmt)`` turns ``fmt`` into a list of small functions at
construction; logging a request runs them and joins the pieces, with no
format parsing on the request path.
"""

from __future__ import annotations

import datetime
import logging
import os
import re
import time as _time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from .request import BaseRequest
    from .response import StreamResponse

__all__ = ("AbstractAccessLogger", "AccessLogger", "access_logger", "bytes_sent")

# aiohttp's logger names: logging configured for an aiohttp app applies unchanged.
access_logger = logging.getLogger("aiohttp.access")

_Atom = Callable[["BaseRequest | None", "StreamResponse", float], Any]

_TOKEN = re.compile(r"%(\{([A-Za-z0-9\-_]+)\}([ioe])|[atPrsbOD]|Tf?|%)")


class AbstractAccessLogger(ABC):
    """Subclass and implement ``log`` to write access logs your own way."""

    __slots__ = ("log_format", "logger")

    def __init__(self, logger: logging.Logger, log_format: str) -> None:
        self.logger = logger
        self.log_format = log_format

    @abstractmethod
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Record one request/response pair; ``time`` is the handling time in seconds."""

    @property
    def enabled(self) -> bool:
        """False when the logger would drop the record anyway (saves the formatting)."""
        return True


class AccessLogger(AbstractAccessLogger):
    """The default access logger.

    Atoms: ``%a`` remote address, ``%t`` start time (local time with its UTC offset),
    ``%P`` pid, ``%r`` request line, ``%s`` status, ``%b`` response size with headers,
    ``%T`` seconds, ``%Tf`` seconds with fraction, ``%D`` microseconds, ``%{H}i``
    request header, ``%{H}o`` response header, ``%{V}e`` environment variable, ``%%``.

    Each record also carries the atoms' values by name in its ``extra`` fields, as
    aiohttp's does (``remote_address``, ``request_start_time``, ``process_id``,
    ``first_request_line``, ``response_status``, ``response_size``, ``request_time``,
    ``request_time_frac``, ``request_time_micro``; headers as dicts under
    ``request_header`` / ``response_header``), for structured log formatters.
    """

    __slots__ = ("_atoms",)

    LOG_FORMAT = '%a %t "%r" %s %b "%{Referer}i" "%{User-Agent}i"'

    # The local UTC offset, re-read every half hour (DST changes happen on those).
    _cached_tz: ClassVar[datetime.timezone | None] = None
    _cached_tz_expires: ClassVar[float] = 0.0

    def __init__(self, logger: logging.Logger, log_format: str = LOG_FORMAT) -> None:
        super().__init__(logger, log_format)
        self._atoms = _compile(log_format)

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        try:
            parts: list[str] = []
            extra: dict[str, Any] = {}
            for key, sub, atom in self._atoms:
                value = atom(request, response, time)
                parts.append(value if type(value) is str else str(value))
                if sub is not None:
                    group = extra.get(key)
                    if group is None:
                        group = extra[key] = {}
                    group[sub] = value
                elif key:
                    extra[key] = value
            self.logger.info("".join(parts), extra=extra)
        except Exception:
            self.logger.exception("Error in logging")

    @classmethod
    def _local_now(cls) -> datetime.datetime:
        tz = cls._cached_tz
        if tz is None or _time.time() >= cls._cached_tz_expires:
            offset = _time.localtime().tm_gmtoff
            tz = cls._cached_tz = datetime.timezone(datetime.timedelta(seconds=offset))
            now = datetime.datetime.now(tz)
            # Valid until the next hour or half hour.
            minutes = 30 - now.minute % 30
            expires = now.replace(second=0, microsecond=0) + datetime.timedelta(minutes=minutes)
            cls._cached_tz_expires = expires.timestamp()
            return now
        return datetime.datetime.now(tz)


# (extra key, sub key for header dicts, value); key "" marks literal text.
_Field = tuple[str, "str | None", _Atom]


def _compile(fmt: str) -> list[_Field]:
    fields: list[_Field] = []
    pos = 0
    for match in _TOKEN.finditer(fmt):
        if match.start() > pos:
            fields.append(("", None, _literal(fmt[pos : match.start()])))
        fields.append(_field(match))
        pos = match.end()
    if pos < len(fmt):
        fields.append(("", None, _literal(fmt[pos:])))
    return fields


def _literal(text: str) -> _Atom:
    return lambda request, response, t: text


def _remote(request: BaseRequest | None, response: StreamResponse, t: float) -> str:
    if request is None:
        return "-"
    remote = request.remote
    # "-" only when there is no peer; a Unix socket's "" stays "".
    return "-" if remote is None else remote


def _request_line(request: BaseRequest | None, response: StreamResponse, t: float) -> str:
    if request is None:
        return "-"
    version = request.version
    return f"{request.method} {request.raw_path} HTTP/{version[0]}.{version[1]}"


def _field(match: re.Match[str]) -> _Field:
    token = match.group(1)
    if match.group(2):
        key, kind = match.group(2), match.group(3)
        if kind == "i":

            def request_header(
                request: BaseRequest | None, response: StreamResponse, t: float
            ) -> str:
                return "(no headers)" if request is None else request.headers.get(key, "-")

            return ("request_header", key, request_header)
        if kind == "o":
            return (
                "response_header",
                key,
                lambda request, response, t: response.headers.get(key, "-"),
            )
        return ("environment", key, lambda request, response, t: os.environ.get(key, "-"))
    fields: dict[str, _Field] = {
        "%": ("", None, _literal("%")),
        "a": ("remote_address", None, _remote),
        "t": ("request_start_time", None, _start_time),
        "P": ("process_id", None, lambda request, response, t: f"<{os.getpid()}>"),
        "r": ("first_request_line", None, _request_line),
        "s": ("response_status", None, lambda request, response, t: response.status),
        "b": ("response_size", None, _response_size),
        "O": ("response_size", None, _response_size),
        "T": ("request_time", None, lambda request, response, t: str(round(t))),
        "Tf": ("request_time_frac", None, lambda request, response, t: f"{t:06f}"),
        "D": ("request_time_micro", None, lambda request, response, t: str(round(t * 1_000_000))),
    }
    return fields[token]


def _response_size(request: BaseRequest | None, response: StreamResponse, t: float) -> Any:
    return bytes_sent(response)


def bytes_sent(response: StreamResponse) -> Any:
    """Bytes sent for ``response``, head included: the figure aiohttp logs as ``%b``.

    A response-like object of another class (a test's stand-in) is asked for its
    ``body_length``, as aiohttp asks, and whatever it answers is returned.
    """
    sent = getattr(type(response), "_bytes_sent", None)
    if sent is not None:
        return sent(response)
    return response.body_length


def _start_time(request: BaseRequest | None, response: StreamResponse, t: float) -> str:
    start = AccessLogger._local_now() - datetime.timedelta(seconds=t)
    return start.strftime("[%d/%b/%Y:%H:%M:%S %z]")
