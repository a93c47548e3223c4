"""A minimal raw WebSocket client for tests that need to misbehave on the wire."""

from __future__ import annotations

import asyncio
import base64
import os
import socket

from heron._proto.websocket.frames import FrameChunk, FrameDecoder, encode_frame

TIMEOUT = 10.0


class RawWS:
    """Handshake by hand, then send arbitrary bytes and read whole frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.head = b""
        self._frames = FrameDecoder(masked=False)
        self._pending: list[FrameChunk] = []

    @classmethod
    async def connect(
        cls, port: int, path: str = "/", *, extra: bytes = b"", rcvbuf: int | None = None
    ) -> RawWS:
        if rcvbuf is not None:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
            reader, writer = await asyncio.open_connection(sock=sock, limit=2**16)
        else:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        ws = cls(reader, writer)
        key = base64.b64encode(os.urandom(16))
        writer.write(
            b"GET " + path.encode() + b" HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
            + key
            + b"\r\n\r\n"
            + extra
        )
        ws.head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        return ws

    def send(self, opcode: int, payload: bytes, *, fin: bool = True) -> None:
        self.writer.write(encode_frame(opcode, payload, fin=fin, mask=True))

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    async def frame(self) -> tuple[int, bytes]:
        """The next whole frame (opcode, payload); raises EOFError at end of stream."""
        data = b""
        while True:
            while self._pending:
                chunk = self._pending.pop(0)
                data += chunk.data
                if chunk.last:
                    return chunk.opcode, data
            got = await asyncio.wait_for(self.reader.read(2**16), TIMEOUT)
            if not got:
                raise EOFError
            self._pending.extend(self._frames.feed(got))

    async def close_frame(self) -> tuple[int, bytes]:
        """Skip frames until a Close frame; return (code, reason)."""
        while True:
            opcode, payload = await self.frame()
            if opcode == 0x8:
                return int.from_bytes(payload[:2], "big"), payload[2:]

    async def eof(self) -> bool:
        """Wait for the server to close the connection."""
        while True:
            got = await asyncio.wait_for(self.reader.read(2**16), TIMEOUT)
            if not got:
                return True

    def close(self) -> None:
        self.writer.close()
