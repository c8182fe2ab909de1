"""The live WebSocket connections of one worker, so shutdown can say "going away" to each
and a reload can close only those whose handler's module file changed (the others keep
their connections, still running the code they started with)."""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterable
from typing import Any

from gateway.websocket.protocol import WebSocketProtocol


def handler_file(handler: Any) -> str | None:
    """The real path of the file that defines `handler` (None for a builtin)."""
    try:
        file = inspect.getsourcefile(inspect.unwrap(handler))
    except TypeError:
        file = None
    if file is None:
        call = getattr(type(handler), "__call__", None)  # noqa: B004 - a callable object
        code = getattr(call, "__code__", None)
        file = code.co_filename if code is not None else None
    return os.path.realpath(file) if file else None


class Connections:
    """Pass `connections.discard` as the protocol's on_closed and add() each one started."""

    def __init__(self) -> None:
        self._live: dict[WebSocketProtocol, str | None] = {}

    def add(self, protocol: WebSocketProtocol) -> None:
        self._live[protocol] = handler_file(protocol.handler)

    def discard(self, protocol: WebSocketProtocol) -> None:
        self._live.pop(protocol, None)

    def __len__(self) -> int:
        return len(self._live)

    def going_away(self, reason: str = "server shutting down") -> int:
        """Close every connection with 1001 (graceful shutdown); how many were told."""
        live = list(self._live)
        for protocol in live:
            protocol.going_away(reason)
        return len(live)

    def reloaded(self, changed_files: Iterable[str]) -> int:
        """Close (1001) the connections whose handler is defined in one of `changed_files`;
        how many were closed."""
        changed = {os.path.realpath(f) for f in changed_files}
        doomed = [p for p, file in self._live.items() if file is not None and file in changed]
        for protocol in doomed:
            protocol.going_away("handler module changed; reconnect")
        return len(doomed)
