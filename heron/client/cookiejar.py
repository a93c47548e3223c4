"""A cookie jar: keeps ``Set-Cookie`` values and sends back the ones a URL may see.

It implements the useful core of RFC 6265: host-only and domain cookies, path
matching, ``Secure``, ``Max-Age``/``Expires``.  As in aiohttp, cookies from and to
bare IP addresses are ignored unless the jar is created with ``unsafe=True``, and
cookies added without a URL are "shared": sent to every host.
"""

from __future__ import annotations

import calendar
import ipaddress
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from email.utils import parsedate_tz
from http.cookies import BaseCookie, CookieError, Morsel, SimpleCookie
from typing import Any

from yarl import URL

__all__ = ("CookieJar", "DummyCookieJar", "LooseCookies")

LooseCookies = (
    Mapping[str, "str | BaseCookie[str] | Morsel[Any]"]
    | Iterable[tuple[str, "str | BaseCookie[str] | Morsel[Any]"]]
    | BaseCookie[str]
)

_NO_URL = URL()

# (domain, path, name); domain "" marks a shared cookie.
_Key = tuple[str, str, str]


def _is_ip(host: str | None) -> bool:
    if not host:
        return False
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _domain_match(host: str, domain: str) -> bool:
    if host == domain:
        return True
    return host.endswith("." + domain) and not _is_ip(host)


def _path_match(req_path: str, cookie_path: str) -> bool:
    if req_path == cookie_path:
        return True
    if not req_path.startswith(cookie_path):
        return False
    return cookie_path.endswith("/") or req_path[len(cookie_path)] == "/"


def _default_path(url: URL) -> str:
    path = url.path
    if not path.startswith("/") or path.count("/") <= 1:
        return "/"
    return path[: path.rfind("/")]


def _parse_expires(value: str) -> float | None:
    parsed = parsedate_tz(value)
    if parsed is None:
        return None
    offset = parsed[9] or 0
    return float(calendar.timegm((*parsed[:6], 0, 0, 0))) - offset


class _Entry:
    __slots__ = ("expires", "host_only", "morsel")

    def __init__(self, morsel: Morsel[str], host_only: bool, expires: float | None) -> None:
        self.morsel = morsel
        self.host_only = host_only
        self.expires = expires


class CookieJar:
    """Stores cookies from responses and selects the ones to send with a request."""

    def __init__(
        self,
        *,
        unsafe: bool = False,
        quote_cookie: bool = True,
        time_func: Callable[[], float] = time.time,
    ) -> None:
        self._cookies: dict[_Key, _Entry] = {}
        self._unsafe = unsafe
        self._quote_cookie = quote_cookie
        self._time = time_func

    @property
    def quote_cookie(self) -> bool:
        """Whether cookie values are quoted when sent."""
        return self._quote_cookie

    def __len__(self) -> int:
        self._expire()
        return len(self._cookies)

    def __iter__(self) -> Iterator[Morsel[str]]:
        self._expire()
        return iter([entry.morsel for entry in self._cookies.values()])

    def clear(self, predicate: Callable[[Morsel[str]], bool] | None = None) -> None:
        """Remove all cookies, or those for which ``predicate`` is true."""
        if predicate is None:
            self._cookies.clear()
            return
        for key, entry in list(self._cookies.items()):
            if predicate(entry.morsel):
                del self._cookies[key]

    def clear_domain(self, domain: str) -> None:
        """Remove the cookies of ``domain`` and its subdomains."""
        self.clear(lambda m: _domain_match(m["domain"], domain))

    def update_cookies(self, cookies: LooseCookies, response_url: URL = _NO_URL) -> None:
        """Store ``cookies`` as set by ``response_url`` (shared cookies if no URL)."""
        hostname = response_url.raw_host
        if not self._unsafe and _is_ip(hostname):
            return
        items: Iterable[tuple[str, Any]] = (
            cookies.items() if isinstance(cookies, Mapping) else cookies
        )
        for name, value in items:
            if isinstance(value, Morsel):
                morsel: Morsel[str] = value
            elif isinstance(value, BaseCookie):
                morsel = value[name]
            else:
                tmp: SimpleCookie = SimpleCookie()
                tmp[name] = value
                morsel = tmp[name]
            self._store(morsel, response_url, hostname)

    def update_from_headers(self, set_cookie_values: Iterable[str], response_url: URL) -> None:
        """Parse and store ``Set-Cookie`` header values received from ``response_url``."""
        for value in set_cookie_values:
            parsed: SimpleCookie = SimpleCookie()
            try:
                parsed.load(value)
            except CookieError:
                continue
            self.update_cookies(parsed, response_url)

    def filter_cookies(self, request_url: URL) -> SimpleCookie:
        """Return the cookies that a request to ``request_url`` should carry."""
        self._expire()
        found: SimpleCookie = SimpleCookie()
        hostname = request_url.raw_host or ""
        is_ip = _is_ip(hostname)
        secure = request_url.scheme in ("https", "wss")
        path = request_url.path or "/"
        chosen: list[tuple[int, Morsel[str]]] = []
        for (domain, cookie_path, _name), entry in self._cookies.items():
            if domain:
                if is_ip and not self._unsafe:
                    continue
                if entry.host_only:
                    if hostname != domain:
                        continue
                elif not _domain_match(hostname, domain):
                    continue
            if not _path_match(path, cookie_path):
                continue
            if entry.morsel["secure"] and not secure:
                continue
            chosen.append((len(cookie_path), entry.morsel))
        # Longer paths first (RFC 6265 §5.4); a later duplicate name does not override.
        for _, morsel in sorted(chosen, key=lambda item: -item[0]):
            if morsel.key in found:
                continue
            copy: Morsel[str] = Morsel()
            copy.set(morsel.key, morsel.value, morsel.coded_value)
            found[morsel.key] = copy
        return found

    # ------------------------------------------------------------------ internals

    def _store(self, morsel: Morsel[str], url: URL, hostname: str | None) -> None:
        domain = morsel["domain"].lstrip(".").lower()
        host_only = False
        if hostname is None:
            domain = ""
        elif not domain:
            domain = hostname.lower()
            host_only = True
        elif not _domain_match(hostname.lower(), domain):
            return  # A server may not set cookies for another domain.
        path = morsel["path"]
        if not path.startswith("/"):
            path = _default_path(url)
        expires: float | None = None
        max_age = morsel["max-age"]
        if max_age:
            try:
                expires = self._time() + int(max_age)
            except ValueError:
                expires = None
        elif morsel["expires"]:
            expires = _parse_expires(morsel["expires"])
        key = (domain, path, morsel.key)
        if expires is not None and expires <= self._time():
            self._cookies.pop(key, None)
            return
        stored: Morsel[str] = Morsel()
        stored.set(morsel.key, morsel.value, morsel.coded_value)
        stored.update({k: v for k, v in morsel.items() if v})
        stored["domain"] = domain
        stored["path"] = path
        self._cookies[key] = _Entry(stored, host_only, expires)

    def _expire(self) -> None:
        now = self._time()
        dead = [k for k, e in self._cookies.items() if e.expires is not None and e.expires <= now]
        for key in dead:
            del self._cookies[key]


class DummyCookieJar(CookieJar):
    """A jar that keeps nothing: no cookie is stored or sent."""

    def update_cookies(self, cookies: LooseCookies, response_url: URL = _NO_URL) -> None:
        return None

    def filter_cookies(self, request_url: URL) -> SimpleCookie:
        return SimpleCookie()
