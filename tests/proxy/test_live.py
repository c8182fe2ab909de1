"""The proxy exchange on the real loop and transports (gateway.server.transport) against
real upstream servers on 127.0.0.1: pooled reuse, a refused server, a stale pooled
connection, a streamed upload, and a WebSocket conversation (wsproto) through the tunnel.
Skipped until the loop with connect() is in the tree."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

transport_module = pytest.importorskip("gateway.server.transport", reason="needs the glue layer")
sockets_module = pytest.importorskip("gateway.server.sockets", reason="needs the glue layer")
from gateway.http.events import RequestHead  # noqa: E402
from gateway.http.headers import Headers  # noqa: E402
from gateway.http.parser import RequestParser  # noqa: E402
from gateway.proxy.config import server_address  # noqa: E402
from gateway.proxy.exchange import ProxyExchange  # noqa: E402
from gateway.proxy.headers import Client  # noqa: E402
from gateway.proxy.pool import Upstream  # noqa: E402
from gateway.proxy.request import ProxyRequest  # noqa: E402
from gateway.proxy.seams import Failure, Fields  # noqa: E402
from gateway.proxy.spec import ProxySpec, UpstreamSpec  # noqa: E402
from gateway.server.loop import Loop  # noqa: E402
from tests.proxy.fakes import parser_factory  # noqa: E402
from tests.proxy.upstream import Origin, keep_alive_origin, read_request, ws_echo  # noqa: E402

if not hasattr(Loop, "connect"):
    pytest.skip("the loop has no connect() yet", allow_module_level=True)

SocketTransport = sockets_module.SocketTransport


class LiveLoop:
    def __init__(self) -> None:
        self.loop = Loop()
        self.stop = False
        self.thread = threading.Thread(target=self.loop.run, args=(lambda: self.stop,), daemon=True)
        self.thread.start()

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run fn on the loop thread and return its result."""
        done = threading.Event()
        box: list[Any] = []

        def run() -> None:
            try:
                box.append(fn())
            finally:
                done.set()

        self.loop.call_soon_threadsafe(run)
        assert done.wait(10), "the loop did not run the call"
        return box[0] if box else None

    def close(self) -> None:
        self.stop = True
        self.loop.call_soon_threadsafe(lambda: None)
        self.thread.join(10)


@pytest.fixture
def live() -> Iterator[LiveLoop]:
    running = LiveLoop()
    yield running
    running.close()


class Recorder:
    """A Downstream that records, on the loop thread, and signals the end."""

    def __init__(self, client: Any = None) -> None:
        self.head: tuple[int, Fields] | None = None
        self.body = bytearray()
        self.failure: Failure | None = None
        self.finished = threading.Event()
        self.client = client

    def pause_body(self) -> None: ...
    def resume_body(self) -> None: ...
    def informational(self, status: int, fields: Fields) -> None: ...

    def start_response(self, status: int, reason: str, fields: Fields) -> None:
        self.head = (status, fields)

    def response_data(self, data: bytes) -> None:
        self.body += data

    def end_response(self, trailers: Fields | None) -> None:
        self.finished.set()

    def fail(self, failure: Failure) -> None:
        self.failure = failure
        self.finished.set()

    def abort(self, failure: Failure) -> None:
        self.fail(failure)

    def switch(self, status: int, reason: str, fields: Fields) -> tuple[Any, bytes]:
        head = (
            f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{n}: {v}\r\n" for n, v in fields) + "\r\n"
        )
        self.client.write(head.encode())
        self.finished.set()
        return self.client, b""


def run_exchange(
    live: LiveLoop,
    upstream: Upstream,
    method: str = "GET",
    body: bytes = b"",
    recorder: Recorder | None = None,
    headers: Headers | None = None,
) -> Recorder:
    down = recorder or Recorder()
    request = ProxyRequest(
        method, "/x", headers or Headers([("host", "h")]), Client("127.0.0.1"), len(body) or None
    )

    def start() -> None:
        ex = ProxyExchange(
            live.loop, upstream, ProxySpec(upstream="u", retries=1), request, down, parser_factory()
        )
        ex.start()
        step = 100_000
        for i in range(0, len(body), step):
            ex.body(body[i : i + step])
        ex.end_body()

    live.call(start)
    assert down.finished.wait(10)
    return down


