"""1 MiB multipart upload: heron vs aiohttp, under wrk (standalone; see bench/README.md).

    python bench/upload.py                          # both scenarios, 3 rounds x 5 s
    python bench/upload.py --rounds 1 --duration 2  # quicker
    python bench/upload.py --serve heron --port P --path /multipart   # (internal) one server

Scenarios (the same application written against the ``web`` API, uvloop when installed):

- ``multipart``: ``await request.multipart()``, then ``part.read_chunk()`` in a loop, the
  streaming upload pattern of aiohttp's "Server Usage" page;
- ``post``: ``await request.post()`` and reading the ``FileField``'s file.

wrk posts one prebuilt 1 MiB ``multipart/form-data`` body (a Lua script sets ``wrk.body``).
Each server is a fresh process pinned to CPU 0, wrk runs on CPU 1 (when there are 2 CPUs).
Every wait is bounded; servers are killed on exit.  Prints medians of req/s and MiB/s.
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
BOUNDARY = "benchUploadBoundary7e3f"
SIZE = 2**20
SCENARIOS = {"multipart": "/multipart", "post": "/post"}


def build_body() -> bytes:
    """One form: a text field and a 1 MiB file (random bytes, fixed seed)."""
    data = (bytes(range(256)) * (SIZE // 256))[::-1]
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="name"\r\n\r\nsong\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="mp3"; filename="a.mp3"\r\n'
            f"Content-Type: audio/mpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


# ---------------------------------------------------------------------- server side


def build_app(web):  # type: ignore[no-untyped-def]
    """The benchmark application, written against aiohttp.web's API."""

    async def multipart(request):  # type: ignore[no-untyped-def]
        reader = await request.multipart()
        size = 0
        async for part in reader:
            while chunk := await part.read_chunk():
                size += len(chunk)
        return web.Response(text=str(size))

    async def post(request):  # type: ignore[no-untyped-def]
        data = await request.post()
        size = len(data["name"])
        size += len(data["mp3"].file.read())
        return web.Response(text=str(size))

    app = web.Application(client_max_size=4 * SIZE)
    app.router.add_post("/multipart", multipart)
    app.router.add_post("/post", post)
    return app


def serve(impl: str, port: int) -> None:
    """Run one server until killed."""
    sys.path.insert(0, str(REPO_ROOT))
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {0})
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web = importlib.import_module(f"{impl}.web")
    web.run_app(build_app(web), host=HOST, port=port, print=None, access_log=None)


# ---------------------------------------------------------------------- client side


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def preflight(port: int, path: str, body: bytes) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    ctype = f"multipart/form-data; boundary={BOUNDARY}"
    conn.request("POST", path, body=body, headers={"Content-Type": ctype})
    resp = conn.getresponse()
    text = resp.read().decode()
    conn.close()
    expected = SIZE + len("song")
    if resp.status != 200 or int(text) != expected:
        raise RuntimeError(f"preflight: {resp.status} {text!r}")


def run_wrk(port: int, path: str, script: Path, args: argparse.Namespace) -> float:
    cmd = ["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", "-s", str(script)]
    if (os.cpu_count() or 1) >= 2:
        cmd = ["taskset", "-c", "1", *cmd]
    out = subprocess.run(
        [*cmd, f"http://{HOST}:{port}{path}"],
        capture_output=True,
        text=True,
        timeout=args.duration + 30,
        check=True,
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if match is None:
        raise RuntimeError(f"no Requests/sec in wrk output:\n{out}")
    return float(match.group(1))


def measure(impl: str, path: str, body: bytes, script: Path, args: argparse.Namespace) -> float:
    port = free_port()
    proc = subprocess.Popen(
        [args.python, __file__, "--serve", impl, "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_ready(port, proc)
        preflight(port, path, body)
        return run_wrk(port, path, script, args)
    finally:
        proc.kill()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", choices=("heron", "aiohttp"))
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--impls", default="heron,aiohttp")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    body = build_body()
    impls = [i for i in args.impls.split(",") if i]
    results: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        body_path = Path(tmp, "body.bin")
        body_path.write_bytes(body)
        script = Path(tmp, "upload.lua")
        script.write_text(
            'wrk.method = "POST"\n'
            f'local f = assert(io.open("{body_path}", "rb"))\n'
            "wrk.body = f:read('*all')\nf:close()\n"
            f'wrk.headers["Content-Type"] = "multipart/form-data; boundary={BOUNDARY}"\n'
        )
        for scenario in args.scenarios.split(","):
            for _ in range(args.rounds):
                for impl in impls:
                    rps = measure(impl, SCENARIOS[scenario], body, script, args)
                    results.setdefault((scenario, impl), []).append(rps)
                    print(f"{scenario:10} {impl:8} {rps:8.1f} req/s", file=sys.stderr)
    print(f"{'scenario':10} " + " ".join(f"{i + ' req/s':>14} {'MiB/s':>7}" for i in impls), end="")
    print("   ratio" if len(impls) == 2 else "")
    for scenario in args.scenarios.split(","):
        medians = [statistics.median(results[(scenario, impl)]) for impl in impls]
        cells = " ".join(f"{m:14.1f} {m * len(body) / 2**20:7.1f}" for m in medians)
        ratio = f"   {medians[0] / medians[1]:.2f}x" if len(medians) == 2 and medians[1] else ""
        print(f"{scenario:10} {cells}{ratio}")


if __name__ == "__main__":
    main()
