"""Response serialisation: status lines, header blocks, chunk framing."""

from __future__ import annotations

import h11
import pytest

from heron._proto.serialize import encode_chunk, serialize_head, status_line


def test_status_line_known_and_custom() -> None:
    assert status_line((1, 1), 200, None) == "HTTP/1.1 200 OK\r\n"
    assert status_line((1, 0), 404, None) == "HTTP/1.0 404 Not Found\r\n"
    assert status_line((1, 1), 299, None) == "HTTP/1.1 299 \r\n"
    assert status_line((1, 1), 200, "Fine") == "HTTP/1.1 200 Fine\r\n"


@pytest.mark.parametrize("reason", ["a\r\nX: y", "a\nb", "a\rb"])
def test_reason_with_newline_refused(reason: str) -> None:
    with pytest.raises(ValueError):
        status_line((1, 1), 200, reason)


@pytest.mark.parametrize(
    "headers",
    [
        [("X", "a\r\nSet-Cookie: evil=1")],
        [("X", "a\nb")],
        [("X", "a\rb")],
        [("X\r\nY", "v")],
        [("X", "a\x00b")],
    ],
)
def test_header_injection_refused(headers: list[tuple[str, str]]) -> None:
    with pytest.raises(ValueError):
        serialize_head("HTTP/1.1 200 OK\r\n", headers)


def test_head_parses_with_h11() -> None:
    head = serialize_head(
        status_line((1, 1), 200, None),
        [("Content-Length", "5"), ("Content-Type", "text/plain")],
    )
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    conn.receive_data(head + b"hello")
    event = conn.next_event()
    assert isinstance(event, h11.Response)
    assert event.status_code == 200
    data = conn.next_event()
    assert isinstance(data, h11.Data) and data.data == b"hello"


def test_encode_chunk() -> None:
    assert encode_chunk(b"hello") == b"5\r\nhello\r\n"
    assert encode_chunk(b"x" * 26) == b"1a\r\n" + b"x" * 26 + b"\r\n"
