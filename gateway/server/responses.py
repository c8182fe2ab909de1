"""ResponseCache: whole answers kept by the request head that asked for them, for the two
kinds of target whose answer is a pure function of the head: fixed `respond` routes and
static files. A hit sends the stored bytes (and the file) without building a Request,
routing, or encoding a head. Valid for one Date second, one app, one file identity.
A feature that makes an answer differ per request (a request-id header, a per-client limit)
must turn it off in serve_app; one that only counts answers is told of each hit: metrics
(`serve_app(..., ops)`) count a hit under the route label its entry keeps."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from gateway.response import FileBody, Response
from gateway.targets import RespondTarget, StaticTarget

if TYPE_CHECKING:
    from gateway.app import App
    from gateway.http.events import RequestHead
    from gateway.http.writer import ResponseWriter
    from gateway.request import Request
    from gateway.static.files import StaticMount

# Request headers whose answer needs per-request work (preconditions, ranges, CORS): a head
# carrying any of them is answered the long way every time.
BYPASS = frozenset(
    (
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
        "if-range",
        "range",
        "origin",
        "access-control-request-method",
    )
)
# Accept-Encoding (every browser sends it) does not bypass: the entry is keyed by the whole
# head, so a hit has the Accept-Encoding value of the answer it repeats. A fixed route's
# answer, compressed or not, is a function of that head in one app (compression is
# deterministic: the same body, coding and level give the same bytes), so it is kept. A
# static file's is kept only when it cannot depend on it: no Vary (static on-the-fly
# variants set it: a variant made in the background may appear), not encoded, and no
# precompressed siblings on the mount (file_identity refuses those: a sibling may appear).
MAX_ENTRIES = 256  # emptied when full: clients choose the heads
MAX_BODY = 16384  # a fixed body, or a small file's bytes, kept beside its head
# A larger fixed body (a page, or its compressed form: 100 KiB of HTML is 17-19 KiB of zstd
# or gzip) is kept by reference, not copied: the route's own bytes, or the compression
# memo's, which every entry for that body shares. A hit joins it to the head (one copy
# per hit, a few us at this size; the long way costs more). Past this: the long way.
MAX_SHARED = 65536


class Cached:
    """One kept answer: `data` (the head, and a fixed body after it), or the head of a
    static file that is sent only while `mount` still has the same file at `path`.
    Status 0: a head whose answer cannot be kept (it is never sent from here)."""

    __slots__ = (
        "data",
        "head",
        "head_length",
        "hits",
        "identity",
        "length",
        "mount",
        "path",
        "route",
        "status",
        "tail",
        "whole",
    )

    def __init__(
        self, head: RequestHead, data: bytes, status: int, length: int, route: str = ""
    ) -> None:
        self.head = head  # held: the cache is keyed by its id, which it keeps from reuse
        self.data = data
        self.head_length = len(data) - length if data else 0  # where the body starts
        self.status = status
        self.length = length
        self.route = route  # the metrics label of the route that answered (request.route)
        self.hits = 0  # sent from the cache and not yet added to the metrics
        self.mount: StaticMount | None = None
        self.path = ""
        self.identity: object = None
        self.whole = True  # `data` is the whole answer (else the file's bytes follow it)
        self.tail = b""  # a fixed body over MAX_BODY, sent after `data` (kept, not copied)


class ResponseCache:
    """Owned by the server, used by its connections on the loop thread. `enabled` is set
    when an app starts serving: off while anything must see every request (a json access
    log, live reload). A connection that sends an entry adds one to its `hits`; with
    metrics on, those are added to the metrics when the entry goes or a snapshot is taken
    (the long way, which counts answers, is not taken)."""

    __slots__ = (
        "_app",
        "_date",
        "_entries",
        "_ops",
        "enabled",
        "heads",
        "hits",
        "writer",
    )

    def __init__(self, writer: ResponseWriter) -> None:
        self.writer = writer
        self.enabled = False
        self.hits = 0
        self._entries: dict[int, Cached] = {}
        self._app: App | None = None
        self._date = ""
        self._ops: Any = None
        # The parser's table of parsed heads for the server's limits (set with them): a
        # connection at rest whose bytes are one whole head finds it here, and is answered
        # without feeding its parser (HttpProtocol._answer_at_rest), cached or not.
        self.heads: dict[bytes, RequestHead] = {}

    def serve_app(self, app: App, access_logged: bool, ops: Any = None) -> None:
        """A new app serves from now on: nothing kept for the old one is valid.
        `access_logged`: every answer must go through an access log that cannot write a
        hit's line (json, with its per-request id; a common or combined log writes hits
        from their head: AccessLog.hit), so the cache stays off. With `ops`
        (gateway.metrics.Ops) and `app`'s metrics on, every hit is counted as the long way
        counts an answer (route label, GET, status class, body bytes, latency 0): on its
        entry first, one increment, and added to the metrics when the entry is dropped
        or a snapshot is taken (Metrics.folds)."""
        self._fold()  # hits of the old app's entries
        self._entries = {}
        self._app = app
        self.enabled = not access_logged and app.live is None
        counting = ops is not None and app.config.server.metrics is not None
        self._ops = ops if counting else None  # else entries' hits are never added up
        if ops is not None:
            ops.metrics.folds["responses"] = self._fold

    @property
    def counting(self) -> bool:
        """Whether hits are added to the metrics (metrics on for the serving app)."""
        return self._ops is not None

    def _fold(self) -> None:
        """Add the hits counted on entries to the metrics (before they are dropped)."""
        ops = self._ops
        if ops is None:
            return
        metrics = ops.metrics
        for entry in self._entries.values():
            if entry.hits:
                metrics.add_answers(
                    entry.route, "GET", entry.status, entry.hits, entry.hits * entry.length
                )
                entry.hits = 0

    def _drop_all(self) -> None:
        self._fold()
        self._entries = {}

    def lookup(self, head: RequestHead) -> Cached | None:
        """The entry `offer` made for `head` in this Date second: an answer to send, or
        (status 0) the refusal of one, which spares offering the same head again."""
        if self.writer.date is not self._date:  # a new second: every head's Date is stale
            self._drop_all()
            self._date = self.writer.date
            return None
        entry = self._entries.get(id(head))
        if entry is not None and entry.head is head:
            return entry
        return None

    def drop(self, entry: Cached) -> None:
        gone = self._entries.pop(id(entry.head), None)
        if gone is not None and gone.hits and self._ops is not None:
            self._ops.metrics.add_answers(
                gone.route, "GET", gone.status, gone.hits, gone.hits * gone.length
            )
            gone.hits = 0

    def offer(self, head: RequestHead, request: Request, response: Response) -> None:
        """Keep the answer `response` to `head` when it is one a later identical head may
        be given as is (a 200 to a GET, with keep-alive, from a fixed route or a whole
        static file); the connection sends it the usual way this time."""
        if self.writer.date is not self._date:
            self._drop_all()
            self._date = self.writer.date
        entries = self._entries
        seen = entries.get(id(head))
        if seen is not None and seen.head is head:
            return  # refused already in this second (a handler's answer, say)
        entry = None
        if (
            request.method == "GET"
            and response.status == 200
            and head.keep_alive
            and not (head.content_length or head.chunked or head.expect_continue)
            and not head.headers.has_any(BYPASS)
            and self._app is not None
        ):
            try:
                match = self._app.router.match(request.host, "GET", request.segments)
            except Exception:  # NoMatch and its family: not a route's answer
                match = None
            entry = self._entry(head, request, response, match)
        if len(entries) >= MAX_ENTRIES:
            self._fold()
            entries.clear()
        # A refusal is kept too (status 0: never sent), so the same head is not judged twice.
        entries[id(head)] = entry if entry is not None else Cached(head, b"", 0, 0)

    def _entry(
        self, head: RequestHead, request: Request, response: Response, match: object
    ) -> Cached | None:
        target = getattr(match, "target", None)
        body = response.body
        if type(target) is RespondTarget and type(body) is bytes and len(body) <= MAX_SHARED:
            # Compressed or not, the same head gets the same bytes from the same app.
            data = self._head_bytes(request, response, len(body))
            if len(body) <= MAX_BODY:
                return Cached(head, data + body, 200, len(body), request.route)
            entry = Cached(head, data, 200, 0, request.route)
            entry.length = len(body)
            entry.tail = body
            return entry
        if (
            type(target) is StaticTarget
            and type(body) is FileBody
            and target.mount is not None
            and not (head.headers.get("accept-encoding") is not None and _negotiated(response))
        ):
            found = target.mount.file_identity(getattr(match, "rest", ()), body)
            if found is None:
                return None
            data = self._head_bytes(request, response, body.length)
            # A small file's bytes are kept with its head: a hit is one send (after the
            # stat that checks the file is the same), not a send and a sendfile.
            content = os.pread(body.fd, body.length, 0) if body.length <= MAX_BODY else b""
            whole = len(content) == body.length
            entry = Cached(head, data + content if whole else data, 200, 0, request.route)
            entry.length = body.length
            entry.head_length = len(data)
            entry.whole = whole
            entry.mount = target.mount
            entry.path, entry.identity = found
            return entry
        return None

    def _head_bytes(self, request: Request, response: Response, length: int) -> bytes:
        data, _framing = self.writer.head(
            response.status,
            response.headers,
            content_length=length,
            keep_alive=True,
            http_version=request.http_version,
        )
        return data


def _negotiated(response: Response) -> bool:
    """Whether the answer depends on the request's Accept-Encoding: it is encoded, or its
    Vary names Accept-Encoding (or everything)."""
    for name, value in response.headers:
        lowered = name.lower()
        if lowered == "content-encoding":
            return True
        if lowered == "vary":
            fields = value.lower()
            if "accept-encoding" in fields or "*" in fields:
                return True
    return False
