"""``ClientSession``: requests, redirects, cookies, timeouts over a pooled connector."""

from __future__ import annotations

import asyncio
import contextlib
import json as jsonlib
import ssl
import sys
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Final

from multidict import CIMultiDict, CIMultiDictProxy, istr
from yarl import URL

from .. import hdrs
from .._version import __version__
from . import propagation as _propagation
from .auth import BasicAuth
from .connector import BaseConnector, Connection, TCPConnector
from .context import AwaitableContext
from .cookiejar import CookieJar, LooseCookies
from .decoding import ACCEPT_ENCODING
from .exceptions import (
    ClientConnectionError,
    ClientOSError,
    ClientResponseError,
    ConnectionKey,
    InvalidUrlClientError,
    InvalidUrlRedirectClientError,
    NonHttpUrlClientError,
    NonHttpUrlRedirectClientError,
    RequestInfo,
    ServerDisconnectedError,
    ServerTimeoutError,
    TooManyRedirects,
)
from .protocol import BadResponseError, ClientProtocol, HttpVersion
from .request import BytesPayload, JSONEncoder, Payload, make_payload, serialize_head, write_body
from .response import ClientResponse
from .timeouts import DEFAULT_TIMEOUT, ClientTimeout
from .ws import WSConnectContextManager, ws_connect

__all__ = ("ClientSession", "RequestContextManager")

