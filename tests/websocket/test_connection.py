"""WebSocketConnection over a stub transport: how frames are written and reads are paced."""

from __future__ import annotations

import asyncio
from typing import Any

from heron._io.websocket import WebSocketConnection
from heron._io.ws_messages import MessageMethods
from heron._proto.websocket.frames import FrameDecoder, encode_frame
from heron._proto.websocket.models import WSMsgType

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


class StubTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.buffered = 0
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def close(self) -> None:
        self.closing = True

    def frames(self) -> list[tuple[int, bytes]]:
        """Every frame written so far, as (opcode, payload)."""
        decoder = FrameDecoder(masked=False)
        return [(c.opcode, c.data) for c in decoder.feed(b"".join(self.writes))]


class StubFlow:
    def __init__(self) -> None:
        self.transport = StubTransport()
        self.drains = 0
        self.reading = True

    async def wait_writable(self) -> None:
        self.drains += 1

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


class WS(MessageMethods):
    __slots__ = ("_conn",)

    def __init__(self, conn: WebSocketConnection) -> None:
        self._conn = conn

    def _connection(self) -> WebSocketConnection:
        return self._conn


def connect(**kwargs: Any) -> tuple[WS, StubFlow]:
    flow = StubFlow()
    conn = WebSocketConnection(
        flow,  # type: ignore[arg-type]
        asyncio.get_running_loop(),
        is_server=True,
        **kwargs,
    )
    return WS(conn), flow


def frames(*messages: tuple[int, bytes]) -> bytes:
    """One read holding these client frames."""
    return b"".join(encode_frame(op, payload, mask=True) for op, payload in messages)


async def turns(n: int = 3) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def echo(ws: WS) -> None:
    async for msg in ws:
        await ws.send_str(msg.data + "!")


async def test_answers_to_one_read_go_out_in_one_write() -> None:
    ws, flow = connect()
    task = asyncio.create_task(echo(ws))
    await turns()
    ws._conn.feed(frames(*[(TEXT, b"m%d" % i) for i in range(4)]))
    await turns()
    assert len(flow.transport.writes) == 1
    assert flow.transport.frames() == [(TEXT, b"m%d!" % i) for i in range(4)]
    # One message per read: written at once, as before.
    ws._conn.feed(frames((TEXT, b"x")))
    await turns()
    assert flow.transport.writes[1:] == [encode_frame(TEXT, b"x!")]
    task.cancel()


async def test_held_answer_goes_out_when_the_handler_waits_for_something_else() -> None:
    ws, flow = connect()
    ws._conn.feed(frames((TEXT, b"a"), (TEXT, b"b")))
    release = asyncio.Event()

    async def handler() -> None:
        msg = await ws.receive()
        await ws.send_str(msg.data)  # held back: "b" waits in the queue
        await release.wait()

    task = asyncio.create_task(handler())
    await turns()
    assert flow.transport.frames() == [(TEXT, b"a")]
    release.set()
    await task


async def test_held_frames_keep_their_order_before_pongs_and_close() -> None:
    ws, flow = connect()
    ws._conn.feed(frames((TEXT, b"a"), (PING, b"p"), (TEXT, b"b")))
    assert (await ws.receive()).data == "a"
    await ws.send_str("1")  # held
    assert (await ws.receive()).data == "b"  # answers the PING first (held too)
    await ws.send_str("2")  # the queue is empty: everything goes out in one write
    assert flow.transport.writes == [
        encode_frame(TEXT, b"1") + encode_frame(PONG, b"p") + encode_frame(TEXT, b"2")
    ]
    ws._conn.feed(frames((TEXT, b"c"), (TEXT, b"d")))
    await ws.receive()
    await ws.send_str("3")  # held
    ws._conn.feed(frames((CLOSE, (1000).to_bytes(2, "big"))))
    assert await ws._conn.close()
    assert flow.transport.frames()[-2:] == [(TEXT, b"3"), (CLOSE, (1000).to_bytes(2, "big"))]


async def test_held_frames_count_towards_writer_limit() -> None:
    ws, flow = connect(writer_limit=100)
    flow.transport.buffered = 30
    ws._conn.feed(frames(*[(BINARY, b"x")] * 4))
    await ws.receive()
    await ws.send_bytes(b"y" * 60)  # 62 held + 30 buffered: under the limit
    assert flow.drains == 0 and flow.transport.writes == []
    await ws.receive()
    await ws.send_bytes(b"y" * 60)  # 124 held + 30: over, so written, then drained
    assert flow.drains == 1
    assert flow.transport.frames() == [(BINARY, b"y" * 60)] * 2


async def test_frames_held_when_the_transport_closes_are_dropped() -> None:
    ws, flow = connect()
    ws._conn.feed(frames((TEXT, b"a"), (TEXT, b"b")))
    await ws.receive()
    await ws.send_str("held")
    flow.transport.closing = True
    await turns()
    assert flow.transport.writes == []


async def test_reading_pauses_and_resumes_on_queued_bytes() -> None:
    # With decode_text=False a TEXT message's data is bytes: it counts as bytes.
    for decode_text in (True, False):
        ws, flow = connect(read_limit=200 + 6 * 128, decode_text=decode_text)
        conn = ws._conn
        payload = "é".encode() * 30  # 60 bytes, 30 characters
        conn.feed(frames(*[(TEXT, payload)] * 3))
        conn.feed(frames(*[(TEXT, payload)] * 3))
        # 180 characters or 360 bytes, and 128 for each message.
        assert flow.reading is decode_text
        got = [await ws.receive() for _ in range(6)]
        assert all(m.type is WSMsgType.TEXT for m in got)
        assert flow.reading
        assert conn._queued == 0


async def test_empty_and_control_frames_count_towards_the_read_limit() -> None:
    # A flood of frames without payload must pause reading too (each message counts
    # 128 bytes besides its payload): pings wait in the queue until receive() runs.
    for opcode in (TEXT, BINARY, PING, PONG):
        ws, flow = connect(read_limit=128 * 10)
        conn = ws._conn
        conn.feed(frames(*[(opcode, b"")] * 10))
        assert flow.reading
        conn.feed(frames((opcode, b"")))
        assert not flow.reading
        if opcode in (PING, PONG):
            conn.feed(frames((TEXT, b"last")))
            assert (await ws.receive()).data == "last"  # autoping takes them on the way
            await turns()
            answers = [(PONG, b"")] * 11 if opcode == PING else []
            assert flow.transport.frames() == answers
        else:
            for _ in range(11):
                await ws.receive()
        assert flow.reading
        assert conn._queued == 0


async def test_at_most_64_kib_are_held() -> None:
    ws, flow = connect()
    ws._conn.feed(frames((TEXT, b"a"), (TEXT, b"b"), (TEXT, b"c")))
    await ws.receive()
    await ws.send_bytes(b"x" * 60000)  # held
    await ws.receive()
    await ws.send_bytes(b"y" * 10000)  # would pass 64 KiB: everything goes out now
    assert flow.transport.frames() == [(BINARY, b"x" * 60000), (BINARY, b"y" * 10000)]
    assert len(flow.transport.writes) == 1


async def test_send_frame_with_a_reserved_opcode_is_sent_as_asked() -> None:
    ws, flow = connect()
    await ws.send_frame(b"x", 0x3)
    await ws.send_frame(b"y" * 200, 0xB)
    assert flow.transport.writes == [encode_frame(0x3, b"x"), encode_frame(0xB, b"y" * 200)]
