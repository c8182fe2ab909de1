"""Large Content-Length uploads through `gateway serve` go client socket -> pipe -> upstream
socket (gateway.proxy.upsplice, os.splice or the recv_into/send fallback) on plain TCP:
byte-exact upstream, the answer back, the next pipelined request on the same connection
read after the body; a client or upstream that closes mid-body; max_body_bytes; Expect:
100-continue (the 100 only once the upstream has the head); a TLS upstream is copied."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gateway.proxy import zerocopy
from tests.proxy.support import origin_proxied, read_to_close
from tests.proxy.upstream import Origin
from tests.support import wait_for

SIZE = 4 * 1024 * 1024
BODY = bytes(range(251)) * (SIZE // 251 + 1)  # 251: a prime, no block repeats on a power of 2
BODY = BODY[:SIZE]


class Sink:
    """A raw upstream: per request, reads the head and the Content-Length body and answers
    `got N sha256-prefix`, keep-alive. `/cut` closes after `cut` body bytes instead."""

    def __init__(self, cut: int = 1024 * 1024) -> None:
        self.bodies: list[bytes] = []
        self.heads: list[bytes] = []
        self.cut = cut
        self.closed_short = threading.Event()  # a body ended before its length
        self.cut_done = threading.Event()

    def __call__(self, conn: socket.socket) -> None:
        buf = bytearray()
        while True:
            while b"\r\n\r\n" not in buf:
                data = conn.recv(1 << 20)
                if not data:
                    return
                buf += data
            end = buf.index(b"\r\n\r\n") + 4
            head = bytes(buf[:end])
            del buf[:end]
            self.heads.append(head)
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            want = min(length, self.cut) if b" /cut " in head else length
            while len(buf) < want:
                data = conn.recv(1 << 20)
                if not data:
                    self.closed_short.set()
                    return
                buf += data
            if want < length:
                self.cut_done.set()
                return  # closes mid-body
            body = bytes(buf[:length])
            del buf[:length]
            self.bodies.append(body)
            answer = b"got %d %s" % (len(body), hashlib.sha256(body).hexdigest()[:16].encode())
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))


def expected_answer(body: bytes) -> bytes:
    return b"got %d %s" % (len(body), hashlib.sha256(body).hexdigest()[:16].encode())


@contextmanager
def gateway(
    tmp_path: Path, handle: Callable[[socket.socket], None], route: str = "", server: str = ""
) -> Iterator[tuple[socket.socket, Origin]]:
    with (
        origin_proxied(tmp_path, handle, route, server) as (port, origin),
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
    ):
        yield sock, origin


def put_head(length: int, path: str = "/up", extra: str = "") -> bytes:
    return f"PUT {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {length}\r\n{extra}\r\n".encode()


def send_in_thread(sock: socket.socket, data: bytes) -> threading.Thread:
    def send() -> None:
        with contextlib.suppress(OSError):  # the gateway closed: what a test then checks
            sock.sendall(data)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def read_answer(sock: socket.socket, buf: bytearray) -> tuple[bytes, bytes]:
    """One response with a Content-Length body from sock (bytes after it stay in buf)."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        assert data, f"closed before a response head: {bytes(buf)!r}"
        buf += data
    end = buf.index(b"\r\n\r\n") + 4
    head = bytes(buf[:end])
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(buf) < end + length:
        data = sock.recv(65536)
        assert data, "closed mid-body"
        buf += data
    body = bytes(buf[end : end + length])
    del buf[: end + length]
    return head, body


def test_a_large_upload_is_spliced_byte_exact_and_the_next_request_is_served(
    tmp_path: Path, uploads: list[zerocopy.BodySplice], splice_calls: list[int]
) -> None:
    sink = Sink()
    with gateway(tmp_path, sink) as (sock, origin):
        # The body and a pipelined request right behind it, in one stream.
        sender = send_in_thread(sock, put_head(SIZE) + BODY + put_head(5, "/next") + b"hello")
        buf = bytearray()
        head, answer = read_answer(sock, buf)
        assert head.startswith(b"HTTP/1.1 200") and answer == expected_answer(BODY)
        head, answer = read_answer(sock, buf)
        assert head.startswith(b"HTTP/1.1 200") and answer == expected_answer(b"hello")
        sender.join(5)
        assert sink.bodies == [BODY, b"hello"]  # byte-exact, in order
        assert origin.accepted == 1  # the upstream connection was kept for the next one
        assert len(uploads) == 1 and uploads[0].finished and uploads[0].relay.spliced
        assert uploads[0].moved > SIZE - 512 * 1024  # most of it went around the parser
        assert sum(splice_calls) >= 2 * uploads[0].moved  # in and out of the pipe
        # The connection still serves: one more upload, spliced again.
        sock.sendall(put_head(SIZE) + BODY)
        assert read_answer(sock, buf)[1] == expected_answer(BODY)
        assert len(uploads) == 2 and sink.bodies[-1] == BODY