USER_AGENT: Final = f"Python/{sys.version_info[0]}.{sys.version_info[1]} heron/{__version__}"
_HTTP_SCHEMES = frozenset({"http", "https"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_EMPTY_BODY_LENGTH_METHODS = frozenset({"POST", "PUT", "PATCH"})
# A redirect's own body is read (to keep the connection) only when at most this big.
_DISCARD_LIMIT = 2**16

RaiseForStatus = bool | Callable[[ClientResponse], Awaitable[None]]
LooseHeaders = Mapping[str, str] | Mapping[istr, str] | Iterable[tuple[str, str]]


class _Unset:
    __slots__ = ()


_UNSET: Final = _Unset()


class RequestContextManager(AwaitableContext[ClientResponse]):
    """Awaitable for the response, or ``async with`` it to release the response at exit."""

    __slots__ = ()


_HTTP10 = HttpVersion(1, 0)
_HTTP11 = HttpVersion(1, 1)


def _parse_version(version: tuple[int, int] | str) -> HttpVersion:
    """``HttpVersion(1, 0)``, ``(1, 1)`` or ``"1.0"`` -> an HttpVersion (1.0 or 1.1 only)."""
    if isinstance(version, str):
        major, _, minor = version.partition(".")
        try:
            parsed = HttpVersion(int(major), int(minor))
        except ValueError:
            raise ValueError(f"Can not parse http version number: {version}") from None
    else:
        parsed = HttpVersion(*version)
    if parsed not in (_HTTP10, _HTTP11):
        raise ValueError(f"Unsupported HTTP version {version!r} (1.0 and 1.1 are)")
    return parsed


def _remaining(deadline: float | None, loop: asyncio.AbstractEventLoop) -> float | None:
    if deadline is None:
        return None
    left = deadline - loop.time()
    if left <= 0:
        raise ServerTimeoutError("Total timeout of the request expired")
    return left


def _min_timeout(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _host_header(url: URL) -> str:
    host = url.raw_host or ""
    if ":" in host:
        host = f"[{host}]"
    if url.explicit_port is not None and not url.is_default_port():
        host = f"{host}:{url.port}"
    return host


class ClientSession:
    """A set of requests sharing a connection pool, cookies, default headers and timeouts."""

    def __init__(
        self,
        base_url: str | URL | None = None,
        *,
        connector: BaseConnector | None = None,
        cookies: LooseCookies | None = None,
        headers: LooseHeaders | None = None,
        skip_auto_headers: Iterable[str] | None = None,
        auth: BasicAuth | None = None,
        json_serialize: JSONEncoder = jsonlib.dumps,
        cookie_jar: CookieJar | None = None,
        connector_owner: bool = True,
        raise_for_status: RaiseForStatus = False,
        timeout: ClientTimeout | _Unset = _UNSET,
        auto_decompress: bool = True,
        read_bufsize: int = 2**16,
        requote_redirect_url: bool = True,
        version: tuple[int, int] | str = _HTTP11,
    ) -> None:
        self._version = _parse_version(version)
        if base_url is None or isinstance(base_url, URL):
            self._base_url = base_url
        else:
            self._base_url = URL(base_url)
        if self._base_url is not None:
            if not self._base_url.absolute:
                raise ValueError("Only absolute URLs are supported as base_url")
            if not self._base_url.path.endswith("/"):
                raise ValueError("base_url must have a trailing '/'")
        if connector is not None and not isinstance(connector, BaseConnector):
            # e.g. an aiohttp.TCPConnector: its pool speaks aiohttp's protocol objects.
            raise TypeError(
                f"connector must be a heron.client connector, not {type(connector).__name__!r}"
            )
        self._connector: BaseConnector | None = (
            connector if connector is not None else TCPConnector()
        )
        self._connector_owner = connector_owner
        self._cookie_jar = cookie_jar if cookie_jar is not None else CookieJar()
        if cookies is not None:
            self._cookie_jar.update_cookies(cookies)
        self._default_headers: CIMultiDict[str] = CIMultiDict(headers or {})
        self._skip_auto_headers = frozenset(istr(h) for h in skip_auto_headers or ())
        self._default_auth = auth
        self._json_serialize = json_serialize
        self._raise_for_status = raise_for_status
        self._timeout = DEFAULT_TIMEOUT if isinstance(timeout, _Unset) else timeout
        self._auto_decompress = auto_decompress
        self._read_bufsize = read_bufsize
        self._requote_redirect_url = requote_redirect_url

    def __del__(self, _warnings: Any = warnings) -> None:
        connector = getattr(self, "_connector", None)  # None too if __init__ failed
        if connector is not None and not connector.closed:
            _warnings.warn(f"Unclosed client session {self!r}", ResourceWarning, source=self)

    # ------------------------------------------------------------------ properties

    @property
    def closed(self) -> bool:
        """True once the session (or its connector) is closed."""
        return self._connector is None or self._connector.closed

    @property
    def connector(self) -> BaseConnector | None:
        """The connection pool."""
        return self._connector

    @property
    def cookie_jar(self) -> CookieJar:
        """The cookies stored by this session."""
        return self._cookie_jar

    @property
    def headers(self) -> CIMultiDict[str]:
        """Headers sent with every request."""
        return self._default_headers

    @property
    def version(self) -> HttpVersion:
        """The HTTP version of requests (``HttpVersion(1, 1)`` unless given)."""
        return self._version

    @property
    def timeout(self) -> ClientTimeout:
        """The default timeouts."""
        return self._timeout

    @property
    def auto_decompress(self) -> bool:
        """Whether gzip/deflate bodies are decoded."""
        return self._auto_decompress

    @property
    def raise_for_status(self) -> RaiseForStatus:
        """The default for raising on 4xx/5xx."""
        return self._raise_for_status

    # ------------------------------------------------------------------ lifecycle

    async def close(self) -> None:
        """Close the session (and its connector, if the session owns it)."""
        connector = self._connector
        if connector is not None:
            if self._connector_owner:
                await connector.close()
            self._connector = None

    async def __aenter__(self) -> ClientSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ request API

    def request(self, method: str, url: str | URL, **kwargs: Any) -> RequestContextManager:
        """Send a request; await the result or use it with ``async with``."""
        return RequestContextManager(self._request(method, url, **kwargs))

    def get(
        self, url: str | URL, *, allow_redirects: bool = True, **kwargs: Any
    ) -> RequestContextManager:
        """Send a GET request."""
        return self.request(hdrs.METH_GET, url, allow_redirects=allow_redirects, **kwargs)

    def options(
        self, url: str | URL, *, allow_redirects: bool = True, **kwargs: Any
    ) -> RequestContextManager:
        """Send an OPTIONS request."""
        return self.request(hdrs.METH_OPTIONS, url, allow_redirects=allow_redirects, **kwargs)

    def head(
        self, url: str | URL, *, allow_redirects: bool = False, **kwargs: Any
    ) -> RequestContextManager:
        """Send a HEAD request (redirects are not followed unless asked)."""
        return self.request(hdrs.METH_HEAD, url, allow_redirects=allow_redirects, **kwargs)

    def post(self, url: str | URL, *, data: Any = None, **kwargs: Any) -> RequestContextManager:
        """Send a POST request."""
        return self.request(hdrs.METH_POST, url, data=data, **kwargs)

    def put(self, url: str | URL, *, data: Any = None, **kwargs: Any) -> RequestContextManager:
        """Send a PUT request."""
        return self.request(hdrs.METH_PUT, url, data=data, **kwargs)

    def patch(self, url: str | URL, *, data: Any = None, **kwargs: Any) -> RequestContextManager:
        """Send a PATCH request."""
        return self.request(hdrs.METH_PATCH, url, data=data, **kwargs)

    def delete(self, url: str | URL, **kwargs: Any) -> RequestContextManager:
        """Send a DELETE request."""
        return self.request(hdrs.METH_DELETE, url, **kwargs)

    def ws_connect(self, url: str | URL, **kwargs: Any) -> WSConnectContextManager:
        """Open a WebSocket (see :func:`heron.client.ws.ws_connect` for the keywords)."""
        if self.closed:
            raise RuntimeError("Session is closed")
        return WSConnectContextManager(ws_connect(self, url, **kwargs))

    # ------------------------------------------------------------------ the request loop

    async def _request(
        self,
        method: str,
        str_or_url: str | URL,
        *,
        params: Any = None,
        data: Any = None,
        json: Any = None,
        cookies: LooseCookies | None = None,
        headers: LooseHeaders | None = None,
        skip_auto_headers: Iterable[str] | None = None,
        auth: BasicAuth | None = None,
        allow_redirects: bool = True,
        max_redirects: int = 10,
        chunked: bool | None = None,
        expect100: bool = False,
        raise_for_status: RaiseForStatus | None = None,
        timeout: ClientTimeout | float | _Unset = _UNSET,
        ssl: ssl.SSLContext | bool | None = None,
        read_bufsize: int | None = None,
        auto_decompress: bool | None = None,
        version: tuple[int, int] | str | None = None,
    ) -> ClientResponse:
        if self.closed:
            raise RuntimeError("Session is closed")
        method = method.upper()
        url = self._build_url(str_or_url)
        if params:
            url = url.extend_query(params)
        if isinstance(timeout, _Unset):
            tm = self._timeout
        elif isinstance(timeout, (int, float)):
            tm = ClientTimeout(total=timeout)  # a number is the total, as aiohttp's client takes it
        else:
            tm = timeout
        loop = asyncio.get_running_loop()
        deadline = None if tm.total is None else loop.time() + tm.total
        req_headers: CIMultiDict[str] = CIMultiDict(self._default_headers)
        if headers:
            for name, value in CIMultiDict(headers).items():
                req_headers[name] = value
        inject = _propagation.injector
        if inject is not None:
            inject(req_headers)
        skip = self._skip_auto_headers | frozenset(istr(h) for h in skip_auto_headers or ())
        payload = make_payload(data, json, self._json_serialize)
        auth = auth if auth is not None else self._default_auth
        exchange = _Exchange(
            self,
            loop=loop,
            timeout=tm,
            deadline=deadline,
            ssl=ssl,
            chunked=chunked,
            expect100=expect100,
            read_bufsize=self._read_bufsize if read_bufsize is None else read_bufsize,
            auto_decompress=(self._auto_decompress if auto_decompress is None else auto_decompress),
            version=self._version if version is None else _parse_version(version),
        )
        history: list[ClientResponse] = []
        while True:
            if url.scheme not in _HTTP_SCHEMES:
                exc_cls = NonHttpUrlRedirectClientError if history else NonHttpUrlClientError
                raise exc_cls(str(url))
            if not url.raw_host:
                bad_cls = InvalidUrlRedirectClientError if history else InvalidUrlClientError
                raise bad_cls(url, "URL has no host")
            headers_now = self._final_headers(
                method, url, req_headers, skip, auth, cookies, payload, chunked
            )
            resp = await exchange.run(method, url, headers_now, payload, history)
            self._cookie_jar.update_from_headers(resp.headers.getall("Set-Cookie", ()), resp.url)
            location = resp.headers.get("Location")
            if not allow_redirects or resp.status not in _REDIRECTS or location is None:
                break
            if payload is not None and resp.status in (307, 308) and not payload.replayable:
                break  # The body was streamed once and cannot be sent again.
            history.append(resp)
            if max_redirects and len(history) >= max_redirects:
                resp.close()
                raise TooManyRedirects(history[0].request_info, tuple(history))
            if (resp.status == 303 and method != hdrs.METH_HEAD) or (
                resp.status in (301, 302) and method == hdrs.METH_POST
            ):
                method = hdrs.METH_GET
                payload = None
                for name in (hdrs.CONTENT_TYPE, hdrs.CONTENT_LENGTH, hdrs.TRANSFER_ENCODING):
                    req_headers.popall(name, None)
                chunked = None
            elif payload is not None:
                payload.rewind()
            new_url = self._redirect_target(url, location)
            await _discard(resp)
            if new_url.origin() != url.origin():
                req_headers.popall(hdrs.AUTHORIZATION, None)
                auth = None
            url = new_url
        await self._check_status(resp, raise_for_status)
        return resp

    # ------------------------------------------------------------------ helpers

    def _build_url(self, str_or_url: str | URL) -> URL:
        try:
            url = URL(str_or_url)
        except (ValueError, TypeError) as exc:
            raise InvalidUrlClientError(str_or_url, str(exc)) from exc
        if self._base_url is not None and not url.absolute:
            return self._base_url.join(url)
        if not url.absolute:
            raise InvalidUrlClientError(str_or_url, "URL is not absolute")
        return url

    def _redirect_target(self, url: URL, location: str) -> URL:
        try:
            target = URL(location, encoded=not self._requote_redirect_url)
        except ValueError as exc:
            raise InvalidUrlRedirectClientError(location, str(exc)) from exc
        if target.scheme and target.scheme not in _HTTP_SCHEMES:
            raise NonHttpUrlRedirectClientError(location)
        joined = url.join(target)
        if not joined.raw_host:
            raise InvalidUrlRedirectClientError(location, "redirect URL has no host")
        return joined

    def _final_headers(
        self,
        method: str,
        url: URL,
        base: CIMultiDict[str],
        skip: frozenset[istr],
        auth: BasicAuth | None,
        cookies: LooseCookies | None,
        payload: Payload | None,
        chunked: bool | None,
    ) -> CIMultiDict[str]:
        headers = CIMultiDict(base)
        if hdrs.HOST not in headers and hdrs.HOST not in skip:
            headers[hdrs.HOST] = _host_header(url)
        for name, value in (
            (hdrs.ACCEPT, "*/*"),
            (hdrs.ACCEPT_ENCODING, ACCEPT_ENCODING),
            (hdrs.USER_AGENT, USER_AGENT),
        ):
            if name not in headers and name not in skip:
                headers[name] = value
        url_auth = BasicAuth.from_url(url)
        if auth is not None and url_auth is not None:
            raise ValueError("Cannot combine AUTH argument with credentials encoded in URL")
        auth = auth or url_auth
        if auth is not None and hdrs.AUTHORIZATION not in headers:
            headers[hdrs.AUTHORIZATION] = auth.encode()
        self._add_cookies(headers, url, cookies)
        if payload is None:
            if method in _EMPTY_BODY_LENGTH_METHODS and hdrs.CONTENT_LENGTH not in headers:
                headers[hdrs.CONTENT_LENGTH] = "0"
            return headers
        for key, val in payload.header_items():
            if key not in headers and key not in skip:
                headers[key] = val
        te = headers.get(hdrs.TRANSFER_ENCODING, "").lower()
        if chunked or "chunked" in te:
            if hdrs.CONTENT_LENGTH in headers:
                raise ValueError("chunked can not be set if Content-Length header is set")
            headers[hdrs.TRANSFER_ENCODING] = "chunked"
        elif hdrs.CONTENT_LENGTH not in headers:
            if payload.size is not None:
                headers[hdrs.CONTENT_LENGTH] = str(payload.size)
            else:
                headers[hdrs.TRANSFER_ENCODING] = "chunked"
        return headers

    def _add_cookies(
        self, headers: CIMultiDict[str], url: URL, cookies: LooseCookies | None
    ) -> None:
        found = self._cookie_jar.filter_cookies(url)
        if cookies:
            extra = CookieJar(unsafe=True)
            extra.update_cookies(cookies)
            for morsel in extra.filter_cookies(url).values():
                found[morsel.key] = morsel
        if not found:
            return
        pairs = "; ".join(f"{m.key}={m.coded_value}" for m in found.values())
        existing = headers.get(hdrs.COOKIE)
        headers[hdrs.COOKIE] = f"{existing}; {pairs}" if existing else pairs

    async def _check_status(self, resp: ClientResponse, override: RaiseForStatus | None) -> None:
        check = self._raise_for_status if override is None else override
        if check is True:
            resp.raise_for_status()
        elif callable(check):
            try:
                await check(resp)
            except BaseException:
                resp.close()
                raise

    def _connector_or_fail(self) -> BaseConnector:
        connector = self._connector
        if connector is None:
            raise RuntimeError("Session is closed")
        return connector


async def _discard(resp: ClientResponse) -> None:
    """Drop a redirect response, reading a small body first so its connection is kept."""
    conn = resp.connection
    length = resp.content_length
    if conn is not None and not conn.protocol.message_done and (length or 0) <= _DISCARD_LIMIT:
        with contextlib.suppress(ClientConnectionError, asyncio.TimeoutError, ClientResponseError):
            await resp.read()
    resp.release()


class _Exchange:
    """Sends one request and receives the head of its response, with the session's settings."""

    __slots__ = (
        "_auto_decompress",
        "_chunked",
        "_deadline",
        "_expect100",
        "_loop",
        "_read_bufsize",
        "_session",
        "_ssl",
        "_timeout",
        "_version",
    )

    def __init__(
        self,
        session: ClientSession,
        *,
        loop: asyncio.AbstractEventLoop,
        timeout: ClientTimeout,
        deadline: float | None,
        ssl: ssl.SSLContext | bool | None,
        chunked: bool | None,
        expect100: bool,
        read_bufsize: int,
        auto_decompress: bool,
        version: HttpVersion,
    ) -> None:
        self._session = session
        self._version = version
        self._loop = loop
        self._timeout = timeout
        self._deadline = deadline
        self._ssl = ssl
        self._chunked = chunked
        self._expect100 = expect100
        self._read_bufsize = read_bufsize
        self._auto_decompress = auto_decompress

    async def run(
        self,
        method: str,
        url: URL,
        headers: CIMultiDict[str],
        payload: Payload | None,
        history: list[ClientResponse],
    ) -> ClientResponse:
        """Send the request on a pooled connection (retrying once on a stale one)."""
        connector = self._session._connector_or_fail()
        host = url.raw_host or ""
        key = ConnectionKey(host, url.port or 80, url.scheme == "https", self._ssl)
        info = RequestInfo(url, method, CIMultiDictProxy(headers), url)
        retried = False
        while True:
            bound = _min_timeout(self._timeout.connect, _remaining(self._deadline, self._loop))
            conn = await connector.connect(
                key, timeout=bound, sock_connect=self._timeout.sock_connect
            )
            try:
                return await self._send(conn, method, url, headers, payload, info, history)
            except (ServerDisconnectedError, ClientOSError):
                conn.close()
                can_retry = payload is None or payload.replayable
                if retried or not conn.reused or method not in _IDEMPOTENT or not can_retry:
                    raise
                # The server closed an idle keep-alive connection as we reused it.
                retried = True
                if payload is not None:
                    payload.rewind()
            except BaseException:
                conn.close()
                raise

    async def _send(
        self,
        conn: Connection,
        method: str,
        url: URL,
        headers: CIMultiDict[str],
        payload: Payload | None,
        info: RequestInfo,
        history: list[ClientResponse],
    ) -> ClientResponse:
        proto = conn.protocol
        if self._version == _HTTP10 and hdrs.CONNECTION not in headers:
            # HTTP/1.0 closes after each response unless asked (as aiohttp's client does).
            headers = CIMultiDict(headers)
            if not self._session._connector_or_fail().force_close:
                headers[hdrs.CONNECTION] = "keep-alive"
        head = serialize_head(method, url.raw_path_qs or "/", headers.items(), self._version)
        chunked = headers.get(hdrs.TRANSFER_ENCODING, "").lower() == "chunked"
        # The header goes even without a body (the server's expect handler still runs);
        # only a body waits for the 100 Continue.
        expect = self._expect100 and payload is not None
        if self._expect100:
            head = head[:-2] + b"Expect: 100-continue\r\n\r\n"
        fut = proto.begin(
            skip_body=method == hdrs.METH_HEAD,
            read_bufsize=self._read_bufsize,
            auto_decompress=self._auto_decompress,
            sock_read=self._timeout.sock_read,
            deadline=self._deadline,
            expect_continue=expect,
        )
        writer: asyncio.Task[None] | None = None
        if payload is None:
            proto.write(head)
            _request_sent(proto)
        elif isinstance(payload, BytesPayload) and not chunked and not expect:
            # PERF: one write (and usually one packet) for head and in-memory body.
            proto.write(head + payload.data)
            _request_sent(proto)
        else:
            proto.write(head)
            writer = self._loop.create_task(_write_request_body(proto, payload, chunked, expect))
        try:
            response_head = await fut
        except BadResponseError as exc:
            raise ClientResponseError(info, history, status=400, message=str(exc)) from exc
        except BaseException:
            if writer is not None:
                writer.cancel()
            raise
        return ClientResponse(
            method,
            url.with_fragment(None),
            response_head,
            proto.payload,
            connection=conn,
            request_info=info,
            history=history,
            writer=writer,
            loop=self._loop,
        )


def _request_sent(proto: ClientProtocol) -> None:
    proto.mark_request_sent()
    proto.start_read_timer()


async def _write_request_body(
    proto: ClientProtocol, payload: Payload, chunked: bool, expect_continue: bool
) -> None:
    """Write a streamed body (after 100 Continue if asked), then start the read timer."""
    try:
        if expect_continue:
            cont = proto.continue_future
            proto.start_read_timer()
            if cont is not None and not await cont:
                return
        await write_body(proto, payload, chunked=chunked)
        _request_sent(proto)
    except asyncio.CancelledError:
        raise
    except (ClientConnectionError, OSError):
        # The connection broke; the response side reports it.
        proto.close()
    except Exception as exc:
        proto.abort(exc)
