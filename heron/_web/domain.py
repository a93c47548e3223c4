"""Host-based routing: ``app.add_domain("example.com", subapp)`` and ``"*.example.com"``.

A :class:`MatchedSubAppResource` is tried before any path-based resource (as in
aiohttp); when its rule matches the request's ``Host`` header, the sub-application's
router answers, 404 included.  heron's parser refuses a request with two ``Host``
headers, so the rule cannot be bypassed that way (aiohttp CVE-2026-34525).
"""

from __future__ import annotations

import abc
import re
from typing import Any, ClassVar, Final, cast

from yarl import URL

from .. import hdrs
from .resources import AbstractResource, PrefixedSubAppResource, ResolveResult

__all__ = ("AbstractRuleMatching", "Domain", "MaskDomain", "MatchedSubAppResource")

_LABEL: Final = re.compile(r"(?!-)[a-z\d-]{1,63}(?<!-)")
_MASK_LABEL: Final = re.compile(r"(?!-)[a-z\d*-]{1,63}(?<!-)")
# What ``*`` stands for: one or more whole DNS labels.
_WILDCARD: Final = r"[a-z\d-]+(?:\.[a-z\d-]+)*"


class AbstractRuleMatching(abc.ABC):
    """A condition on a request other than its path (see ``add_domain``)."""

    @abc.abstractmethod
    async def match(self, request: Any) -> bool:
        """Whether ``request`` satisfies the rule."""

    @abc.abstractmethod
    def get_info(self) -> dict[str, Any]:
        """Introspection data."""

    @property
    @abc.abstractmethod
    def canonical(self) -> str:
        """A text describing the rule."""


class Domain(AbstractRuleMatching):
    """Matches an exact host name (``example.com``); the port counts only if given."""

    _label: ClassVar[re.Pattern[str]] = _LABEL

    def __init__(self, domain: str) -> None:
        self._domain = self._validate(domain)

    def _validate(self, domain: str) -> str:
        if not isinstance(domain, str):
            raise TypeError("Domain must be str")
        domain = domain.rstrip(".").lower()
        if not domain:
            raise ValueError("Domain cannot be empty")
        if "://" in domain:
            raise ValueError("Scheme not supported")
        url = URL("http://" + domain)
        host = url.raw_host
        if not host or not all(self._label.fullmatch(part) for part in host.split(".")):
            raise ValueError(f"Domain not valid: {domain!r}")
        if url.port == 80 or url.explicit_port is None:
            return host
        return f"{host}:{url.port}"

    @property
    def canonical(self) -> str:
        """The host (with ``:port`` when one was given)."""
        return self._domain

    async def match(self, request: Any) -> bool:
        """Whether the ``Host`` header names this domain."""
        return self.match_domain(request.headers.get(hdrs.HOST, ""))

    def match_sync(self, request: Any) -> bool:
        """Same as :meth:`match`, without awaiting."""
        return self.match_domain(request.headers.get(hdrs.HOST, ""))

    def match_domain(self, host: str) -> bool:
        """Whether ``host`` (a ``Host`` header value) names this domain."""
        if not host:
            return False
        host = host.lower()
        return host == self._domain or host.partition(":")[0] == self._domain

    def get_info(self) -> dict[str, Any]:
        """``{"domain": domain}``."""
        return {"domain": self._domain}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._domain}>"


class MaskDomain(Domain):
    """Matches a host name pattern where ``*`` stands for one or more labels
    (``*.example.com`` matches ``api.example.com`` and ``a.b.example.com``, not
    ``example.com``)."""

    _label = _MASK_LABEL

    def __init__(self, domain: str) -> None:
        super().__init__(domain)
        mask, _, self._port = self._domain.partition(":")
        self._mask = re.compile(
            "\\.".join(
                _WILDCARD if label == "*" else re.escape(label).replace(r"\*", _WILDCARD)
                for label in mask.split(".")
            ),
            re.IGNORECASE,
        )

    @property
    def canonical(self) -> str:
        """The regular expression hosts are matched with."""
        return self._mask.pattern + (f":{self._port}" if self._port else "")

    def match_domain(self, host: str) -> bool:
        """Whether ``host`` matches the mask (and the port, when the mask has one)."""
        hostname, _, port = host.partition(":")
        if self._port and port != self._port:
            return False
        return self._mask.fullmatch(hostname) is not None


class MatchedSubAppResource(PrefixedSubAppResource):
    """Hands requests that satisfy ``rule`` to a sub-application's router."""

    _matched_first = True

    def __init__(self, rule: AbstractRuleMatching, app: Any) -> None:
        AbstractResource.__init__(self)
        self._prefix = ""
        self._prefix2 = "/"
        self._app = app
        self._rule = rule

    @property
    def canonical(self) -> str:
        """The rule's text."""
        return self._rule.canonical

    @property
    def rule(self) -> AbstractRuleMatching:
        """The matching rule."""
        return self._rule

    def add_prefix(self, prefix: str) -> None:
        """Prepend ``prefix`` to every resource of the sub-application."""
        self._add_prefix_to_resources(prefix)

    def get_info(self) -> dict[str, Any]:
        """``{"app": app, "rule": rule}``."""
        return {"app": self._app, "rule": self._rule}

    async def resolve(self, request: Any) -> ResolveResult:
        """The sub-application's answer when the rule matches, else no match."""
        if not await self._rule.match(request):
            return None, set()
        return self._wrap(await self._app.router.resolve(request))

    def _can_resolve_sync(self) -> bool:
        rule = self._rule
        sync_resolver = getattr(self._app.router, "sync_resolver", None)
        return (
            type(self).resolve is MatchedSubAppResource.resolve
            and isinstance(rule, Domain)
            and type(rule).match is Domain.match
            and sync_resolver is not None
            and sync_resolver() is not None
        )

    def _resolve_path(self, method: str, path: str, request: Any) -> ResolveResult:
        # Only called when _can_resolve_sync() said the rule is a plain Domain.
        if not cast(Domain, self._rule).match_sync(request):
            return None, set()
        return self._wrap(self._app.router._resolve_path(method, path, request))

    def __repr__(self) -> str:
        return f"<MatchedSubAppResource {self._rule.canonical} -> {self._app!r}>"
