"""Peak memory of a server process while it receives large or hostile bodies.

The server runs in a subprocess (``memserver.py``); its ``VmHWM`` (peak resident set)
is read from ``/proc/<pid>/status`` after a warm-up request and again after the
measured one.  Clients are plain blocking sockets, so nothing here shares the
server's memory.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")

MiB = 2**20
SERVER = Path(__file__).with_name("memserver.py")
BOUNDARY = "heronMemoryTestBoundary42"


class Server:
    def __init__(self, client_max_size: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER), str(client_max_size)],
            stdout=subprocess.PIPE,
            cwd=Path(__file__).parents[2],
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # bounded by the test's timeout guard
        self.port = int(line)

    def hwm_kib(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("no VmHWM")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def server_factory() -> Iterator[type[Server]]:
    servers: list[Server] = []

    def make(client_max_size: int) -> Server:
        server = Server(client_max_size)
        servers.append(server)
        return server

    yield make  # type: ignore[misc]
    for server in servers:
        server.close()


def request(
    port: int, path: str, headers: dict[str, str], body: Iterator[bytes]
) -> tuple[int, bytes]:
    """POST ``body`` (an iterator of pieces); return the status and response body.

    Sending stops early if the server answers and closes first (a 413).
    """
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        try:
            sock.sendall(head.encode())
            for piece in body:
                sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
    status_line, _, rest = data.partition(b"\r\n")
    _, _, body_bytes = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), body_bytes


def multipart_file(
    name: str, filename: str, block: bytes, count: int
) -> tuple[int, Iterator[bytes]]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
        f'filename="{filename}"\r\nContent-Type: audio/mpeg\r\n\r\n'
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()

    def pieces() -> Iterator[bytes]:
        yield head
        for _ in range(count):
            yield block
        yield tail

    return len(head) + len(block) * count + len(tail), pieces()


def warm_up(server: Server) -> None:
    size, body = multipart_file("mp3", "warm.mp3", os.urandom(256 * 1024), 1)
    headers = {
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(size),
    }
    assert request(server.port, "/stream", headers, body)[0] == 200
    size, body = multipart_file("mp3", "warm.mp3", os.urandom(256 * 1024), 1)
    assert request(server.port, "/post", headers, body)[0] == 200


def upload(server: Server, path: str, total: int) -> dict[str, object]:
    block = os.urandom(MiB)
    count = total // MiB
    size, body = multipart_file("mp3", "big.mp3", block, count)
    headers = {
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(size),
    }
    status, payload = request(server.port, path, headers, body)
    assert status == 200, payload
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    result = json.loads(payload)
    part = result[0] if isinstance(result, list) else result["mp3"]
    assert part["size"] == total
    assert part["crc"] == crc
    return result


@pytest.mark.slow
def test_one_gib_upload_streamed_with_multipart(server_factory) -> None:
    server = server_factory(MiB)
    warm_up(server)
    before = server.hwm_kib()
    upload(server, "/stream", 1024 * MiB)
    growth = server.hwm_kib() - before
    print(f"1 GiB via multipart(): VmHWM growth {growth} KiB")
    assert growth < 8 * 1024


@pytest.mark.slow
def test_hundred_mib_file_through_post_is_spooled(server_factory) -> None:
    server = server_factory(200 * MiB)
    warm_up(server)
    before = server.hwm_kib()
    upload(server, "/post", 100 * MiB)
    growth = server.hwm_kib() - before
    print(f"100 MiB via post(): VmHWM growth {growth} KiB")
    assert growth < 8 * 1024


def gzip_bomb(inflated_member: int, members: int) -> bytes:
    member = gzip.compress(bytes(inflated_member), compresslevel=9)
    return member * members


def test_gzip_bomb_gets_413_within_a_chunk_of_the_limit(server_factory) -> None:
    limit = 4 * MiB
    server = server_factory(limit)
    warm_up(server)
    bomb = gzip_bomb(64 * MiB, 1)
    bomb = bomb * (10 * MiB // len(bomb) + 1)  # ~10 MiB on the wire, ~100 GiB inflated
    assert len(bomb) >= 10 * MiB
    before = server.hwm_kib()
    # Chunked, so no Content-Length lets the server refuse it before inflating anything.
    headers = {"Content-Encoding": "gzip", "Transfer-Encoding": "chunked"}
    pieces = (
        b"%x\r\n%b\r\n" % (len(p), p) for p in (bomb[i : i + MiB] for i in range(0, len(bomb), MiB))
    )
    status, _ = request(server.port, "/read", headers, pieces)
    assert status == 413
    growth = server.hwm_kib() - before
    print(f"gzip bomb: VmHWM growth {growth} KiB (limit {limit // 1024} KiB)")
    # The body held in memory is the limit plus one 64 KiB piece; allow 1 MiB for
    # the interpreter's own churn.
    assert growth < (limit + MiB) // 1024
    # The server is still serving.
    warm_up(server)
