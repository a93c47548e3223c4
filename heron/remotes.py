"""Behind a reverse proxy: the client's address, scheme and host from the proxy's headers.

Behind nginx (or any proxy) the connection's peer is the proxy; the client's address and
the scheme and host it used arrive in ``X-Forwarded-For`` / ``-Proto`` / ``-Host`` or in
RFC 7239's ``Forwarded``.  Anyone can send those headers, so only what trusted proxies wrote
may be believed.  The tools here carry aiohttp-remotes' names and semantics, so its users
migrate by changing an import; each turns the headers into ``request.remote``,
``request.scheme`` (hence ``request.secure``) and ``request.host`` for the handler (through
``request.clone(remote=..., scheme=..., host=...)``), and for the access log: the request
the server logs gets the resolved values too.

``trusted`` entries are IP addresses, networks (``"10.0.0.0/8"``, ``"::1"``) or ``"unix"``:
a peer on a Unix socket (nginx's ``proxy_pass http://unix:/run/app.sock``), which has no
address.

- :class:`XForwardedFiltered` ``(trusted, *, hops=None)`` — heron's recommended setting.  The
  headers count only when the connection's peer is trusted; otherwise they are ignored (the
  request keeps the peer's address: a spoofed ``X-Forwarded-For`` sent straight to the app has
  no effect).  The client is the right-most ``X-Forwarded-For`` entry that is not itself a
  trusted proxy (``hops=N``: exactly the N-th from the right, for N proxies in a row).
  Malformed headers are a 400.  (aiohttp-remotes' version does not check the peer.)
- :class:`ForwardedFiltered` — the same for ``Forwarded``.
- :class:`XForwardedStrict` ``(trusted, *, white_paths=())`` / :class:`ForwardedStrict`:
  ``trusted`` is a list with one set per hop, nearest first (the peer, then each proxy it
  names), optionally ending with ``...`` (any further hops).  Every hop must match its set and
  the header must name exactly as many hops as the list describes; anything else is a 400,
  so a client that bypasses the proxy is refused, not just ignored.
- :class:`XForwardedRelaxed` ``(num=1)`` / :class:`ForwardedRelaxed`: believe the ``num``-th
  value from the right, without checking who sent it (only for an app reachable through its
  proxy alone).  Malformed or missing values are ignored.
- :class:`Secure`: redirect plain HTTP to HTTPS (after the above resolved the scheme) and set
  the usual security headers.

Install one with ``await setup(app, XForwardedFiltered(["unix"]))`` (or append its
``.middleware`` to the app's middlewares, first).  ``X-Forwarded-Proto`` and ``proto=`` accept
``http`` and ``https``; ``X-Forwarded-Host`` and ``host=`` must be a valid ``Host``.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import EllipsisType
from typing import NoReturn, Protocol

from yarl import URL

from . import hdrs
from ._proto.h1 import HOST_GRAMMAR
from .web import (
    Application,
    HTTPBadRequest,
    HTTPPermanentRedirect,
    Request,
    StreamResponse,
    middleware,
)

__all__ = (
    "ForwardedFiltered",
    "ForwardedRelaxed",
    "ForwardedStrict",
    "Secure",
    "XForwardedFiltered",
    "XForwardedRelaxed",
    "XForwardedStrict",
    "setup",
)

log = logging.getLogger("heron.remotes")

Handler = Callable[[Request], Awaitable[StreamResponse]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Rule = str | IPAddress | ipaddress.IPv4Network | ipaddress.IPv6Network
#: A node as a header names it: an IP address, or a token (``unknown``, ``_hidden``).
Node = IPAddress | str
_SCHEMES = frozenset({"http", "https"})
# RFC 7239 section 6: "unknown", or an obfuscated identifier.
_OBFUSCATED = re.compile(r"unknown|_[A-Za-z0-9._-]+")


class _Bad(Exception):
    """A header that cannot be believed (the strict tools answer 400 with the message)."""


class Trust:
    """A set of trusted peers: addresses, networks and ``"unix"``."""

    __slots__ = ("networks", "unix")

    def __init__(self, rules: Iterable[Rule]) -> None:
        if isinstance(rules, str):
            raise TypeError("trusted should be a collection of addresses or networks")
        self.unix = False
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for rule in rules:
            if rule == "unix":
                self.unix = True
            elif isinstance(rule, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
                self.networks.append(rule)
            else:
                try:
                    self.networks.append(ipaddress.ip_network(rule))
                except ValueError:
                    raise ValueError(
                        f"{rule!r} is not an IP address, a network or 'unix'"
                    ) from None

    def __contains__(self, node: Node | None) -> bool:
        """Whether ``node`` (None: a Unix-socket peer) is trusted."""
        if node is None:
            return self.unix
        if isinstance(node, str):
            return False
        return any(node in net for net in self.networks)

    def __repr__(self) -> str:
        rules = [str(n) for n in self.networks] + (["unix"] if self.unix else [])
        return f"Trust({rules})"


def _hop_list(trusted: Sequence[Iterable[Rule] | EllipsisType]) -> list[Trust | EllipsisType]:
    if isinstance(trusted, str) or not isinstance(trusted, Sequence):
        raise TypeError("trusted should be a list of sets, one per hop (nearest first)")
    hops: list[Trust | EllipsisType] = []
    for i, hop in enumerate(trusted):
        if hop is ...:
            if i != len(trusted) - 1:
                raise ValueError("Ellipsis is allowed only at the end of the trusted list")
            hops.append(...)
        else:
            hops.append(Trust(hop))
    return hops


# ---------------------------------------------------------------------- reading the headers


def _peer(request: Request) -> Node | None:
    """The connection's peer: its IP address (the one a PROXY protocol header named, if the
    server takes those), or None for a Unix socket, which has no address."""
    transport = request.transport
    if transport is None:
        raise _Bad("no connection")
    peer = transport.get_extra_info("peername")
    if isinstance(peer, (tuple, list)) and peer:
        return _ip(str(peer[0]))
    return None


def _ip(text: str) -> IPAddress:
    try:
        address = ipaddress.ip_address(text.partition("%")[0])  # drop an IPv6 zone
    except ValueError:
        raise _Bad("not an IP address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # A dual-stack socket names an IPv4 peer ::ffff:a.b.c.d: trust rules say a.b.c.d.
        return address.ipv4_mapped
    return address


def _node(text: str) -> Node:
    """A ``Forwarded`` node: ``1.2.3.4``, ``1.2.3.4:80``, ``[::1]``, ``[::1]:80``, a token."""
    if text.startswith("["):
        address, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest[1:].isdigit()) or (rest and rest[0] != ":"):
            raise _Bad("malformed node")
        return _ip(address)
    if _OBFUSCATED.fullmatch(text.partition(":")[0]):
        return text.partition(":")[0]
    address, _, port = text.partition(":")
    if port and not port.isdigit():
        raise _Bad("malformed node")
    return _ip(address)


def _scheme(text: str) -> str:
    scheme = text.strip().lower()
    if scheme not in _SCHEMES:
        raise _Bad("unsupported scheme")
    return scheme


def _host(text: str) -> str:
    host = text.strip()
    match = HOST_GRAMMAR.fullmatch(host.encode("utf-8", "surrogateescape"))
    if not host or match is None or int(match[1] or 0) > 65535:
        raise _Bad("invalid host")
    return host


def _listed(request: Request, name: str) -> list[str]:
    """A comma-separated header's entries (one field at most: two are a 400)."""
    fields = request.headers.getall(name, ())
    if not fields:
        return []
    if len(fields) > 1:
        raise _Bad(f"more than one {name} header")
    entries = [entry.strip() for entry in fields[0].split(",")]
    if not all(entries):
        raise _Bad(f"empty entry in {name}")
    return entries


