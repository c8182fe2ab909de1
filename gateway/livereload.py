"""Live reload for browsers: HTML that gateway serves gets a small script that listens to a
Server-Sent Events stream under the reserved prefix /__gateway/. The hub's streams are opened,
fed and ended on the loop thread only; `inject` may run on any thread (it only reads `version`).
Only clients the config's DevAccess allows (loopback by default) get the script or a stream;
a remote one's stream has absolute paths cut from build errors."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, TypeVar

from gateway.devaccess import REFUSED, DevAccess, strip_paths
from gateway.response import FileBody, PushBody, Response
from gateway.targets import Target

if TYPE_CHECKING:
    from gateway.request import Request
    from gateway.router.matcher import Match

T = TypeVar("T")

RESERVED = "/__gateway"  # every path equal to it or below it belongs to gateway
EVENTS_PATH = RESERVED + "/events"
HEARTBEAT = 15.0  # seconds between comment lines, so proxies and browsers keep the stream
MAX_INJECT = 4 * 1024 * 1024  # bigger HTML is served as it is rather than read into memory
RETRY_MS = 500  # how soon EventSource reconnects after the stream ends (a restart)

# Validators and ranges describe the file on disk, not the page with the script in it; a
# cached copy would also carry a stale version, so injected pages are never stored.
_DROPPED = frozenset({"etag", "last-modified", "accept-ranges", "cache-control"})
_CLOSE_BODY = b"</body>"

# The client, a package data file (gateway/livereload.js) so it is edited and linted as JS.
_CLIENT = (
    resources.files("gateway")
    .joinpath("livereload.js")
    .read_text("utf-8")
    .replace("__EVENTS__", EVENTS_PATH)
)


def is_reserved(pattern: str) -> bool:
    """Whether a route pattern or mount prefix falls under the reserved prefix."""
    return pattern == RESERVED or pattern.startswith(RESERVED + "/")


def reserved_message(pattern: str) -> str:
    return (
        f"{pattern!r} is under {RESERVED + '/'!r}, which gateway serves itself while "
        "[dev] live_reload is on: choose another path"
    )


class LiveReload:
    """The live-reload hub of one server: the open event streams, the version pages were
    served at (a per-process token and a change count), and the last build error."""

    def __init__(self) -> None:
        self._boot = secrets.token_hex(4)
        self._count = 0
        self.error: str | None = None
        self.streams: set[PushBody] = set()
        self.remote: set[PushBody] = set()  # streams of non-loopback clients: paths scrubbed
        self.access = DevAccess()  # the reloader sets the config's on every build
        self.closed = False
        self.target = EventsTarget("live reload events", hub=self)

    @property
    def version(self) -> str:
        return f"{self._boot}-{self._count}"

    # -- the event stream (loop thread) ---------------------------------------------------

    def open_stream(self, request: Request | None = None) -> Response:
        access = self.access
        if request is not None and not access.allowed(request):
            refused = Response(403, REFUSED.encode() + b"\n", content_type="text/plain")
            refused.set_headers([("cache-control", "no-store")])
            return refused
        headers = [
            ("content-type", "text/event-stream"),
            ("cache-control", "no-cache"),
            ("x-accel-buffering", "no"),  # tells a proxy in front not to buffer the stream
        ]
        retry = f"retry: {RETRY_MS}\n".encode()
        if self.closed:
            # Shutting down: a stream that ends at once. An error status would make the
            # browser give up, and then it would not reload once the server is back.
            return Response(200, retry + b"\n", headers)
        body = PushBody(on_close=self._forget)
        self.streams.add(body)
        error = self.error
        if request is not None and not access.is_local(request):
            self.remote.add(body)
            error = access.scrub(request, error) if error is not None else None
        body.push(retry + _event("hello", {"version": self.version, "error": error}))
        response = Response(200, b"", headers)
        response.body = body  # type: ignore[assignment]  # Body predates PushBody; conn streams it
        return response

    def reload(self, built: bool = False) -> None:
        """Every page reloads: a served file changed, or (`built`) a new app serves, and
        the last build error is gone. A reload for a file keeps the error on show."""
        self._count += 1
        if built:
            self.error = None
        self._broadcast(_event("reload", {"version": self.version}))

    def restyle(self, paths: list[str]) -> None:
        """Pages re-fetch the stylesheets at `paths` (URL paths) without reloading."""
        self._count += 1
        self._broadcast(_event("css", {"version": self.version, "paths": paths}))

    def failed(self, message: str) -> None:
        """Pages show `message` over their content until the next good build (a remote
        client's with absolute paths cut down)."""
        self.error = message
        scrubbed = strip_paths(message, self.access.root)
        remote = _event("broken", {"message": scrubbed})
        self._broadcast(_event("broken", {"message": message}), remote)

    def heartbeat(self) -> None:
        self._broadcast(b": ping\n\n")

    def disconnect(self) -> None:
        """End every open stream; browsers reconnect on their own."""
        for body in list(self.streams):
            body.end()

    def close(self) -> None:
        """At shutdown: end the streams and open no more, so shutdown need not wait."""
        self.closed = True
        self.disconnect()

    def _broadcast(self, data: bytes, remote: bytes | None = None) -> None:
        for body in list(self.streams):
            body.push(remote if remote is not None and body in self.remote else data)

    def _forget(self, body: PushBody) -> None:
        self.streams.discard(body)
        self.remote.discard(body)

    # -- injecting the client (any thread) ------------------------------------------------

    def inject(self, request: Request, result: T) -> T:
        """`result` with the client script in its HTML, when it is a full HTML answer."""
        if not isinstance(result, Response) or not _injectable(request, result):
            return result
        if not self.access.allowed(request):
            return result  # no script: the events are not theirs to read
        page = _read_all(result.body)
        if page is None:
            return result
        script = _CLIENT.replace("__VERSION__", self.version).encode()
        result.body = _insert(page, script)
        result.headers = [h for h in result.headers if h[0].lower() not in _DROPPED]
        result.headers.append(("cache-control", "no-store"))
        cookie = self.access.key_cookie(request)  # opened with ?gateway_dev_key=: keep it
        if cookie is not None:
            result.headers.append(cookie)
        return result


@dataclass(frozen=True, slots=True, eq=False)
class EventsTarget(Target):
    """GET /__gateway/events: answered on the loop thread, never on the handler pool."""

    hub: LiveReload | None = None

    def serve(self, request: Request, match: Match[Any]) -> Response:
        assert self.hub is not None
        return self.hub.open_stream(request)


def _event(name: str, data: object) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def _injectable(request: Request, response: Response) -> bool:
    # A 206 or 304 and a HEAD answer carry no whole page; an encoded body cannot be edited.
    if request.method != "GET" or response.status in (204, 206, 304) or response.status < 200:
        return False
    ctype = (response.get_header("content-type") or "").lower()
    if not ctype.startswith("text/html"):
        return False
    coding = (response.get_header("content-encoding") or "identity").strip().lower()
    return coding == "identity" and not response.has_header("content-range")


def _read_all(body: object) -> bytes | None:
    """The whole body as bytes, or None when it is streamed or too big to rewrite. A file
    body is read and closed, since the page goes out as bytes instead."""
    if isinstance(body, bytes):
        return body
    if not isinstance(body, FileBody) or body.length > MAX_INJECT:
        return None
    parts, offset, left = [], body.offset, body.length
    try:
        while left > 0:
            try:
                data = os.pread(body.fd, left, offset)
            except OSError:
                break  # send what was read: the length follows the bytes, so framing holds
            if not data:
                break
            parts.append(data)
            offset += len(data)
            left -= len(data)
    finally:
        body.close()
    return b"".join(parts)


def _insert(page: bytes, script: bytes) -> bytes:
    at = page.lower().rfind(_CLOSE_BODY)
    if at < 0:
        return page + script
    return page[:at] + script + page[at:]
