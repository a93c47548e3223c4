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
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .request import BaseRequest
    from .response import StreamResponse

__all__ = ("AbstractAccessLogger", "AccessLogger", "access_logger")

access_logger = logging.getLogger("heron.access")

_Atom = Callable[["BaseRequest", "StreamResponse", float], str]

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

    Atoms: ``%a`` remote address, ``%t`` start time, ``%P`` pid, ``%r`` request
    line, ``%s`` status, ``%b`` response size with headers, ``%T`` seconds,
    ``%Tf`` seconds with fraction, ``%D`` microseconds, ``%{H}i`` request
    header, ``%{H}o`` response header, ``%{V}e`` environment variable, ``%%``.
    """

    __slots__ = ("_atoms",)

    LOG_FORMAT = '%a %t "%r" %s %b "%{Referer}i" "%{User-Agent}i"'

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
            line = "".join(atom(request, response, time) for atom in self._atoms)
            self.logger.info(line)
        except Exception:
            self.logger.exception("Error in logging")


def _compile(fmt: str) -> list[_Atom]:
    atoms: list[_Atom] = []
    pos = 0
    for match in _TOKEN.finditer(fmt):
        if match.start() > pos:
            atoms.append(_literal(fmt[pos : match.start()]))
        atoms.append(_atom(match))
        pos = match.end()
    if pos < len(fmt):
        atoms.append(_literal(fmt[pos:]))
    return atoms


def _literal(text: str) -> _Atom:
    return lambda request, response, t: text


def _atom(match: re.Match[str]) -> _Atom:
    token = match.group(1)
    if match.group(2):
        key, kind = match.group(2), match.group(3)
        if kind == "i":
            return lambda request, response, t: request.headers.get(key, "-")
        if kind == "o":
            return lambda request, response, t: response.headers.get(key, "-")
        return lambda request, response, t: os.environ.get(key, "-")
    simple: dict[str, _Atom] = {
        "%": lambda request, response, t: "%",
        # As aiohttp: "-" only when there is no peer; a Unix socket's "" stays "".
        "a": lambda request, response, t: "-" if request.remote is None else request.remote,
        "t": _start_time,
        "P": lambda request, response, t: f"<{os.getpid()}>",
        "r": lambda request, response, t: (
            f"{request.method} {request.raw_path} HTTP/{request.version[0]}.{request.version[1]}"
        ),
        "s": lambda request, response, t: str(response.status),
        "b": lambda request, response, t: str(response.output_length),
        "O": lambda request, response, t: str(response.output_length),
        "T": lambda request, response, t: str(round(t)),
        "Tf": lambda request, response, t: f"{t:06f}",
        "D": lambda request, response, t: str(round(t * 1_000_000)),
    }
    return simple[token]


def _start_time(request: BaseRequest, response: StreamResponse, t: float) -> str:
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=t)
    return now.strftime("[%d/%b/%Y:%H:%M:%S +0000]")