def upstream_of(*ports: int) -> Upstream:
    return Upstream(
        UpstreamSpec(
            "u",
            tuple(server_address(f"127.0.0.1:{p}") for p in ports),
            connect_timeout=2.0,
            read_timeout=5.0,
        )
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_requests_reuse_one_pooled_connection(live: LiveLoop) -> None:
    origin = Origin(keep_alive_origin())
    upstream = upstream_of(origin.port)
    for _ in range(3):
        down = run_exchange(live, upstream)
        assert down.head is not None and down.head[0] == 200 and down.body == b"got 0 bytes"
    assert origin.accepted == 1
    origin.close()


def test_refused_server_is_skipped(live: LiveLoop) -> None:
    origin = Origin(keep_alive_origin())
    upstream = upstream_of(free_port(), origin.port)
    down = run_exchange(live, upstream)
    assert down.head is not None and down.head[0] == 200
    dead = upstream_of(free_port())
    down = run_exchange(live, dead)
    assert down.failure is not None and down.failure.status == 502
    assert "cannot connect: connection refused" in down.failure.detail
    origin.close()


def test_stale_pooled_connection_is_retried_transparently(live: LiveLoop) -> None:
    origin = Origin(keep_alive_origin(close_after=1))
    upstream = upstream_of(origin.port)
    first = run_exchange(live, upstream)
    assert first.head is not None
    second = run_exchange(live, upstream, "POST", b"abc")  # not idempotent, still safe here
    assert second.failure is None and second.body == b"got 3 bytes"
    assert origin.accepted == 2


def test_upload_is_streamed_whole(live: LiveLoop) -> None:
    origin = Origin(keep_alive_origin())
    body = bytes(range(256)) * 8192  # 2 MiB
    down = run_exchange(live, upstream_of(origin.port), "PUT", body)
    assert down.body == b"got %d bytes" % len(body)
    origin.close()


def test_websocket_through_the_tunnel(live: LiveLoop) -> None:
    wsproto = pytest.importorskip("wsproto", reason="the websocket extra")
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, CloseConnection, Message, Request, TextMessage

    origin = Origin(ws_echo)
    client = WSConnection(ConnectionType.CLIENT)
    handshake = client.send(Request(host="h", target="/ws"))
    parser = RequestParser()
    parser.feed(handshake)
    head = parser.next_event()
    assert isinstance(head, RequestHead)
    near, far = socket.socketpair()
    near.setblocking(False)
    client_transport = live.call(
        lambda: SocketTransport(live.loop, near, transport_module.Protocol())
    )
    down = run_exchange(
        live, upstream_of(origin.port), headers=head.headers, recorder=Recorder(client_transport)
    )
    assert down.failure is None
    far.settimeout(5)
    got: list[object] = []

    def pump() -> None:
        client.receive_data(far.recv(65536))
        got.extend(client.events())

    while not any(isinstance(e, AcceptConnection) for e in got):
        pump()
    far.sendall(client.send(Message(data="hello")))
    while not any(isinstance(e, TextMessage) for e in got):
        pump()
    assert [e.data for e in got if isinstance(e, TextMessage)] == ["echo: hello"]
    far.sendall(client.send(wsproto.events.CloseConnection(code=1000)))
    while not any(isinstance(e, CloseConnection) for e in got):
        pump()
    far.close()
    origin.close()


class ClientSide:
    """A Downstream writing the response into a real client transport, with its
    backpressure wired to the exchange as the HTTP server protocol will wire it."""

    def __init__(self, live: LiveLoop, sock: socket.socket) -> None:
        self.exchange: ProxyExchange | None = None
        self.finished = threading.Event()
        self.pauses = 0
        self.max_buffered = 0
        outer = self

        class Side(transport_module.Protocol):  # type: ignore[misc]
            def pause_writing(self) -> None:
                outer.pauses += 1
                assert outer.exchange is not None
                outer.exchange.pause_response()

            def resume_writing(self) -> None:
                assert outer.exchange is not None
                outer.exchange.resume_response()

        self.transport = live.call(lambda: SocketTransport(live.loop, sock, Side()))

    def pause_body(self) -> None: ...
    def resume_body(self) -> None: ...
    def informational(self, status: int, fields: Fields) -> None: ...
    def start_response(self, status: int, reason: str, fields: Fields) -> None: ...

    def response_data(self, data: bytes) -> None:
        self.transport.write(data)
        self.max_buffered = max(self.max_buffered, self.transport.get_write_buffer_size())

    def end_response(self, trailers: Fields | None) -> None:
        self.finished.set()

    def fail(self, failure: Failure) -> None:
        raise AssertionError(failure.detail)

    abort = fail


def test_download_to_a_slow_client_holds_bounded_memory(live: LiveLoop) -> None:
    size = 64 * 1024 * 1024
    block = b"z" * 65536

    def big(conn: socket.socket) -> None:
        read_request(conn, bytearray())
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        for _ in range(size // len(block)):
            conn.sendall(block)

    origin = Origin(big)
    near, far = socket.socketpair()
    near.setblocking(False)
    down = ClientSide(live, near)
    request = ProxyRequest("GET", "/big", Headers([("host", "h")]), Client("127.0.0.1"))

    def start() -> None:
        down.exchange = ProxyExchange(
            live.loop,
            upstream_of(origin.port),
            ProxySpec(upstream="u"),
            request,
            down,
            parser_factory(),
        )  # type: ignore[arg-type]
        down.exchange.start()

    live.call(start)
    # The client reads nothing until the proxy has had to stop reading the upstream.
    deadline = threading.Event()
    for _ in range(1000):
        if down.pauses:
            break
        deadline.wait(0.01)
    assert down.pauses, "the proxy never paused the upstream for the full client"
    far.settimeout(10)
    got = 0
    while got < size:
        chunk = far.recv(1 << 20)
        assert chunk
        got += len(chunk)
    assert down.finished.wait(10)
    # Bounded by the transport's high-water mark plus one read from the upstream.
    assert down.max_buffered < 64 * 1024 + 256 * 1024, down.max_buffered
    far.close()
    origin.close()


def hostile(reply: bytes, then_close: bool) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        if read_request(conn, bytearray()) is None:
            return
        conn.sendall(reply)
        if not then_close:
            conn.recv(1)  # hold the connection open until the proxy gives up on it

    return handle


HOSTILE = {
    "closes mid-body": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this",
        True,
        ("abort", 502, "closed the connection mid-response"),
    ),
    "closes before answering": (
        b"",
        True,
        ("fail", 502, "closed the connection before responding"),
    ),
    "never answers": (b"", False, ("fail", 504, "no response within 0.3s")),
    "stalls in the head": (b"HTTP/1.1 20", False, ("fail", 504, "no response within 0.3s")),
    "stalls mid-body": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome",
        False,
        ("abort", 504, "no response within 0.3s"),
    ),
}