def _x_forwarded(request: Request) -> tuple[list[IPAddress], list[str], list[str]]:
    """``X-Forwarded-For`` (parsed), ``-Proto`` and ``-Host`` entries, left to right."""
    try:
        addresses = [_ip(entry) for entry in _listed(request, hdrs.X_FORWARDED_FOR)]
    except _Bad as exc:
        raise _Bad(f"Invalid {hdrs.X_FORWARDED_FOR} header ({exc})") from None
    return (
        addresses,
        _listed(request, hdrs.X_FORWARDED_PROTO),
        _listed(request, hdrs.X_FORWARDED_HOST),
    )


def _aligned(values: list[str], count: int, index: int) -> str | None:
    """The entry describing the same hop as ``X-Forwarded-For``'s ``index`` (from the left),
    when the list has one per hop; otherwise the right-most (the one the nearest proxy set)."""
    if not values:
        return None
    if len(values) == count and 0 <= index < count:
        return values[index]
    return values[-1]


def _overrides(remote: Node | None, proto: str | None, host: str | None) -> dict[str, str]:
    found: dict[str, str] = {}
    if remote is not None:
        found["remote"] = str(remote)
    if proto is not None:
        found["scheme"] = _scheme(proto)
    if host is not None:
        found["host"] = _host(host)
    return found


