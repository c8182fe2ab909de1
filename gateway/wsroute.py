"""WebSocket routes: WebSocketTarget checks the opening handshake (origins through the route's
CORS policy) and answers a Switch to gateway.websocket's protocol on the worker's AsyncRunner;
the live connections of each server loop get 1001 at shutdown, or at a reload that changed
their handler's file. gateway.websocket (wsproto) is imported only when a route needs it."""

from __future__ import annotations

import functools
import logging
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.asynccall import runner
from gateway.errors import HTTPError
from gateway.response import Response, Switch
from gateway.targets import Target

if TYPE_CHECKING:
    from gateway.config.schema import WebSocketOptionsSpec
    from gateway.request import Request
    from gateway.router.matcher import Match

# Per server loop: each live connection and (its handler's file, that file's stamp then).
_live: weakref.WeakKeyDictionary[Any, dict[Any, tuple[str | None, tuple[int, int]]]] = (
    weakref.WeakKeyDictionary()
)


def missing_wsproto() -> str | None:
    """Why websocket routes cannot run here (wsproto is not installed), or None."""
    try:
        import wsproto  # noqa: F401
    except ImportError:
        return "websocket routes need wsproto: pip install wsproto (the 'websocket' extra)"
    return None


_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def warn_missing_wsproto(file: str, path: str, log: logging.Logger) -> None:
    """Say once per process that the route `path` of `file` answers 501 without wsproto:
    gateway serve builds its app twice at startup (the live-reload hub's build) and again
    at each reload, and the warning is news only the first time."""
    missing = missing_wsproto()
    if missing is None:
        return
    with _warned_lock:
        if (file, path) in _warned:
            return
        _warned.add((file, path))
    log.warning("%s: route %s answers 501: %s", file, path, missing)


@dataclass(frozen=True, slots=True, eq=False)
class WebSocketTarget(Target):
    func: Callable[[Any], Any] = field(default=lambda ws: None)
    settings: Any = None  # gateway.websocket.Settings
    subprotocols: tuple[str, ...] = ()

    @classmethod
    def build(cls, label: str, func: Any, options: WebSocketOptionsSpec, **common: Any) -> Any:
        """The target; without wsproto one that answers 501 saying what to install."""
        if missing_wsproto():
            return cls(label + " (needs wsproto)", func=func, **common)
        from gateway.websocket.protocol import Settings

        settings = Settings(
            max_message_bytes=options.max_message,
            ping_interval=options.ping_interval,
            ping_timeout=options.ping_timeout,
            send_buffer_bytes=options.send_buffer,
            receive_buffer_bytes=options.receive_buffer,
            close_timeout=options.close_timeout,
        )
        return cls(label, func=func, settings=settings, subprotocols=options.subprotocols, **common)

    def serve(self, request: Request, match: Match[Any]) -> Response:
        """101 and the connection to the handler, or an HTTPError (405, 426, 400, 403;
        501 when wsproto is not installed: the route was built without settings)."""
        if self.settings is None:
            raise HTTPError(501, missing_wsproto() or "websocket routes are unavailable")
        from gateway.websocket.handshake import check_handshake, origin_check

        hosts = [h for h in (request.headers.get("host"), request.host) if h]
        hs = check_handshake(
            request.method, request.http_version, request.headers, origin_check(self.cors, hosts)
        )
        sub = hs.choose_subprotocol(self.subprotocols)
        factory = functools.partial(_protocol, self, request, hs, sub)
        return Switch(factory, hs.response_headers(sub))


def _protocol(target: WebSocketTarget, request: Any, hs: Any, sub: str | None) -> Any:
    """The protocol that takes the connection once the 101 is written (on the loop thread)."""
    served = _served_class()
    loop_call: list[Callable[[Callable[[], None]], None]] = []
    protocol = served(
        target.func,
        request,
        hs,
        runner(),
        lambda callback: loop_call[0](callback),
        target.settings,
        on_closed=_forget,
        sent_101=True,
        subprotocol=sub,
    )
    protocol.loop_call = loop_call
    return protocol


@functools.cache
def _served_class() -> Any:
    from gateway.websocket.protocol import WebSocketProtocol

    class Served(WebSocketProtocol):
        """Learns its server loop from the transport and joins that loop's live set."""

        loop_call: list[Any]
        server_loop: Any = None

        def connection_made(self, transport: Any) -> None:
            self.server_loop = transport.loop
            self.loop_call.append(transport.loop.call_soon_threadsafe)
            file = _handler_file(self.handler)
            _live.setdefault(transport.loop, {})[self] = (file, _stamp(file))
            super().connection_made(transport)

    return Served


def _forget(protocol: Any) -> None:
    loop = getattr(protocol, "server_loop", None)
    if loop is not None:
        _live.get(loop, {}).pop(protocol, None)


def live_count(loop: Any) -> int:
    """How many WebSockets `loop` serves: they left the server's connection set at the 101
    but each still holds a socket, so max_connections must count them too."""
    return len(_live.get(loop, ()))


def going_away(loop: Any) -> int:
    """Shutdown: close every WebSocket of `loop` with 1001; how many were told."""
    live = list(_live.get(loop, {}))
    for protocol in live:
        protocol.going_away("server shutting down")
    return len(live)


def reloaded(loop: Any) -> int:
    """After a reload: close (1001) the WebSockets whose handler's file changed since they
    opened; the others keep running the code they started with. How many were closed."""
    doomed = [
        p for p, (file, stamp) in _live.get(loop, {}).items() if file and _stamp(file) != stamp
    ]
    for protocol in doomed:
        protocol.going_away("handler module changed; reconnect")
    return len(doomed)


def _handler_file(handler: Any) -> str | None:
    code = getattr(handler, "__code__", None)
    return os.path.realpath(code.co_filename) if code is not None else None


def _stamp(file: str | None) -> tuple[int, int]:
    try:
        st = os.stat(file) if file else None
    except OSError:
        return (-1, -1)
    return (st.st_mtime_ns, st.st_size) if st else (-1, -1)