@pytest.mark.parametrize("reply, then_close, expected", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_upstreams(
    live: LiveLoop, reply: bytes, then_close: bool, expected: tuple[str, int, str]
) -> None:
    origin = Origin(hostile(reply, then_close))
    upstream = Upstream(
        UpstreamSpec("u", (server_address(f"127.0.0.1:{origin.port}"),), read_timeout=0.3)
    )
    down = Recorder()
    aborted: list[bool] = []
    down.abort = lambda failure: (aborted.append(True), Recorder.fail(down, failure))  # type: ignore[method-assign]
    request = ProxyRequest("POST", "/", Headers([("host", "h")]), Client("127.0.0.1"), 2)

    def start() -> None:
        ex = ProxyExchange(
            live.loop, upstream, ProxySpec(upstream="u"), request, down, parser_factory()
        )
        ex.start()
        ex.body(b"hi")
        ex.end_body()

    live.call(start)
    assert down.finished.wait(10)
    kind, status, text = expected
    assert down.failure is not None and down.failure.status == status
    assert down.failure.detail == f"upstream 'u' server 127.0.0.1:{origin.port}: {text}"
    assert bool(aborted) is (kind == "abort")
    origin.close()


def test_more_than_content_length_is_cut_and_the_connection_not_reused(live: LiveLoop) -> None:
    def handle(conn: socket.socket) -> None:
        buf = bytearray()
        while read_request(conn, buf) is not None:
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"
            )

    origin = Origin(handle)
    upstream = upstream_of(origin.port)
    for _ in range(2):
        down = run_exchange(live, upstream)
        assert down.body == b"ok"
    assert origin.accepted == 2
    origin.close()


def test_bad_framing_is_502(live: LiveLoop) -> None:
    pytest.importorskip("gateway.http.response", reason="the strict response parser")
    origin = Origin(
        hostile(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            False,
        )
    )
    down = run_exchange(live, upstream_of(origin.port))
    assert down.failure is not None and down.failure.status == 502
    assert "sent a malformed response" in down.failure.detail
    origin.close()