def test_the_copy_fallback_and_splice_false(
    tmp_path: Path, uploads: list[zerocopy.BodySplice], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zerocopy, "HAS_SPLICE", False)  # recv_into/send through one buffer
    sink = Sink()
    with gateway(tmp_path, sink) as (sock, _):
        sender = send_in_thread(sock, put_head(SIZE) + BODY + put_head(2, "/n") + b"ok")
        buf = bytearray()
        assert read_answer(sock, buf)[1] == expected_answer(BODY)
        assert read_answer(sock, buf)[1] == expected_answer(b"ok")
        sender.join(5)
        assert len(uploads) == 1 and not uploads[0].relay.spliced and uploads[0].finished
        assert uploads[0].moved > SIZE - 512 * 1024
    off = Sink()
    with gateway(tmp_path / "off", off, route=", splice = false") as (sock, _):
        sock.sendall(put_head(SIZE) + BODY)
        buf = bytearray()
        assert read_answer(sock, buf)[1] == expected_answer(BODY)
        # Expect: 100-continue on such a route: the 100 once the upstream has the head,
        # then the body streams up copied.
        sock.sendall(put_head(SIZE, extra="expect: 100-continue\r\n"))
        while b"\r\n\r\n" not in buf:
            buf += sock.recv(65536)
        assert bytes(buf) == b"HTTP/1.1 100 Continue\r\n\r\n"
        buf.clear()
        sock.sendall(BODY)
        assert read_answer(sock, buf)[1] == expected_answer(BODY)
        assert len(uploads) == 1 and off.bodies == [BODY, BODY]  # copied, not spliced


def test_a_client_that_closes_mid_body_drops_the_upstream_request(
    tmp_path: Path, uploads: list[zerocopy.BodySplice], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "gateway.proxy")
    sink = Sink()
    with gateway(tmp_path, sink) as (sock, origin):
        sock.sendall(put_head(SIZE) + BODY[: 1024 * 1024])
        wait_for(lambda: uploads and uploads[0].relay.received > 0)
        sock.close()
        assert sink.closed_short.wait(5)  # the upstream connection was closed mid-body
        wait_for(lambda: "the client closed the connection" in caplog.text)
        assert origin.accepted == 1 and not sink.bodies  # nothing retried, nothing complete
        assert uploads[0].finished


def test_an_upstream_that_closes_mid_body_is_502_and_the_client_is_closed(
    tmp_path: Path, uploads: list[zerocopy.BodySplice]
) -> None:
    sink = Sink(cut=1024 * 1024)
    with gateway(tmp_path, sink) as (sock, origin):
        sock.sendall(put_head(SIZE, "/cut") + BODY[: 1024 * 1024])
        assert sink.cut_done.wait(5)  # it took the first MiB and closed
        answer = read_to_close(sock)  # then the gateway answers and closes (framing is lost)
        assert answer.startswith(b"HTTP/1.1 502"), answer[:200]
        assert b"closed the connection" in answer and b"connection: close" in answer.lower()
        assert origin.accepted == 1  # a POST/PUT whose body went is never retried
        assert len(uploads) == 1 and uploads[0].finished