# ---------------------------------------------------------------------- applying them


def _apply(request: Request, overrides: Mapping[str, str]) -> Request:
    """The request as the handler should see it.

    The clone is aiohttp-remotes' contract; the original request is the one the server's
    access log reads, so it gets the resolved values as well.
    """
    if not overrides:
        return request
    for name in ("secure", "url"):  # derived from scheme and host, if already computed
        request.__dict__.pop(name, None)
    request.__dict__.update(overrides)
    return request.clone(**overrides)


def _refuse(request: Request, reason: str) -> NoReturn:
    log.warning("Refused request from %s: %s", request.remote, reason)
    raise HTTPBadRequest(text=f"400: {reason}")


class _Tool:
    """A middleware object with aiohttp-remotes' ``setup(app)``."""

    async def setup(self, app: Application) -> None:
        app.middlewares.append(self.middleware)

    @middleware
    async def middleware(self, request: Request, handler: Handler) -> StreamResponse:
        try:
            overrides = self.resolve(request)
        except _Bad as exc:
            _refuse(request, str(exc))
        return await handler(_apply(request, overrides) if overrides else request)

    def resolve(self, request: Request) -> dict[str, str]:
        """The values the headers give (empty: keep the connection's own)."""
        raise NotImplementedError


class _RelaxedTool(_Tool):
    """A tool that believes the ``num``-th value from the right, whoever sent it."""

    def __init__(self, num: int = 1) -> None:
        if num < 1:
            raise ValueError("num must be at least 1")
        self._num = num


#: How each resolved value is read from a header (raising _Bad when it cannot be used).
_READERS: dict[str, Callable[[str], str]] = {
    "remote": lambda value: str(_node(value)),
    "scheme": _scheme,
    "host": _host,
}


class XForwardedRelaxed(_RelaxedTool):
    """Believe the ``num``-th ``X-Forwarded-*`` value from the right; ignore malformed ones."""

    def resolve(self, request: Request) -> dict[str, str]:
        found: dict[str, str] = {}
        num = self._num
        for key, header in (
            ("remote", hdrs.X_FORWARDED_FOR),
            ("scheme", hdrs.X_FORWARDED_PROTO),
            ("host", hdrs.X_FORWARDED_HOST),
        ):
            try:
                entries = _listed(request, header)
                if len(entries) >= num:
                    found[key] = _READERS[key](entries[-num])
            except _Bad:
                continue  # relaxed: a value that cannot be used is left out
        return found


class _FilteredTool(_Tool):
    """A tool that believes the headers from a trusted peer only."""

    def __init__(self, trusted: Iterable[Rule], *, hops: int | None = None) -> None:
        if hops is not None and hops < 1:
            raise ValueError("hops must be at least 1")
        self._trust = Trust(trusted)
        self._hops = hops


