"""The client's exception hierarchy, named and shaped as aiohttp's.

``ClientError`` is the root.  Failures before a response head arrives are
``ClientConnectionError``s (connecting, TLS, the server hanging up, timeouts);
failures that concern a received response are ``ClientResponseError``s and carry
the request info, redirect history, status and headers; a body that breaks off
or cannot be decoded is a ``ClientPayloadError``.

Where aiohttp is installed, each of these classes is also a subclass of aiohttp's
class of the same name (see :func:`adopt_aiohttp_bases`): code written for aiohttp
that catches ``aiohttp.ClientResponseError`` or ``aiohttp.ClientConnectionError``
catches heron's client errors too.  The methods stay heron's: aiohttp's classes only
join the MRO after heron's, so ``__init__`` chains name their builtin base explicitly.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, NamedTuple

from multidict import CIMultiDictProxy, MultiMapping
from yarl import URL

if TYPE_CHECKING:
    from .response import ClientResponse

__all__ = (
    "ClientConnectionError",
    "ClientConnectionResetError",
    "ClientConnectorCertificateError",
    "ClientConnectorError",
    "ClientConnectorSSLError",
    "ClientError",
    "ClientOSError",
    "ClientPayloadError",
    "ClientResponseError",
    "ClientSSLError",
    "ConnectionKey",
    "ConnectionTimeoutError",
    "ContentTypeError",
    "InvalidURL",
    "InvalidUrlClientError",
    "InvalidUrlRedirectClientError",
    "NonHttpUrlClientError",
    "NonHttpUrlRedirectClientError",
    "RedirectClientError",
    "RequestInfo",
    "ServerConnectionError",
    "ServerDisconnectedError",
    "ServerTimeoutError",
    "SocketTimeoutError",
    "TooManyRedirects",
    "adopt_aiohttp_bases",
)


class RequestInfo(NamedTuple):
    """What was sent: the URL after redirects, method, headers and the original URL."""

    url: URL
    method: str
    headers: CIMultiDictProxy[str]
    real_url: URL


class ConnectionKey(NamedTuple):
    """Identifies a pool of interchangeable connections."""

    host: str
    port: int
    is_ssl: bool
    ssl: ssl.SSLContext | bool | None


# Python-level stand-ins for the builtin bases: a class whose bases are to change (see
# adopt_aiohttp_bases) must not have a builtin exception as its first layout base.
class _ExceptionBase(Exception):
    pass


class _ResetBase(ConnectionResetError):
    pass


class _OSErrorBase(OSError):
    pass


class _TimeoutBase(asyncio.TimeoutError):
    pass


class ClientError(_ExceptionBase):
    """Base class of every client error."""


class ClientResponseError(ClientError):
    """A problem with a received response (or its status, via ``raise_for_status``)."""

    def __init__(
        self,
        request_info: RequestInfo,
        history: Sequence[ClientResponse],
        *,
        status: int | None = None,
        message: str = "",
        headers: MultiMapping[str] | None = None,
    ) -> None:
        self.request_info = request_info
        self.history: tuple[ClientResponse, ...] = tuple(history)
        self.status = 0 if status is None else status
        self.message = message
        self.headers = headers
        self.args = (request_info, self.history)

    def __str__(self) -> str:
        return f"{self.status}, message={self.message!r}, url={str(self.request_info.real_url)!r}"

    def __repr__(self) -> str:
        extra = ""
        if self.status:
            extra += f", status={self.status!r}"
        if self.message:
            extra += f", message={self.message!r}"
        return f"{type(self).__name__}({self.request_info!r}, {self.history!r}{extra})"


class ContentTypeError(ClientResponseError):
    """``ClientResponse.json()`` found a Content-Type it was not told to accept."""


class TooManyRedirects(ClientResponseError):
    """More redirects than ``max_redirects`` were followed."""


class ClientConnectionError(ClientError):
    """Base class for errors on the connection rather than in a response."""


class ClientConnectionResetError(ClientConnectionError, _ResetBase):
    """Writing to a connection that was already closed."""


class ClientOSError(ClientConnectionError, _OSErrorBase):
    """An ``OSError`` raised by the socket layer."""


class ClientConnectorError(ClientOSError):
    """Connecting to ``host:port`` failed."""

    def __init__(self, connection_key: ConnectionKey, os_error: OSError) -> None:
        self._conn_key = connection_key
        self._os_error = os_error
        OSError.__init__(self, os_error.errno, os_error.strerror)
        self.args = (connection_key, os_error)

    @property
    def os_error(self) -> OSError:
        """The underlying socket error."""
        return self._os_error

    @property
    def host(self) -> str:
        """The host that could not be reached."""
        return self._conn_key.host

    @property
    def port(self) -> int:
        """The port that could not be reached."""
        return self._conn_key.port

    @property
    def ssl(self) -> ssl.SSLContext | bool | None:
        """The TLS setting used for the attempt."""
        return self._conn_key.ssl

    def __str__(self) -> str:
        return (
            f"Cannot connect to host {self.host}:{self.port} "
            f"ssl:{'default' if self.ssl is True else self.ssl} [{self._os_error.strerror}]"
        )

    __reduce__ = BaseException.__reduce__


class ClientSSLError(ClientConnectorError):
    """The TLS handshake failed."""


class ClientConnectorSSLError(ClientSSLError, ssl.SSLError):
    """The TLS handshake failed for a reason other than certificate verification."""


class ClientConnectorCertificateError(ClientSSLError, ssl.CertificateError):
    """The server's certificate could not be verified."""

    def __str__(self) -> str:
        return (
            f"Cannot connect to host {self.host}:{self.port} ssl:{self.ssl} "
            f"[{type(self._os_error).__name__}: {self._os_error}]"
        )


