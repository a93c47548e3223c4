"""A heron server in its own process, for memory measurements (VmHWM of this pid).

    python tests/bodies/memserver.py CLIENT_MAX_SIZE   # prints the port, serves until killed

Routes follow aiohttp's "Server Usage" upload examples: ``/stream`` reads parts with
``multipart()`` and ``read_chunk()`` into a file, ``/post`` uses ``post()``, ``/read``
uses ``read()``.  Each answers JSON with what it received (sizes, CRC-32).
"""

from __future__ import annotations

import asyncio
import os
import sys
import zlib

from heron import web


async def stream(request: web.Request) -> web.Response:
    reader = await request.multipart()
    result = []
    while (part := await reader.next()) is not None:
        size = 0
        crc = 0
        with open(os.devnull, "wb") as f:
            while True:
                chunk = await part.read_chunk()
                if not chunk:
                    break
                size += len(chunk)
                crc = zlib.crc32(chunk, crc)
                f.write(chunk)
        result.append({"name": part.name, "size": size, "crc": crc})
    return web.json_response(result)


async def post(request: web.Request) -> web.Response:
    data = await request.post()
    result = {}
    for name, value in data.items():
        if isinstance(value, web.FileField):
            size = 0
            crc = 0
            while chunk := value.file.read(2**16):
                size += len(chunk)
                crc = zlib.crc32(chunk, crc)
            result[name] = {"filename": value.filename, "size": size, "crc": crc}
        else:
            result[name] = value
    return web.json_response(result)


async def read(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response({"size": len(body)})


async def main() -> None:
    app = web.Application(client_max_size=int(sys.argv[1]))
    app.router.add_post("/stream", stream)
    app.router.add_post("/post", post)
    app.router.add_post("/read", read)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site.port, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
