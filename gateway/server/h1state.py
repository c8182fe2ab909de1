"""What the parts of an HTTP/1.1 connection share: its State, the parser it holds at rest
(RESTING) and the parsers it reuses (LimitedParser), and `Conn`, the connection as each part
(h1answers, h1atrest, h1calls, h1proxy, h1flow: mixins of http1.HttpProtocol) sees it."""

from __future__ import annotations

import enum
from abc import abstractmethod
from typing import Any

from gateway.errors import HTTPError
from gateway.http.events import RequestHead
from gateway.http.parser import RequestParser
from gateway.proxy.call import ProxyCall
from gateway.proxy.serving import ProxyDriver
from gateway.request import Request
from gateway.response import FileBody, Response, Switch
from gateway.server.bodies import BodyReader
from gateway.server.context import ConnContext
from gateway.server.output import Stream
from gateway.server.responses import Cached, ResponseCache
from gateway.server.transport import Transport
from gateway.server.uploads import Channel
from gateway.static.fdcache import CachedFile


class State(enum.Enum):
    """What the connection does now. Reading is on in READING only.

    READING   -> HANDLING (a request went to the pool), STREAMING (a streamed body is being
                 written), HELD (output backlog), DRAINING (last answer queued), SWITCHED,
                 PROXYING (a proxy route's exchange runs)
    HANDLING  -> READING (answer queued), STREAMING, DRAINING
    STREAMING -> READING (body ended), DRAINING
    PROXYING  -> READING (proxied answer done), DRAINING, SWITCHED (upstream said 101);
                 entered at EndOfMessage, or at the head for a body that streams upstream
    HELD      -> READING (backlog sent)
    DRAINING  -> CLOSED (its output sent, the transport closes)
    any       -> CLOSED (connection lost)

    Two facts stand beside the state: `_peer_done` (the client shut its side: answer what it
    asked, then close) and `_last` (the answer being written is the last one)."""

    READING = "reading"  # idle, or a request arriving (the parser says which)
    HANDLING = "handling"  # a handler runs on the pool
    STREAMING = "streaming"  # a streamed body is being written
    HELD = "held"  # output backlog: the next pipelined request waits for it to drain
    DRAINING = "draining"  # no more requests: the queued output is sent, then it closes
    PROXYING = "proxying"  # a proxied request's exchange runs (gateway.proxy.serving)
    SWITCHED = "switched"  # handed to another protocol after 101 Switching Protocols
    CLOSED = "closed"


READING = State.READING
HANDLING = State.HANDLING
STREAMING = State.STREAMING
HELD = State.HELD
DRAINING = State.DRAINING
CLOSED = State.CLOSED
PROXYING = State.PROXYING
SWITCHED = State.SWITCHED


class LimitedParser(RequestParser):
    """A parser that knows the limits it was made with: one made before a reload changed
    them is not reused."""

    __slots__ = ("limits",)

    def __init__(self, limits: dict[str, int]) -> None:
        super().__init__(**limits)
        self.limits = limits


RESTING = RequestParser()  # what a connection holds between requests: never fed


class Conn:
    """HttpProtocol as its parts see it: its state (see http1.HttpProtocol.__init__) and
    what the parts call on each other. Each part's base class for mypy (`object` at run
    time, so HttpProtocol's MRO holds only the parts themselves)."""

    ctx: ConnContext
    client: tuple[str, int]
    parser: RequestParser
    state: State
    deadline: float
    transport: Transport
    secure: bool
    hsts: bytes
    _head: RequestHead | None
    _body: BodyReader | None
    _files: list[FileBody] | None
    _stream: Stream | None
    _upload: Channel | None
    _limit: int
    _waiting: Any
    _pending_id: int
    _started: float
    _peer_done: bool
    _last: bool
    _answered: bool
    _writing_paused: bool
    _proxy: ProxyDriver | None
    _copied: int

    # http1: reading and dispatching
    @abstractmethod
    def _process(self) -> None: ...
    @abstractmethod
    def _rest_parser(self, parser: RequestParser) -> None: ...

    # h1answers: one whole request answered, its answer written
    @abstractmethod
    def _answer(self, head: RequestHead, body: Any, fed: bool) -> None: ...
    @abstractmethod
    def send_response(self, request: Request, response: Response, keep_alive: bool) -> None: ...
    @abstractmethod
    def _error_answer(self, exc: HTTPError, head: RequestHead | None = None) -> None: ...
    @abstractmethod
    def _switch(self, response: Switch) -> None: ...

    # h1atrest: heads at rest, the response cache's answers
    @abstractmethod
    def _send_cached(
        self, cache: ResponseCache, cached: Cached, keep_alive: bool, at_rest: bool = False
    ) -> bool: ...
    @abstractmethod
    def _send_file_cached(
        self, data: bytes, found: CachedFile, length: int, direct: bool
    ) -> None: ...

    # h1calls: handler calls, bodies fed to them as they arrive
    @abstractmethod
    def _on_handler_done(self, token: int, response: Response | None) -> None: ...
    @abstractmethod
    def _feed_upload(self) -> None: ...
    @abstractmethod
    def _resume_upload(self) -> None: ...
    @abstractmethod
    def _end_upload(self, why: str) -> None: ...
    @abstractmethod
    def _abandon_call(self) -> None: ...

    # h1proxy: proxied requests
    @abstractmethod
    def _start_proxy(
        self, call: ProxyCall, head: RequestHead, body: bytes, keep: bool, uploading: bool = False
    ) -> None: ...
    @abstractmethod
    def _proxy_body(self) -> None: ...
    @abstractmethod
    def _proxy_body_failed(self, proxy: ProxyDriver, exc: HTTPError) -> None: ...

    # h1flow: output as it drains
    @abstractmethod
    def _drain(self) -> None: ...
    @abstractmethod
    def _file_done(self, ok: bool) -> None: ...
    @abstractmethod
    def _resume(self) -> None: ...
    @abstractmethod
    def _start_stream(self, body: Any, chunked: bool) -> None: ...
    @abstractmethod
    def _pump(self) -> None: ...
    @abstractmethod
    def _on_pushed(self) -> None: ...
    @abstractmethod
    def _end_stream(self, stream: Stream) -> None: ...
