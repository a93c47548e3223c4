"""Response(text=...) takes a fast path once its content type is known: same result."""

from __future__ import annotations

import gc
import weakref

import pytest

from heron import web


@pytest.mark.parametrize("content_type", [None, "text/html", "application/json", "text/x-odd"])
def test_text_responses_are_the_same_the_first_time_and_later(content_type: str | None) -> None:
    made = [web.Response(text="héllo", content_type=content_type) for _ in range(3)]
    expected = f"{content_type or 'text/plain'}; charset=utf-8"
    for response in made:
        assert list(response.headers.items()) == [("Content-Type", expected)]
        assert response.body == "héllo".encode()
        assert response.charset == "utf-8"
        assert response.content_type == (content_type or "text/plain")
        assert response.status == 200 and response.reason == "OK"


def test_charset_in_content_type_is_refused_every_time() -> None:
    for _ in range(3):
        with pytest.raises(ValueError, match="charset must not be in content_type"):
            web.Response(text="x", content_type="text/plain; charset=latin-1")


def test_text_must_be_str_every_time() -> None:
    for _ in range(3):
        with pytest.raises(TypeError):
            web.Response(text=b"bytes")  # type: ignore[arg-type]


def test_custom_status_and_reason_with_text() -> None:
    response = web.Response(text="gone", status=410, reason="Long Gone")
    assert (response.status, response.reason, response.text) == (410, "Long Gone", "gone")


def test_http_exceptions_default_text_and_type() -> None:
    for _ in range(2):
        exc = web.HTTPNotFound()
        assert (exc.status, exc.reason, exc.text) == (404, "Not Found", "404: Not Found")
        assert exc.content_type == "text/plain" and exc.charset == "utf-8"
    custom = web.HTTPForbidden(reason="Nope")
    assert custom.text == "403: Nope"
    assert web.HTTPNoContent().body is None
    assert web.HTTPNotFound(text="gone").text == "gone"
    with_type = web.HTTPBadRequest(content_type="application/problem+json")
    assert with_type.content_type == "application/problem+json"
    assert with_type.text == "400: Bad Request"


def test_a_failed_match_is_freed_without_the_garbage_collector() -> None:
    from heron._web.match_info import MatchInfoError

    gc.disable()
    try:
        exc = web.HTTPNotFound()
        ref = weakref.ref(exc)
        info = MatchInfoError(exc)
        assert info.route.handler is not None
        del exc, info
        assert ref() is None
    finally:
        gc.enable()


@pytest.mark.parametrize("content_type", ["application/octet-stream", "image/x-test"])
def test_bytes_responses_are_the_same_the_first_time_and_later(content_type: str) -> None:
    for _ in range(3):
        response = web.Response(body=b"\x00\x01", content_type=content_type)
        assert list(response.headers.items()) == [("Content-Type", content_type)]
        assert response.body == b"\x00\x01"
        assert response.content_type == content_type
    with pytest.raises(ValueError, match="body and text are not allowed together"):
        web.Response(body=b"x", text="y", content_type=content_type)
