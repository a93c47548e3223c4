"""heron's HTTP/1.1 client: aiohttp's ``ClientSession`` API on heron's own protocol code.

Responses are parsed with httptools and their bodies stream through heron's
``StreamReader``; connections are pooled per (host, port, TLS setting).
``ClientSession.ws_connect`` opens WebSockets on the same protocol code as the server.
"""

from .auth import BasicAuth
from .connector import BaseConnector, Connection, TCPConnector
from .cookiejar import CookieJar, DummyCookieJar
from .exceptions import (
    ClientConnectionError,
    ClientConnectionResetError,
    ClientConnectorCertificateError,
    ClientConnectorError,
    ClientConnectorSSLError,
    ClientError,
    ClientOSError,
    ClientPayloadError,
    ClientResponseError,
    ClientSSLError,
    ConnectionTimeoutError,
    ContentTypeError,
    InvalidURL,
    InvalidUrlClientError,
    InvalidUrlRedirectClientError,
    NonHttpUrlClientError,
    NonHttpUrlRedirectClientError,
    RedirectClientError,
    RequestInfo,
    ServerConnectionError,
    ServerDisconnectedError,
    ServerTimeoutError,
    SocketTimeoutError,
    TooManyRedirects,
)
from .formdata import FormData
from .protocol import HttpVersion
from .response import ClientResponse
from .session import ClientSession
from .timeouts import ClientTimeout
from .ws import ClientWebSocketResponse, WSServerHandshakeError

__all__ = (
    "BaseConnector",
    "BasicAuth",
    "ClientConnectionError",
    "ClientConnectionResetError",
    "ClientConnectorCertificateError",
    "ClientConnectorError",
    "ClientConnectorSSLError",
    "ClientError",
    "ClientOSError",
    "ClientPayloadError",
    "ClientResponse",
    "ClientResponseError",
    "ClientSSLError",
    "ClientSession",
    "ClientTimeout",
    "ClientWebSocketResponse",
    "Connection",
    "ConnectionTimeoutError",
    "ContentTypeError",
    "CookieJar",
    "DummyCookieJar",
    "FormData",
    "HttpVersion",
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
    "TCPConnector",
    "TooManyRedirects",
    "WSServerHandshakeError",
)