class XForwardedFiltered(_FilteredTool):
    """Use ``X-Forwarded-*`` only from a trusted peer; the client is the right-most entry
    that is not a trusted proxy (or, with ``hops=N``, the N-th from the right)."""

    def resolve(self, request: Request) -> dict[str, str]:
        if _peer(request) not in self._trust:
            return {}  # not from our proxy: the headers are the client's own words
        addresses, protos, hosts = _x_forwarded(request)
        if not addresses:
            return _overrides(None, _aligned(protos, 0, 0), _aligned(hosts, 0, 0))
        index = _pick(addresses, self._trust, self._hops)
        if index is None:
            raise _Bad(f"fewer {hdrs.X_FORWARDED_FOR} entries than hops")
        count = len(addresses)
        return _overrides(
            addresses[index], _aligned(protos, count, index), _aligned(hosts, count, index)
        )


def _pick(nodes: Sequence[Node], trust: Trust, hops: int | None) -> int | None:
    """Index (from the left) of the client among the nodes the proxies reported."""
    if hops is not None:
        return len(nodes) - hops if hops <= len(nodes) else None
    for index in range(len(nodes) - 1, -1, -1):
        if nodes[index] not in trust:
            return index
    return 0  # every hop is a trusted proxy: the left-most is the client


def _strict_client(
    hops: list[Trust | EllipsisType], peer: Node | None, reported: Sequence[Node]
) -> int:
    """Check every hop against its trusted set; return the client's index in ``reported``."""
    chain = [peer, *reversed(reported)]  # nearest first
    for position, trust in enumerate(hops):
        if trust is ...:
            if position == 0:
                raise _Bad("the peer cannot be the client")
            return len(reported) - position
        if position >= len(chain) or chain[position] not in trust:
            raise _Bad("untrusted hop" if position < len(chain) else "too few hops")
    if len(chain) != len(hops) + 1:
        raise _Bad(f"expected {len(hops)} proxies, got {len(chain) - 1}")
    return 0


class _StrictTool(_Tool):
    """A tool that checks every hop; requests to ``white_paths`` are let through as they are
    (a load balancer's health check that reaches the app directly)."""

    def __init__(
        self,
        trusted: Sequence[Iterable[Rule] | EllipsisType],
        *,
        white_paths: Iterable[str] = (),
    ) -> None:
        self._hops = _hop_list(trusted)
        self._white_paths = frozenset(white_paths)

    @middleware
    async def middleware(self, request: Request, handler: Handler) -> StreamResponse:
        if request.path in self._white_paths:
            return await handler(request)
        return await _Tool.middleware(self, request, handler)


class XForwardedStrict(_StrictTool):
    """Every hop must be the trusted proxy its position says (one set per hop, nearest
    first, ``...`` last for any further ones); anything else is a 400."""

    def resolve(self, request: Request) -> dict[str, str]:
        addresses, protos, hosts = _x_forwarded(request)
        index = _strict_client(self._hops, _peer(request), addresses)
        count = len(addresses)
        proxies = sum(1 for hop in self._hops if hop is not ...)
        for values, name in ((protos, hdrs.X_FORWARDED_PROTO), (hosts, hdrs.X_FORWARDED_HOST)):
            if len(values) > max(proxies, count):
                raise _Bad(f"more {name} entries than hops")
        return _overrides(
            addresses[index], _aligned(protos, count, index), _aligned(hosts, count, index)
        )


# ---------------------------------------------------------------------- RFC 7239 Forwarded


def _elements(request: Request) -> tuple[Mapping[str, str], ...]:
    return request.forwarded


def _element_overrides(element: Mapping[str, str]) -> dict[str, str]:
    node = element.get("for")
    return _overrides(
        _node(node) if node is not None else None, element.get("proto"), element.get("host")
    )


class ForwardedRelaxed(_RelaxedTool):
    """Believe the ``num``-th ``Forwarded`` element from the right (each of ``for``, ``proto``,
    ``host`` from the left-most of the last ``num`` elements that has it); ignore bad values."""

    def resolve(self, request: Request) -> dict[str, str]:
        found: dict[str, str] = {}
        for element in reversed(_elements(request)[-self._num :]):
            for key, name in (("remote", "for"), ("scheme", "proto"), ("host", "host")):
                value = element.get(name)
                if value is None:
                    continue
                try:
                    found[key] = _READERS[key](value)
                except _Bad:
                    continue  # relaxed: a value that cannot be used is left out
        return found


