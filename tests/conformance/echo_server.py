"""A heron WebSocket echo server for the Autobahn|Testsuite (``autobahn.py`` starts it).

python tests/conformance/echo_server.py --port 9001
"""

from __future__ import annotations

import argparse
import asyncio

from heron import web
from heron._web.websocket import WebSocketResponse, WSMsgType


async def echo(request: web.Request) -> WebSocketResponse:
    """Echo every TEXT and BINARY message back."""
    # The suite sends messages of up to 16 MiB: lift the 4 MiB default for it.
    ws = WebSocketResponse(max_msg_size=0)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type is WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type is WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


def main() -> None:
    """Serve the echo app until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    args = parser.parse_args()
    app = web.Application()
    app.router.add_get("/", echo)
    loop_factory = None
    if args.uvloop:
        import uvloop  # optional dependency

        loop_factory = uvloop.new_event_loop
    asyncio.set_event_loop(loop_factory() if loop_factory else asyncio.new_event_loop())
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
