"""WebSocket handlers over wsproto: the opening handshake on our HTTP core (handshake.py), the
protocol that takes the transport after the 101 (protocol.py), the async API a handler holds
(api.py: receive/send/close), the live connections for shutdown and reload (registry.py)."""

from gateway.websocket.api import Close, Message, WebSocket, WebSocketClosed
from gateway.websocket.handshake import Handshake, check_handshake, origin_check
from gateway.websocket.protocol import Settings, WebSocketProtocol
from gateway.websocket.registry import Connections, handler_file

__all__ = [
    "Close",
    "Connections",
    "Handshake",
    "Message",
    "Settings",
    "WebSocket",
    "WebSocketClosed",
    "WebSocketProtocol",
    "check_handshake",
    "handler_file",
    "origin_check",
]
