"""``heron.web`` as examples see it, with the WebSocket names until web.py exports them."""

from __future__ import annotations

import types

from heron import web as _heron_web
from heron._web import websocket as _websocket

_NAMES = ("WebSocketResponse", "WebSocketReady", "WSMsgType", "WSCloseCode", "WSMessage")

web = types.SimpleNamespace(**{k: getattr(_heron_web, k) for k in dir(_heron_web)})
for _name in _NAMES:
    if not hasattr(web, _name):
        setattr(web, _name, getattr(_websocket, _name))
