"""The opening handshake and permessage-deflate negotiation, as pure functions."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from heron._proto.websocket.deflate import DeflateParams, negotiate, parse_response
from heron._proto.websocket.handshake import (
    HandshakeError,
    accept_key,
    check_request,
    check_response,
    select_protocol,
)

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def headers(**overrides: str | None) -> CIMultiDict[str]:
    base = {
        "Upgrade": "websocket",
        "Connection": "keep-alive, Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": KEY,
    }
    for name, value in overrides.items():
        name = name.replace("_", "-")
        if value is None:
            base.pop(name, None)
        else:
            base[name] = value
    return CIMultiDict(base)


def test_accept_key_is_the_rfc_example() -> None:
    assert accept_key(KEY) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_valid_request_gives_its_key() -> None:
    assert check_request("GET", (1, 1), headers()) == KEY


@pytest.mark.parametrize(
    ("method", "version", "hdrs", "status"),
    [
        ("POST", (1, 1), headers(), 400),
        ("GET", (1, 0), headers(), 400),
        ("GET", (1, 1), headers(Upgrade="h2c"), 400),
        ("GET", (1, 1), headers(Upgrade="web\u017focket"), 400),
        ("GET", (1, 1), headers(Connection="keep-alive"), 400),
        ("GET", (1, 1), headers(Sec_WebSocket_Key="c2hvcnQ="), 400),
        ("GET", (1, 1), headers(Sec_WebSocket_Key="not base64!!"), 400),
        ("GET", (1, 1), headers(Sec_WebSocket_Key=None), 400),
        ("GET", (1, 1), headers(Sec_WebSocket_Version="8"), 426),
        ("GET", (1, 1), headers(Sec_WebSocket_Version=None), 426),
    ],
)
def test_bad_requests(
    method: str, version: tuple[int, int], hdrs: CIMultiDict[str], status: int
) -> None:
    with pytest.raises(HandshakeError) as info:
        check_request(method, version, hdrs)
    assert info.value.status == status
    if status == 426:
        assert info.value.headers == {"Sec-WebSocket-Version": "13"}


def test_select_protocol_takes_the_clients_first_supported() -> None:
    assert select_protocol("chat, superchat", ("superchat", "chat")) == "chat"
    assert select_protocol("a, b", ("c",)) is None
    assert select_protocol(None, ("c",)) is None


def test_check_response() -> None:
    ok = CIMultiDict(
        {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Accept": accept_key(KEY)}
    )
    assert check_response(101, ok, KEY, ()) is None
    with pytest.raises(HandshakeError):
        check_response(200, ok, KEY, ())
    bad_accept = ok.copy()
    bad_accept["Sec-WebSocket-Accept"] = "x"
    with pytest.raises(HandshakeError):
        check_response(101, bad_accept, KEY, ())
    unoffered = ok.copy()
    unoffered["Sec-WebSocket-Protocol"] = "p"
    with pytest.raises(HandshakeError):
        check_response(101, unoffered, KEY, ("q",))
    assert check_response(101, unoffered, KEY, ("p",)) == "p"


@pytest.mark.parametrize(
    ("offer", "agreed"),
    [
        (None, None),
        ("x-webkit-deflate-frame", None),
        ("permessage-deflate", "permessage-deflate"),
        ("permessage-deflate; client_max_window_bits", "permessage-deflate"),
        (
            "permessage-deflate; client_max_window_bits=10",
            "permessage-deflate; client_max_window_bits=10",
        ),
        (
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        ),
        (
            'permessage-deflate; server_max_window_bits="8"',
            "permessage-deflate; server_max_window_bits=8",
        ),
        # Unacceptable first offers are skipped for the next one.
        ("permessage-deflate; server_max_window_bits=16, permessage-deflate", "permessage-deflate"),
        ("permessage-deflate; server_max_window_bits", None),
        ("permessage-deflate; foo=1", None),
        ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", None),
        ("permessage-deflate; server_no_context_takeover=1", None),
    ],
)
def test_negotiate(offer: str | None, agreed: str | None) -> None:
    result = negotiate(offer)
    assert (result.header() if result is not None else None) == agreed


def test_parse_response() -> None:
    params = parse_response("permessage-deflate; server_no_context_takeover")
    assert params == DeflateParams(server_no_context_takeover=True)
    assert parse_response(None) is None
    with pytest.raises(ValueError):
        parse_response("permessage-deflate; bogus")
    with pytest.raises(ValueError):
        parse_response("other-extension")
