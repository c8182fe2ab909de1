"""What the parts of an HTTP/1.1 connection share: its State, the parser it holds at rest
(RESTING) and the parsers it reuses (LimitedParser), and `Conn`, the connection as each part
(h1answers, h1atrest, h1calls, h1proxy, h1flow: mixins of http1.HttpProtocol) sees it."""

from __future__ import annotations

import enum
from abc import abstractmethod
from typing import TYPE_CHECKING, Any

from gateway.http.parser import RequestParser

if TYPE_CHECKING:  # Conn's declarations only
    from gateway.errors import HTTPError
    from gateway.http.events import RequestHead
    from gateway.proxy.call import ProxyCall
    from gateway.proxy.serving import ProxyDriver
    from gateway.request import Request
    from gateway.response import FileBody, Response
    from gateway.server.bodies import BodyReader
    from gateway.server.context import ConnContext
    from gateway.server.output import Stream
    from gateway.server.responses import Cached, ResponseCache
    from gateway.server.transport import Transport
    from gateway.server.uploads import Channel


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
    """HttpProtocol as its parts see it, for mypy: each part's base class while type checking
    (`object` at run time, so HttpProtocol's MRO holds only the parts themselves). Its state
    is HttpProtocol's, slot for slot (mypy holds the parts' assignments to these names; see
    http1.HttpProtocol.__init__ for what each is), and the methods the parts call on each
    other."""

    __slots__ = (
        "_answered",
        "_body",
        "_copied",
        "_files",
        "_head",
        "_last",
        "_limit",
        "_peer_done",
        "_pending_id",
        "_proxy",
        "_started",
        "_stream",
        "_upload",
        "_waiting",
        "_writing_paused",
        "client",
        "ctx",
        "deadline",
        "hsts",
        "parser",
        "secure",
        "state",
        "transport",
    )

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

    # What the parts call on each other, by the module that defines it.
    # http1: reading
    @abstractmethod
    def _process(self) -> None: ...
    @abstractmethod
    def _rest_parser(self, parser: RequestParser) -> None: ...

    # h1answers
    @abstractmethod
    def _answer(self, head: RequestHead, body: Any, fed: bool) -> None: ...
    @abstractmethod
    def send_response(self, request: Request, response: Response, keep_alive: bool) -> None: ...
    @abstractmethod
    def _error_answer(self, exc: HTTPError, head: RequestHead | None = None) -> None: ...

    # h1atrest
    @abstractmethod
    def _send_cached(
        self, cache: ResponseCache, cached: Cached, keep_alive: bool, at_rest: bool = False
    ) -> bool: ...

    # h1calls
    @abstractmethod
    def _on_handler_done(self, token: int, response: Response | None) -> None: ...

    # h1proxy
    @abstractmethod
    def _start_proxy(
        self, call: ProxyCall, head: RequestHead, body: bytes, keep: bool, uploading: bool = False
    ) -> None: ...

    # h1flow
    @abstractmethod
    def _drain(self) -> None: ...
    @abstractmethod
    def _file_done(self, ok: bool) -> None: ...
    @abstractmethod
    def _resume(self) -> None: ...
    @abstractmethod
    def _start_stream(self, body: Any, chunked: bool) -> None: ...