class ServerConnectionError(ClientConnectionError):
    """Base class for failures of an established server connection."""


class ServerDisconnectedError(ServerConnectionError):
    """The server closed the connection before sending a (complete) response head."""

    def __init__(self, message: str | None = None) -> None:
        if message is None:
            message = "Server disconnected"
        self.message = message
        Exception.__init__(self, message)


class ServerTimeoutError(ServerConnectionError, _TimeoutBase):
    """A client timeout expired (total, connect or socket read)."""


class ConnectionTimeoutError(ServerTimeoutError):
    """Connecting (including waiting for a free pool slot) took too long."""


class SocketTimeoutError(ServerTimeoutError):
    """No bytes arrived from the server for ``sock_read`` seconds."""


class ClientPayloadError(ClientError):
    """The response body broke off, was malformed, or could not be decoded."""


class InvalidURL(ClientError, ValueError):
    """The URL cannot be requested (no host, unsupported scheme...)."""

    def __init__(self, url: str | URL, description: str | None = None) -> None:
        self._url = url
        self._description = description
        if description:
            ValueError.__init__(self, url, description)
        else:
            ValueError.__init__(self, url)

    @property
    def url(self) -> str | URL:
        """The offending URL."""
        return self._url

    @property
    def description(self) -> str | None:
        """Why the URL was rejected, if known."""
        return self._description

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self}>"

    def __str__(self) -> str:
        if self._description:
            return f"{self._url} - {self._description}"
        return str(self._url)


class InvalidUrlClientError(InvalidURL):
    """The requested URL is invalid."""


class RedirectClientError(ClientError):
    """Base class for redirects that cannot be followed."""


class NonHttpUrlClientError(ClientError):
    """The requested URL's scheme is not http(s)."""


class InvalidUrlRedirectClientError(InvalidUrlClientError, RedirectClientError):
    """A redirect pointed at an invalid URL."""


class NonHttpUrlRedirectClientError(NonHttpUrlClientError, RedirectClientError):
    """A redirect pointed at a non-http(s) URL."""


def _aiohttp_exceptions() -> ModuleType | None:
    """aiohttp's client exception module, when aiohttp is installed and imports."""
    try:
        import aiohttp.client_exceptions as module
    except Exception:  # not installed, or broken: no reason to break heron's client
        return None
    return module


_AIOHTTP_EXCEPTIONS = _aiohttp_exceptions()


def adopt_aiohttp_bases(*classes: type[BaseException]) -> None:
    """Make each class also a subclass of aiohttp's exception of the same name.

    Parents must come before their subclasses.  The counterpart joins the class's
    bases last, replacing the builtin bases it already derives from (``OSError``,
    ``ValueError``...).  A class aiohttp lacks, or whose bases cannot change (an
    incompatible aiohttp), stays as it is.  Without aiohttp this does nothing.
    """
    module = _AIOHTTP_EXCEPTIONS
    if module is None:
        return
    for cls in classes:
        counterpart = getattr(module, cls.__name__, None)
        if not isinstance(counterpart, type) or issubclass(cls, counterpart):
            continue
        kept = tuple(base for base in cls.__bases__ if not issubclass(counterpart, base))
        with contextlib.suppress(TypeError):
            cls.__bases__ = (*kept, counterpart)


adopt_aiohttp_bases(
    *(
        value
        for value in list(globals().values())
        if isinstance(value, type)
        and issubclass(value, BaseException)
        and value.__module__ == __name__
        and not value.__name__.startswith("_")
    )
)
