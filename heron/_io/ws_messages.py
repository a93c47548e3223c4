"""The message methods a WebSocket object offers, shared by the server and the client side.

``WebSocketResponse`` (server) and ``ClientWebSocketResponse`` (client) both expose
aiohttp's ``send_*``/``receive_*`` API over a :class:`WebSocketConnection`; this mixin
holds it once.  A subclass says where its connection is with ``_connection()``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Final

from .._proto.websocket.frames import OP_BINARY, OP_TEXT
from .._proto.websocket.models import WSMessage, WSMsgType
from .websocket import WebSocketConnection

__all__ = ("MessageMethods", "WSMessageTypeError")

_END: Final = frozenset({WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED})
_TEXT: Final = WSMsgType.TEXT
_BINARY: Final = WSMsgType.BINARY


class WSMessageTypeError(TypeError):
    """``receive_str``/``receive_bytes`` got a message of another type."""


class MessageMethods:
    """``send_*``, ``ping``/``pong``, ``receive*`` and ``async for`` over a connection."""

    __slots__ = ()

    #: The connection once there is one (the subclass sets it).
    _conn: WebSocketConnection | None
    #: True in a subclass that overrides ``receive()``: ``receive_*`` and ``async for``
    #: then go through it, as aiohttp's do, instead of taking from the connection.
    _custom_receive: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._custom_receive = cls.receive is not MessageMethods.receive

    def _connection(self) -> WebSocketConnection:
        raise NotImplementedError

    # ------------------------------------------------------------------ sending

    async def send_frame(
        self, message: bytes, opcode: WSMsgType | int, compress: int | None = None
    ) -> None:
        """Send a raw frame (opcode and payload)."""
        await self._connection().send_frame(message, int(opcode), compress)

    async def send_str(self, data: str, compress: int | None = None) -> None:
        """Send a TEXT message."""
        if not isinstance(data, str):
            raise TypeError(f"data argument must be str ({type(data)!r})")
        # PERF: ws-echo: the frame is written here, without a send_frame coroutine;
        # the only await is for a full write buffer.
        conn = self._conn or self._connection()
        if conn.write_frame(data.encode(), OP_TEXT, compress):  # PERF: ws-echo: UTF-8 by default
            await conn.drain()

    async def send_bytes(
        self, data: bytes | bytearray | memoryview, compress: int | None = None
    ) -> None:
        """Send a BINARY message."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be byte-ish ({type(data)!r})")
        conn = self._conn or self._connection()
        if conn.write_frame(bytes(data), OP_BINARY, compress):  # PERF: ws-echo: as send_str
            await conn.drain()

    async def send_json(
        self,
        data: Any,
        compress: int | None = None,
        *,
        dumps: Callable[[Any], str] = json.dumps,
    ) -> None:
        """Send ``data`` encoded as JSON in a TEXT message."""
        await self.send_str(dumps(data), compress=compress)

    async def send_json_bytes(
        self, data: Any, compress: int | None = None, *, dumps: Callable[[Any], bytes]
    ) -> None:
        """Send ``data`` encoded by a bytes-producing JSON encoder, as a TEXT message."""
        await self._connection().send_frame(dumps(data), OP_TEXT, compress)

    async def ping(self, message: bytes = b"") -> None:
        """Send a PING."""
        await self._connection().ping(message)

    async def pong(self, message: bytes = b"") -> None:
        """Send a PONG."""
        await self._connection().pong(message)

    # ------------------------------------------------------------------ receiving

    async def receive(self, timeout: float | None = None) -> WSMessage:
        """The next message (TEXT, BINARY; CLOSE/CLOSING/CLOSED/ERROR at the end)."""
        # PERF: ws-echo: a message already queued is taken without awaiting the
        # connection's receive() coroutine (same below).
        conn = self._conn or self._connection()
        msg = conn.take()
        if msg is None:
            msg = await conn.receive(timeout)
        return msg

    def _taken(self) -> WSMessage | None:
        """A message ready now, unless an overridden ``receive()`` must see every one."""
        if self._custom_receive:
            return None
        return (self._conn or self._connection()).take()

    def _wait(self, timeout: float | None) -> Awaitable[WSMessage]:
        """Wait for the next message: through an overridden ``receive()``, else directly
        from the connection (PERF: ws-echo: no receive() coroutine around it)."""
        if self._custom_receive:
            return self.receive(timeout)
        return (self._conn or self._connection()).receive(timeout)

    async def receive_str(self, *, timeout: float | None = None) -> Any:
        """The next message, which must be TEXT."""
        msg = self._taken()
        if msg is None:
            msg = await self._wait(timeout)
        if msg[0] is not _TEXT:
            raise WSMessageTypeError(
                f"Received message {msg.type}:{msg.data!r} is not WSMsgType.TEXT"
            )
        return msg.data

    async def receive_bytes(self, *, timeout: float | None = None) -> bytes:
        """The next message, which must be BINARY."""
        msg = self._taken()
        if msg is None:
            msg = await self._wait(timeout)
        if msg[0] is not _BINARY:
            raise WSMessageTypeError(
                f"Received message {msg.type}:{msg.data!r} is not WSMsgType.BINARY"
            )
        data: bytes = msg.data
        return data

    async def receive_json(
        self, *, loads: Callable[[Any], Any] = json.loads, timeout: float | None = None
    ) -> Any:
        """The next TEXT message decoded as JSON."""
        return loads(await self.receive_str(timeout=timeout))

    def __aiter__(self) -> MessageMethods:
        return self

    async def __anext__(self) -> WSMessage:
        taken = self._taken()
        if taken is not None:
            return taken
        msg = await self._wait(None)
        if msg[0] in _END:
            raise StopAsyncIteration
        return msg
