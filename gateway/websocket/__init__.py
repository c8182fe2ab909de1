"""WebSocket handlers over wsproto: the opening handshake on our HTTP core (handshake.py),
the protocol that takes the transport after the 101 (protocol.py), and the async API a
handler holds (api.py): `await ws.receive()`, `await ws.send(...)`, `await ws.close(...)`."""

from gateway.websocket.api import Close, Message, WebSocket, WebSocketClosed
from gateway.websocket.handshake import Handshake, check_handshake, origin_check
from gateway.websocket.protocol import Settings, WebSocketProtocol

__all__ = [
    "Close",
    "Handshake",
    "Message",
    "Settings",
    "WebSocket",
    "WebSocketClosed",
    "WebSocketProtocol",
    "check_handshake",
    "origin_check",
]
