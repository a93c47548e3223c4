"""Probes over raw sockets: one GET per connection, and Prometheus text read back into
numbers (prometheus_client's own parser)."""

from __future__ import annotations

import asyncio

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def exchange(port: int, request: bytes) -> bytes:
    """Send ``request`` on a new connection; every byte answered until the server closes
    (OSError when the connection is refused)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    try:
        writer.write(request)
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


async def get(port: int, path: str) -> bytes:
    """GET ``path`` on a new connection that closes after it."""
    return await exchange(
        port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )


def status(answer: bytes) -> int:
    """The status code of a raw answer."""
    return int(answer.split(b" ", 2)[1])


async def status_of(port: int, path: str) -> int:
    """The status of GET ``path`` on a new connection."""
    return status(await get(port, path))


async def scrape(port: int, path: str = "/metrics") -> Samples:
    """GET ``path``; every sample by (name, labels)."""
    answer = await get(port, path)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    samples: Samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample ``name`` with exactly ``labels`` (0 when absent)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def assert_summed(samples: Samples, requests: int) -> None:
    """``requests`` GETs of /pid counted once each, whichever worker served them."""
    labels = {"route": "/pid", "method": "GET", "status": "200"}
    assert value(samples, "heron_requests_total", **labels) == requests
    assert value(samples, "heron_request_duration_seconds_count", **labels) == requests
    # Live gauges are summed too: only the scrape itself is in flight.
    assert value(samples, "heron_requests_in_flight") == 1


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """ "uvloop" or "asyncio": the kind of loop a test runs on (its servers run on the same)."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
