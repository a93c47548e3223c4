"""Run the Autobahn|Testsuite fuzzing client (cases 1-13) against heron's echo server.

    python tests/conformance/autobahn.py                 # all cases, ~10 minutes
    python tests/conformance/autobahn.py --cases 1.*,5.*  # a subset

It installs the suite on first use (Python 2.7 from pyenv, ``virtualenv==20.21.1``,
``autobahntestsuite==25.10.1``) under ``--env`` (default ~/.cache/heron-autobahn),
starts ``echo_server.py`` on a free port, runs ``wstest -m fuzzingclient``, prints a
summary, and exits 1 if any case is not OK, NON-STRICT or INFORMATIONAL.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PASSING = frozenset({"OK", "NON-STRICT", "INFORMATIONAL"})
AUTOBAHN = "autobahntestsuite==25.10.1"
VIRTUALENV = "virtualenv==20.21.1"


def _run(cmd: list[str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def install(env: Path) -> Path:
    """The path of ``wstest``, installing the suite under ``env`` if needed."""
    wstest = env / "py27" / "bin" / "wstest"
    if wstest.exists():
        return wstest
    pyenv_root = subprocess.run(
        ["pyenv", "root"], check=True, capture_output=True, text=True
    ).stdout.strip()
    py27 = Path(pyenv_root) / "versions" / "2.7.18" / "bin" / "python2.7"
    if not py27.exists():
        sys.exit(f"Python 2.7.18 not found at {py27} (pyenv install 2.7.18)")
    env.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "venv", str(env / "venv3")])
    _run([str(env / "venv3" / "bin" / "pip"), "install", "-q", VIRTUALENV])
    _run([str(env / "venv3" / "bin" / "virtualenv"), "-p", str(py27), str(env / "py27")])
    _run([str(env / "py27" / "bin" / "pip"), "install", "-q", AUTOBAHN])
    return wstest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit("echo server exited early")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit("echo server did not start")


def summarize(index: dict[str, dict[str, dict[str, str]]]) -> list[str]:
    """Print a per-verdict count; return the failing case ids."""
    failures: list[str] = []
    for agent, cases in index.items():
        counts: collections.Counter[str] = collections.Counter()
        for case_id, result in cases.items():
            behavior = result["behavior"]
            closing = result.get("behaviorClose", "OK")
            counts[behavior] += 1
            if behavior not in PASSING or closing not in PASSING:
                failures.append(f"{case_id}: {behavior} (close: {closing})")
        summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        print(f"{agent}: {sum(counts.values())} cases: {summary}")
    return failures


def main() -> int:
    """Install if needed, run the suite, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--env", default=os.path.expanduser("~/.cache/heron-autobahn"))
    parser.add_argument("--cases", default="1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*,12.*,13.*")
    parser.add_argument("--report", default=None, help="directory for the HTML/JSON report")
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args()
    wstest = install(Path(args.env))
    report = Path(args.report or tempfile.mkdtemp(prefix="heron-autobahn-"))
    shutil.rmtree(report, ignore_errors=True)
    port = _free_port()
    server_cmd = [sys.executable, str(HERE / "echo_server.py"), "--port", str(port)]
    if args.uvloop:
        server_cmd.append("--uvloop")
    server = subprocess.Popen(server_cmd)
    try:
        _wait_port(port, server)
        spec = {
            "outdir": str(report),
            "servers": [{"agent": "heron", "url": f"ws://127.0.0.1:{port}"}],
            "cases": [c.strip() for c in args.cases.split(",") if c.strip()],
            "exclude-cases": [],
            "exclude-agent-cases": {},
        }
        spec_path = report.parent / f"{report.name}-spec.json"
        spec_path.write_text(json.dumps(spec))
        _run([str(wstest), "-m", "fuzzingclient", "-s", str(spec_path)])
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    index = json.loads((report / "index.json").read_text())
    failures = summarize(index)
    print(f"report: {report / 'index.html'}")
    if failures:
        print(f"{len(failures)} failing case(s):")
        for line in failures:
            print("  " + line)
        return 1
    print("Autobahn: all cases passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
