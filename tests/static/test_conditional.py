"""Validators and conditional requests on file responses, checked against RFC 9110.

Each test names the section it checks. The server is real; requests are raw bytes.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from heron import web
from heron._util.dates import http_date
from heron._web.fileresponse import FileResponse

from .conftest import Serve, fetch

_ETAG_RE = re.compile(r'^"[0-9a-f]+-[0-9a-f]+"$')


@pytest.fixture
async def port(serve: Serve, tree: Path) -> int:
    public = tree / "public"
    # A modification time with a fraction of a second and well in the past.
    os.utime(public / "hello.txt", ns=(1_600_000_000_700_000_000, 1_600_000_000_700_000_000))
    app = web.Application()
    app.router.add_static("/static", public)

    async def upload(request: web.Request) -> web.StreamResponse:
        return FileResponse(public / "hello.txt")

    app.router.add_route("*", "/file", upload)
    return await serve(app)


LAST_MODIFIED = http_date(1_600_000_000)  # rounded down: never later than the Date


async def _validators(port: int) -> tuple[str, str]:
    reply = await fetch(port, "/static/hello.txt")
    etag, last_modified = reply.header("etag"), reply.header("last-modified")
    assert etag is not None and last_modified is not None
    return etag, last_modified


async def test_strong_etag_and_last_modified_on_every_file_response(port: int) -> None:
    # §8.8.3: a strong entity-tag (no W/); §8.8.2: Last-Modified, not later than Date.
    for target in ("/static/hello.txt", "/file"):
        reply = await fetch(port, target)
        assert reply.status == 200
        assert _ETAG_RE.match(reply.header("etag") or ""), reply.headers
        assert reply.header("last-modified") == LAST_MODIFIED
        assert reply.header("accept-ranges") == "bytes"
        # The type from the name, without a charset the server cannot know (as aiohttp).
        assert reply.header("content-type") == "text/plain"


async def test_if_none_match_gives_304_with_validators(port: int) -> None:
    # §13.1.2: weak comparison; a match answers 304 for GET and HEAD.
    # §15.4.5: the 304 carries ETag (and Last-Modified here) and no content.
    etag, _ = await _validators(port)
    for value in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
        for method in ("GET", "HEAD"):
            reply = await fetch(
                port, "/static/hello.txt", [("If-None-Match", value)], method=method
            )
            assert reply.status == 304, (value, method)
            assert reply.body == b""
            assert reply.header("etag") == etag
            assert reply.header("content-length") is None
    reply = await fetch(port, "/static/hello.txt", [("If-None-Match", '"other"')])
    assert reply.status == 200 and reply.body == b"hello, world\n"


async def test_if_none_match_keeps_the_tags_before_a_malformed_element(port: int) -> None:
    # As aiohttp reads If-None-Match: a malformed element ends the list, the well-formed
    # tags before it still count (a match can only mean 304); a list that starts
    # malformed is ignored.
    etag, _ = await _validators(port)
    for value in (f'{etag},W/"weak",invalid-tag', f'"other", {etag}, "unterminated'):
        reply = await fetch(port, "/static/hello.txt", [("If-None-Match", value)])
        assert reply.status == 304, value
        assert reply.header("etag") == etag
    for value in (f'"other", invalid-tag, {etag}', f"invalid-tag, {etag}"):
        reply = await fetch(port, "/static/hello.txt", [("If-None-Match", value)])
        assert reply.status == 200, value
        assert reply.body == b"hello, world\n"


async def test_if_none_match_on_other_methods_is_412(port: int) -> None:
    # §13.1.2: "... or 412 (Precondition Failed) status code for all other request methods".
    etag, _ = await _validators(port)
    reply = await fetch(port, "/file", [("If-None-Match", etag)], method="POST")
    assert reply.status == 412


async def test_if_modified_since(port: int) -> None:
    # §13.1.3: 304 when Last-Modified is not later than the date; the date that was
    # sent as Last-Modified matches even though the file's mtime has a fraction.
    reply = await fetch(port, "/static/hello.txt", [("If-Modified-Since", LAST_MODIFIED)])
    assert reply.status == 304
    later = http_date(1_700_000_000)
    assert (await fetch(port, "/file", [("If-Modified-Since", later)])).status == 304
    earlier = http_date(1_500_000_000)
    reply = await fetch(port, "/static/hello.txt", [("If-Modified-Since", earlier)])
    assert reply.status == 200


async def test_if_modified_since_accepts_the_obsolete_date_forms(port: int) -> None:
    # §5.6.7: recipients accept IMF-fixdate, rfc850-date and asctime-date.
    for value in (
        "Sun, 13 Sep 2020 12:26:40 GMT",
        "Sunday, 13-Sep-20 12:26:40 GMT",
        "Sun Sep 13 12:26:40 2020",
    ):
        reply = await fetch(port, "/static/hello.txt", [("If-Modified-Since", value)])
        assert reply.status == 304, value


async def test_dates_with_a_one_digit_day_are_read(port: int) -> None:
    # RFC 5322's form with one digit for the day (aiohttp reads it too).
    reply = await fetch(port, "/file", [("If-Unmodified-Since", "Mon, 1 Jan 1990 01:01:01 GMT")])
    assert reply.status == 412
    reply = await fetch(port, "/file", [("If-Modified-Since", "Tue, 1 Jan 2030 00:00:00 GMT")])
    assert reply.status == 304


async def test_year_zero_is_an_invalid_date_not_a_server_error(port: int) -> None:
    # There is no year 0: the date is invalid, so the field is ignored (§13.1.3, §13.1.4).
    etag, _ = await _validators(port)
    year_zero = "Fri, 31 Dec 0000 23:59:59 GMT"
    for name in ("If-Unmodified-Since", "If-Modified-Since"):
        for method in ("GET", "HEAD"):
            reply = await fetch(port, "/file", [(name, year_zero)], method=method)
            assert reply.status == 200, (name, method)
    reply = await fetch(port, "/file", [("If-Match", etag), ("If-Unmodified-Since", year_zero)])
    assert reply.status == 200
    reply = await fetch(port, "/file", [("If-Range", year_zero), ("Range", "bytes=0-1")])
    assert reply.status == 200 and reply.body == b"hello, world\n"


async def test_if_modified_since_is_ignored_when_invalid_or_with_if_none_match(port: int) -> None:
    # §13.1.3: ignored if not a valid HTTP-date, and when If-None-Match is present.
    later = http_date(1_700_000_000)
    for value in (
        "yesterday",
        "Sun, 13 Sep 2020 12:26:40 +0000",
        "Sun, 13 Sep 2020 12:26:4\u0660 GMT",  # ARABIC-INDIC DIGIT ZERO is not a digit here
    ):
        reply = await fetch(port, "/static/hello.txt", [("If-Modified-Since", value)])
        assert reply.status == 200, value
    reply = await fetch(
        port, "/static/hello.txt", [("If-None-Match", '"other"'), ("If-Modified-Since", later)]
    )
    assert reply.status == 200


async def test_if_match(port: int) -> None:
    # §13.1.1: strong comparison; no match answers 412; "*" matches a current file.
    etag, _ = await _validators(port)
    assert (await fetch(port, "/file", [("If-Match", etag)])).status == 200
    assert (await fetch(port, "/file", [("If-Match", "*")])).status == 200
    assert (await fetch(port, "/file", [("If-Match", f'"a", {etag}')])).status == 200
    for value in ('"other"', f"W/{etag}", "garbage"):
        reply = await fetch(port, "/file", [("If-Match", value)])
        assert reply.status == 412, value
        assert reply.body == b""


async def test_if_unmodified_since(port: int) -> None:
    # §13.1.4: 412 when Last-Modified is later than the date; ignored with If-Match.
    etag, _ = await _validators(port)
    earlier = http_date(1_500_000_000)
    assert (await fetch(port, "/file", [("If-Unmodified-Since", earlier)])).status == 412
    assert (await fetch(port, "/file", [("If-Unmodified-Since", LAST_MODIFIED)])).status == 200
    reply = await fetch(port, "/file", [("If-Match", etag), ("If-Unmodified-Since", earlier)])
    assert reply.status == 200


async def test_precedence(port: int) -> None:
    # §13.2.2: If-Match/If-Unmodified-Since are evaluated before If-None-Match/-Modified-Since.
    etag, _ = await _validators(port)
    reply = await fetch(port, "/file", [("If-Match", '"other"'), ("If-None-Match", etag)])
    assert reply.status == 412
    reply = await fetch(
        port, "/file", [("If-Unmodified-Since", http_date(1)), ("If-Modified-Since", LAST_MODIFIED)]
    )
    assert reply.status == 412


async def test_conditions_ignored_for_non_2xx_file_responses(serve: Serve, tree: Path) -> None:
    # §13.2.1: conditional fields do not apply when the response would not be a 2xx.
    app = web.Application()

    async def not_found_page(request: web.Request) -> web.StreamResponse:
        return FileResponse(tree / "public" / "hello.txt", status=404)

    app.router.add_get("/missing", not_found_page)
    port = await serve(app)
    reply = await fetch(port, "/missing", [("If-None-Match", "*"), ("Range", "bytes=0-1")])
    assert reply.status == 404
    assert reply.body == b"hello, world\n"


async def test_changed_file_gets_new_validators(serve: Serve, tree: Path) -> None:
    # §8.8.3: the entity-tag changes when the representation does.
    path = tree / "public" / "hello.txt"
    app = web.Application()
    app.router.add_static("/static", tree / "public")
    port = await serve(app)
    first = await fetch(port, "/static/hello.txt")
    path.write_text("changed!\n")
    os.utime(path, (time.time() + 5, time.time() + 5))
    reply = await fetch(port, "/static/hello.txt", [("If-None-Match", first.header("etag") or "")])
    assert reply.status == 200
    assert reply.body == b"changed!\n"
    assert reply.header("etag") != first.header("etag")