def test_an_upstream_that_answers_before_the_whole_body_is_relayed_then_closes(
    tmp_path: Path, uploads: list[zerocopy.BodySplice]
) -> None:
    """An upstream that refuses mid-body (413 after 1 MiB, then closes): the client gets
    that answer, then the connection closes (the rest of its body was never read)."""

    def refuse(conn: socket.socket) -> None:
        got = 0
        while got < 1024 * 1024 + 100:  # the head and the first MiB
            got += len(conn.recv(1 << 20))
        conn.sendall(b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 4\r\n\r\nbig!")

    with gateway(tmp_path, refuse) as (sock, origin):
        sock.sendall(put_head(SIZE) + BODY[: 1024 * 1024])
        answer = read_to_close(sock)  # to the close (its head went out before the gateway knew)
        assert answer.startswith(b"HTTP/1.1 413") and answer.endswith(b"big!"), answer[:200]
        assert origin.accepted == 1 and len(uploads) == 1 and uploads[0].finished


def test_an_upstream_that_resets_while_the_body_flows_is_502_or_a_closed_client(
    tmp_path: Path, uploads: list[zerocopy.BodySplice]
) -> None:
    """The splice's own write fails (EPIPE/ECONNRESET) while the client still sends: the
    client gets a 502 if it can still read it, and the connection closes either way."""

    def reset_after_some(conn: socket.socket) -> None:
        got = 0
        while got < 2 * 1024 * 1024:
            data = conn.recv(1 << 20)
            if not data:
                return
            got += len(data)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    with gateway(tmp_path, reset_after_some) as (sock, origin):
        sender = send_in_thread(sock, put_head(2 * SIZE) + BODY + BODY)
        answer = read_to_close(sock)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 502"), answer[:200]
        sender.join(5)
        assert origin.accepted == 1 and len(uploads) == 1 and uploads[0].finished


def test_a_content_length_over_max_body_bytes_is_refused_before_anything(
    tmp_path: Path, uploads: list[zerocopy.BodySplice]
) -> None:
    sink = Sink()
    with gateway(tmp_path, sink, server='max_body_bytes = "1MiB"') as (sock, origin):
        sock.sendall(put_head(SIZE))
        answer = read_to_close(sock)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert origin.accepted == 0 and not uploads


def test_expect_100_continue_waits_for_the_upstream_then_splices(
    tmp_path: Path, uploads: list[zerocopy.BodySplice]
) -> None:
    sink = Sink()
    with gateway(tmp_path, sink) as (sock, _):
        sock.sendall(put_head(SIZE, extra="expect: 100-continue\r\n"))
        buf = bytearray()
        while b"\r\n\r\n" not in buf:
            data = sock.recv(65536)
            assert data
            buf += data
        assert bytes(buf) == b"HTTP/1.1 100 Continue\r\n\r\n"
        wait_for(lambda: sink.heads)  # (that it waits for the upstream: the next test)
        assert b"expect" not in sink.heads[0].lower()  # answered here, not passed on
        buf.clear()
        sock.sendall(BODY)
        assert read_answer(sock, buf)[1] == expected_answer(BODY)
        assert len(uploads) == 1 and uploads[0].relay.received == SIZE  # all of it spliced


def test_expect_100_continue_gets_no_100_when_the_upstream_is_down(tmp_path: Path) -> None:
    dead = socket.create_server(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()  # nothing listens there now: connections are refused
    config = f"""
        [[route]]
        path = "/{{rest:path}}"
        methods = ["*"]
        proxy = {{ url = "http://127.0.0.1:{port}", retries = 0 }}
        """
    from tests.proxy.support import serving

    with (
        serving(tmp_path, config) as running,
        socket.create_connection(("127.0.0.1", running.port), timeout=10) as sock,
    ):
        sock.sendall(put_head(SIZE, extra="expect: 100-continue\r\n"))
        answer = read_to_close(sock)
        assert answer.startswith(b"HTTP/1.1 502"), answer[:200]  # and no 100 before it
        assert b"connection: close" in answer.lower()


def test_a_client_that_stalls_mid_body_is_closed_on_the_body_timeout(
    tmp_path: Path, uploads: list[zerocopy.BodySplice]
) -> None:
    sink = Sink()
    server = 'timeouts = { body = "300ms" }'
    with gateway(tmp_path, sink, server=server) as (sock, _):
        sock.sendall(put_head(SIZE) + BODY[: 1024 * 1024])
        assert read_to_close(sock) == b""  # closed without an answer, as the copied path does
        assert sink.closed_short.wait(5) and not sink.bodies
        assert len(uploads) == 1 and uploads[0].finished


def test_a_body_slower_than_min_body_rate_gets_408(
    tmp_path: Path, uploads: list[zerocopy.BodySplice]
) -> None:
    sink = Sink()
    server = 'min_body_rate = "64MiB"\nmin_body_rate_grace = "200ms"'
    with gateway(tmp_path, sink, server=server) as (sock, _):
        sock.sendall(put_head(SIZE) + BODY[: 512 * 1024])
        wait_for(lambda: uploads)
        sock.settimeout(0.05)
        answer = b""
        for byte in BODY[512 * 1024 : 512 * 1024 + 200]:  # a trickle: one byte per 50 ms
            try:
                answer = sock.recv(65536)
                break
            except TimeoutError:
                sock.sendall(bytes([byte]))
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"request body too slow" in answer
        assert sink.closed_short.wait(5) and not sink.bodies
