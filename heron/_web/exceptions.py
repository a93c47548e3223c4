"""aiohttp's HTTP exception family, generated from one table.

Every class is both a :class:`Response` and an ``Exception``: a handler may
raise it or return it.  The classes are built from ``_TABLE`` so that the
hierarchy, status codes and empty-body flags live in one place.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from yarl import URL

from .. import hdrs
from .._proto.serialize import reason_phrase
from .response import Response

__all__ = (
    "AIOHTTP_EXCEPTIONS",
    "HTTPAccepted",
    "HTTPBadGateway",
    "HTTPBadRequest",
    "HTTPClientError",
    "HTTPConflict",
    "HTTPCreated",
    "HTTPError",
    "HTTPException",
    "HTTPExpectationFailed",
    "HTTPFailedDependency",
    "HTTPForbidden",
    "HTTPFound",
    "HTTPGatewayTimeout",
    "HTTPGone",
    "HTTPInsufficientStorage",
    "HTTPInternalServerError",
    "HTTPLengthRequired",
    "HTTPMethodNotAllowed",
    "HTTPMisdirectedRequest",
    "HTTPMove",
    "HTTPMovedPermanently",
    "HTTPMultipleChoices",
    "HTTPNetworkAuthenticationRequired",
    "HTTPNoContent",
    "HTTPNonAuthoritativeInformation",
    "HTTPNotAcceptable",
    "HTTPNotExtended",
    "HTTPNotFound",
    "HTTPNotImplemented",
    "HTTPNotModified",
    "HTTPOk",
    "HTTPPartialContent",
    "HTTPPaymentRequired",
    "HTTPPermanentRedirect",
    "HTTPPreconditionFailed",
    "HTTPPreconditionRequired",
    "HTTPProxyAuthenticationRequired",
    "HTTPRedirection",
    "HTTPRequestEntityTooLarge",
    "HTTPRequestHeaderFieldsTooLarge",
    "HTTPRequestRangeNotSatisfiable",
    "HTTPRequestTimeout",
    "HTTPRequestURITooLong",
    "HTTPResetContent",
    "HTTPSeeOther",
    "HTTPServerError",
    "HTTPServiceUnavailable",
    "HTTPSuccessful",
    "HTTPTemporaryRedirect",
    "HTTPTooManyRequests",
    "HTTPUnauthorized",
    "HTTPUnavailableForLegalReasons",
    "HTTPUnprocessableEntity",
    "HTTPUnsupportedMediaType",
    "HTTPUpgradeRequired",
    "HTTPUseProxy",
    "HTTPVariantAlsoNegotiates",
    "HTTPVersionNotSupported",
    "from_aiohttp",
)


class HTTPException(Response, Exception):
    """Base of every HTTP exception: a Response you can raise."""

    status_code = -1
    empty_body = False

    __http_exception__ = True

    def __init__(
        self,
        *,
        headers: Any = None,
        reason: str | None = None,
        body: Any = None,
        text: str | None = None,
        content_type: str | None = None,
    ) -> None:
        if body is not None:
            warnings.warn(
                "body argument is deprecated for http web exceptions",
                DeprecationWarning,
                stacklevel=2,
            )
        status = self.status_code
        if body is None and text is None and not self.empty_body:
            # PERF: "404": the default text given to the constructor (its fast path)
            # instead of set afterwards through the text setter.
            text = f"{status}: {reason if reason is not None else reason_phrase(status)}"
        Response.__init__(
            self,
            status=status,
            headers=headers,
            reason=reason,
            body=body,
            text=text,
            content_type=content_type,
        )
        Exception.__init__(self, self.reason)

    def __str__(self) -> str:
        return self.reason

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.reason}>"

    __hash__ = Response.__hash__
    __eq__ = Response.__eq__
    __bool__ = Response.__bool__


class HTTPError(HTTPException):
    """Base for 4xx and 5xx."""


class HTTPRedirection(HTTPException):
    """Base for 3xx."""


class HTTPSuccessful(HTTPException):
    """Base for 2xx."""


class HTTPClientError(HTTPError):
    """Base for 4xx."""


class HTTPServerError(HTTPError):
    """Base for 5xx."""


class HTTPMove(HTTPRedirection):
    """A redirect that carries a ``Location``."""

    def __init__(
        self,
        location: str | URL,
        *,
        headers: Any = None,
        reason: str | None = None,
        body: Any = None,
        text: str | None = None,
        content_type: str | None = None,
    ) -> None:
        if not location:
            raise ValueError("HTTP redirects need a location to redirect to.")
        super().__init__(
            headers=headers, reason=reason, body=body, text=text, content_type=content_type
        )
        # As aiohttp: through yarl, which percent-encodes what a header cannot carry (CR, LF).
        self.headers[hdrs.LOCATION] = str(URL(location))
        self.location = location


class HTTPMethodNotAllowed(HTTPClientError):
    """405, with the ``Allow`` header listing what the resource accepts."""

    status_code = 405

    def __init__(
        self,
        method: str,
        allowed_methods: Iterable[str],
        *,
        headers: Any = None,
        reason: str | None = None,
        body: Any = None,
        text: str | None = None,
        content_type: str | None = None,
    ) -> None:
        allow = ",".join(sorted(allowed_methods))
        super().__init__(
            headers=headers, reason=reason, body=body, text=text, content_type=content_type
        )
        self.headers[hdrs.ALLOW] = allow
        self.allowed_methods: set[str] = set(allowed_methods)
        self.method = method.upper()


class HTTPRequestEntityTooLarge(HTTPClientError):
    """413, saying how large the body was allowed to be."""

    status_code = 413

    def __init__(self, max_size: float, actual_size: float = 0, **kwargs: Any) -> None:
        kwargs.setdefault(
            "text",
            f"Maximum request body size {max_size} exceeded, actual body size {actual_size}",
        )
        super().__init__(**kwargs)


class HTTPUnavailableForLegalReasons(HTTPClientError):
    """451, linking to who blocked the resource."""

    status_code = 451

    def __init__(
        self,
        link: str | URL | None,
        *,
        headers: Any = None,
        reason: str | None = None,
        body: Any = None,
        text: str | None = None,
        content_type: str | None = None,
    ) -> None:
        super().__init__(
            headers=headers, reason=reason, body=body, text=text, content_type=content_type
        )
        self._link = None
        if link:
            self._link = URL(link)
            self.headers[hdrs.LINK] = f'<{self._link!s}>; rel="blocked-by"'

    @property
    def link(self) -> URL | None:
        return self._link


# name, status, base, empty body.  The special constructors above are listed
# for completeness of the table and skipped when generating.
_TABLE: tuple[tuple[str, int, type[HTTPException], bool], ...] = (
    ("HTTPOk", 200, HTTPSuccessful, False),
    ("HTTPCreated", 201, HTTPSuccessful, False),
    ("HTTPAccepted", 202, HTTPSuccessful, False),
    ("HTTPNonAuthoritativeInformation", 203, HTTPSuccessful, False),
    ("HTTPNoContent", 204, HTTPSuccessful, True),
    ("HTTPResetContent", 205, HTTPSuccessful, True),
    ("HTTPPartialContent", 206, HTTPSuccessful, False),
    ("HTTPMultipleChoices", 300, HTTPMove, False),
    ("HTTPMovedPermanently", 301, HTTPMove, False),
    ("HTTPFound", 302, HTTPMove, False),
    ("HTTPSeeOther", 303, HTTPMove, False),
    ("HTTPNotModified", 304, HTTPRedirection, True),
    ("HTTPUseProxy", 305, HTTPMove, False),
    ("HTTPTemporaryRedirect", 307, HTTPMove, False),
    ("HTTPPermanentRedirect", 308, HTTPMove, False),
    ("HTTPBadRequest", 400, HTTPClientError, False),
    ("HTTPUnauthorized", 401, HTTPClientError, False),
    ("HTTPPaymentRequired", 402, HTTPClientError, False),
    ("HTTPForbidden", 403, HTTPClientError, False),
    ("HTTPNotFound", 404, HTTPClientError, False),
    ("HTTPNotAcceptable", 406, HTTPClientError, False),
    ("HTTPProxyAuthenticationRequired", 407, HTTPClientError, False),
    ("HTTPRequestTimeout", 408, HTTPClientError, False),
    ("HTTPConflict", 409, HTTPClientError, False),
    ("HTTPGone", 410, HTTPClientError, False),
    ("HTTPLengthRequired", 411, HTTPClientError, False),
    ("HTTPPreconditionFailed", 412, HTTPClientError, False),
    ("HTTPRequestURITooLong", 414, HTTPClientError, False),
    ("HTTPUnsupportedMediaType", 415, HTTPClientError, False),
    ("HTTPRequestRangeNotSatisfiable", 416, HTTPClientError, False),
    ("HTTPExpectationFailed", 417, HTTPClientError, False),
    ("HTTPMisdirectedRequest", 421, HTTPClientError, False),
    ("HTTPUnprocessableEntity", 422, HTTPClientError, False),
    ("HTTPFailedDependency", 424, HTTPClientError, False),
    ("HTTPUpgradeRequired", 426, HTTPClientError, False),
    ("HTTPPreconditionRequired", 428, HTTPClientError, False),
    ("HTTPTooManyRequests", 429, HTTPClientError, False),
    ("HTTPRequestHeaderFieldsTooLarge", 431, HTTPClientError, False),
    ("HTTPInternalServerError", 500, HTTPServerError, False),
    ("HTTPNotImplemented", 501, HTTPServerError, False),
    ("HTTPBadGateway", 502, HTTPServerError, False),
    ("HTTPServiceUnavailable", 503, HTTPServerError, False),
    ("HTTPGatewayTimeout", 504, HTTPServerError, False),
    ("HTTPVersionNotSupported", 505, HTTPServerError, False),
    ("HTTPVariantAlsoNegotiates", 506, HTTPServerError, False),
    ("HTTPInsufficientStorage", 507, HTTPServerError, False),
    ("HTTPNotExtended", 510, HTTPServerError, False),
    ("HTTPNetworkAuthenticationRequired", 511, HTTPServerError, False),
)


def _make(name: str, status: int, base: type[HTTPException], empty: bool) -> type[HTTPException]:
    doc = f"HTTP {status}."
    return type(name, (base,), {"status_code": status, "empty_body": empty, "__doc__": doc})


_generated = {row[0]: _make(*row) for row in _TABLE}
for _cls in _generated.values():
    _cls.__module__ = __name__
globals().update(_generated)
del _cls

#: status -> heron's class for it, and the base class by hundreds for any other status.
_special: list[type[HTTPException]] = [
    HTTPMethodNotAllowed,
    HTTPRequestEntityTooLarge,
    HTTPUnavailableForLegalReasons,
]
_BY_STATUS = {cls.status_code: cls for cls in [*_generated.values(), *_special]}
_BY_CLASS: dict[int, type[HTTPException]] = {
    2: HTTPSuccessful,
    3: HTTPRedirection,
    4: HTTPClientError,
    5: HTTPServerError,
}
#: aiohttp's module of HTTP exceptions: loaded only where code written for aiohttp.web is.
AIOHTTP_EXCEPTIONS = "aiohttp.web_exceptions"
#: What aiohttp's exceptions carry beyond a response's state (HTTPMove, 405, 451).
_EXTRA_ATTRIBUTES = ("location", "method", "allowed_methods", "_link")


def from_aiohttp(exc: BaseException) -> HTTPException | None:
    """heron's HTTPException answering as aiohttp's ``exc`` would, or None if it is not one.

    A handler or plugin written against ``aiohttp.web`` (aiohttp-security's
    ``check_permission``) raises aiohttp's classes on a heron app.  The copy is of heron's
    class of the same status, so ``except web.HTTPException`` catches it, with ``exc``'s
    status, reason, headers, cookies and body.  Called on error paths only: aiohttp's module
    is looked up, never imported.
    """
    module = sys.modules.get(AIOHTTP_EXCEPTIONS)
    if module is None or isinstance(exc, HTTPException):
        return None  # (with heron.compat.aiohttp installed, aiohttp's name is heron's class)
    if not isinstance(exc, module.HTTPException):
        return None
    body = exc.body
    if body is not None and not isinstance(body, bytes):
        return None  # an aiohttp payload object: heron cannot send it
    status: int = exc.status
    cls = _BY_STATUS.get(status) or _BY_CLASS.get(status // 100, HTTPException)
    # Not cls's constructor: HTTPMove and friends want arguments that are in exc already.
    converted = cls.__new__(cls)
    Response.__init__(converted, status=status, reason=exc.reason, headers=exc.headers, body=body)
    Exception.__init__(converted, converted.reason)
    if exc.cookies:
        converted.cookies.update(exc.cookies)
    for name in _EXTRA_ATTRIBUTES:
        if name in vars(exc):
            setattr(converted, name, vars(exc)[name])
    return converted


if TYPE_CHECKING:
    # What the table above generates, spelled out for type checkers only.
    class HTTPOk(HTTPSuccessful):
        status_code = 200

    class HTTPCreated(HTTPSuccessful):
        status_code = 201

    class HTTPAccepted(HTTPSuccessful):
        status_code = 202

    class HTTPNonAuthoritativeInformation(HTTPSuccessful):
        status_code = 203

    class HTTPNoContent(HTTPSuccessful):
        status_code = 204

    class HTTPResetContent(HTTPSuccessful):
        status_code = 205

    class HTTPPartialContent(HTTPSuccessful):
        status_code = 206

    class HTTPMultipleChoices(HTTPMove):
        status_code = 300

    class HTTPMovedPermanently(HTTPMove):
        status_code = 301

    class HTTPFound(HTTPMove):
        status_code = 302

    class HTTPSeeOther(HTTPMove):
        status_code = 303

    class HTTPNotModified(HTTPRedirection):
        status_code = 304

    class HTTPUseProxy(HTTPMove):
        status_code = 305

    class HTTPTemporaryRedirect(HTTPMove):
        status_code = 307

    class HTTPPermanentRedirect(HTTPMove):
        status_code = 308

    class HTTPBadRequest(HTTPClientError):
        status_code = 400

    class HTTPUnauthorized(HTTPClientError):
        status_code = 401

    class HTTPPaymentRequired(HTTPClientError):
        status_code = 402

    class HTTPForbidden(HTTPClientError):
        status_code = 403

    class HTTPNotFound(HTTPClientError):
        status_code = 404

    class HTTPNotAcceptable(HTTPClientError):
        status_code = 406

    class HTTPProxyAuthenticationRequired(HTTPClientError):
        status_code = 407

    class HTTPRequestTimeout(HTTPClientError):
        status_code = 408

    class HTTPConflict(HTTPClientError):
        status_code = 409

    class HTTPGone(HTTPClientError):
        status_code = 410

    class HTTPLengthRequired(HTTPClientError):
        status_code = 411

    class HTTPPreconditionFailed(HTTPClientError):
        status_code = 412

    class HTTPRequestURITooLong(HTTPClientError):
        status_code = 414

    class HTTPUnsupportedMediaType(HTTPClientError):
        status_code = 415

    class HTTPRequestRangeNotSatisfiable(HTTPClientError):
        status_code = 416

    class HTTPExpectationFailed(HTTPClientError):
        status_code = 417

    class HTTPMisdirectedRequest(HTTPClientError):
        status_code = 421

    class HTTPUnprocessableEntity(HTTPClientError):
        status_code = 422

    class HTTPFailedDependency(HTTPClientError):
        status_code = 424

    class HTTPUpgradeRequired(HTTPClientError):
        status_code = 426

    class HTTPPreconditionRequired(HTTPClientError):
        status_code = 428

    class HTTPTooManyRequests(HTTPClientError):
        status_code = 429

    class HTTPRequestHeaderFieldsTooLarge(HTTPClientError):
        status_code = 431

    class HTTPInternalServerError(HTTPServerError):
        status_code = 500

    class HTTPNotImplemented(HTTPServerError):
        status_code = 501

    class HTTPBadGateway(HTTPServerError):
        status_code = 502

    class HTTPServiceUnavailable(HTTPServerError):
        status_code = 503

    class HTTPGatewayTimeout(HTTPServerError):
        status_code = 504

    class HTTPVersionNotSupported(HTTPServerError):
        status_code = 505

    class HTTPVariantAlsoNegotiates(HTTPServerError):
        status_code = 506

    class HTTPInsufficientStorage(HTTPServerError):
        status_code = 507

    class HTTPNotExtended(HTTPServerError):
        status_code = 510

    class HTTPNetworkAuthenticationRequired(HTTPServerError):
        status_code = 511