def _reported_nodes(elements: Sequence[Mapping[str, str]]) -> list[Node]:
    nodes = []
    for element in elements:
        node = element.get("for")
        if node is None:
            raise _Bad("Forwarded element without for=")
        nodes.append(_node(node))
    return nodes


class ForwardedFiltered(_FilteredTool):
    """:class:`XForwardedFiltered` for ``Forwarded``: used only from a trusted peer; the client
    is the right-most ``for=`` that is not a trusted proxy (``hops=N``: the N-th element from
    the right); ``proto`` and ``host`` come from the same element."""

    def resolve(self, request: Request) -> dict[str, str]:
        if _peer(request) not in self._trust:
            return {}
        elements = _elements(request)
        if not elements:
            return {}
        try:
            nodes = _reported_nodes(elements)
        except _Bad as exc:
            raise _Bad(f"Invalid Forwarded header ({exc})") from None
        index = _pick(nodes, self._trust, self._hops)
        if index is None:
            raise _Bad("fewer Forwarded elements than hops")
        return _element_overrides(elements[index])


class ForwardedStrict(_StrictTool):
    """:class:`XForwardedStrict` for ``Forwarded``: one element per trusted hop."""

    def resolve(self, request: Request) -> dict[str, str]:
        elements = _elements(request)
        try:
            nodes = _reported_nodes(elements)
        except _Bad as exc:
            raise _Bad(f"Invalid Forwarded header ({exc})") from None
        index = _strict_client(self._hops, _peer(request), nodes)
        return _element_overrides(elements[index])


# ---------------------------------------------------------------------- HTTPS only


class Secure:
    """Serve over HTTPS only: plain HTTP is redirected (or refused with a 400 when
    ``redirect=False``), and every response gets the usual security headers unless it
    sets them itself.  Put it after the proxy tool, which tells it the client's scheme."""

    def __init__(
        self,
        *,
        redirect: bool = True,
        redirect_url: str | URL | None = None,
        x_frame: str | None = "DENY",
        sts: str | None = "max-age=31536000; includeSubDomains",
        cto: str | None = "nosniff",
        xss: str | None = "1; mode=block",
        white_paths: Iterable[str] = (),
    ) -> None:
        if redirect_url is not None:
            redirect_url = URL(redirect_url)
            if redirect_url.scheme != "https":
                raise ValueError(f"Redirection url {redirect_url} should have HTTPS scheme")
            if redirect_url.origin() != redirect_url:
                raise ValueError(
                    f"Redirection url {redirect_url} should have no path, query and fragment"
                )
        self._redirect = redirect
        self._redirect_url = redirect_url
        self._headers = tuple(
            (name, value)
            for name, value in (
                ("X-Frame-Options", x_frame),
                ("Strict-Transport-Security", sts),
                ("X-Content-Type-Options", cto),
                ("X-XSS-Protection", xss),
            )
            if value is not None
        )
        self._white_paths = frozenset(white_paths)

    async def setup(self, app: Application) -> None:
        app.on_response_prepare.append(self.on_response_prepare)
        app.middlewares.append(self.middleware)

    async def on_response_prepare(self, request: Request, response: StreamResponse) -> None:
        for name, value in self._headers:
            response.headers.setdefault(name, value)

    @middleware
    async def middleware(self, request: Request, handler: Handler) -> StreamResponse:
        if request.secure or request.path in self._white_paths:
            return await handler(request)
        if not self._redirect:
            log.warning("Not secure URL %s", request.url)
            raise HTTPBadRequest()
        if self._redirect_url is not None:
            url = self._redirect_url.join(request.url.relative())
        else:
            url = request.url.with_scheme("https").with_port(None)
        raise HTTPPermanentRedirect(url)


class _Installable(Protocol):
    async def setup(self, app: Application) -> None: ...


async def setup(app: Application, *tools: _Installable) -> None:
    """Install ``tools`` on ``app`` in order (the proxy tool first, then :class:`Secure`)."""
    for tool in tools:
        await tool.setup(app)
