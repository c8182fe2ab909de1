"""Hostile clients against a real [tls] listener on 127.0.0.1:0 (in-process, two certificate
files so SNI picks among them): plain HTTP to the https port, garbage and truncated
ClientHellos, a ClientHello byte by byte, a handshake that never ends, close_notify then more
bytes, resets mid-handshake and mid-request, odd SNI names, and all of them at once beside a
good client. After each: no ERROR or traceback in the log, nothing unraisable, a good https
request still answered, every connection gone (the server's count and its fds), no hang."""

from __future__ import annotations

import logging
import os
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress

import pytest

pytest.importorskip("cryptography", reason="the tls extra (cryptography) is not installed")

from gateway.app import build_app
from gateway.config.load import load_config
from gateway.server.serve import Server
from gateway.tls.hello import HelloSniffer
from gateway.tls.serving import TlsServing, build_site
from tests.support import wait_for, write_site
from tests.tls.certs import ScratchCA
from tests.tls.pebble import free_port

DEADLINE = 5.0  # seconds any one exchange may take: past it the listener hangs
HANDSHAKE_TIMEOUT = 1.0  # short for the tests; the hostile threads share the GIL with the server

CONFIG = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"
    timeouts = { shutdown = "1s" }

    [tls]
    listen = "127.0.0.1:%d"
    certificates = [
      { cert = "certs/main.pem", key = "certs/main.key" },
      { cert = "certs/other.pem", key = "certs/other.key" },
    ]
    redirect_http = false
    handshake_timeout = "%gs"

    [[route]]
    path = "/ok"
    methods = ["GET", "POST"]
    respond = { status = 200, body = "ok" }

    [[route]]
    path = "/ws"
    websocket = "wsapi:echo"
    websocket_options = { ping_interval = false }
"""
WSAPI = """
async def echo(ws):
    async for message in ws:
        await ws.send(message)
"""


class Tls:
    """The running server, its TLS port and a client context trusting the scratch CA."""

    def __init__(self, server: Server, port: int, context: ssl.SSLContext) -> None:
        self.server, self.port, self.context = server, port, context

    def raw(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=DEADLINE)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def tls(self, name: str = "localhost") -> ssl.SSLSocket:
        return self.context.wrap_socket(self.raw(), server_hostname=name)

    def get(self, name: str = "localhost") -> bytes:
        """A good https request on a fresh connection: the whole answer."""
        with self.tls(name) as sock:
            sock.sendall(b"GET /ok HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
            return read_all(sock)

    def conns(self) -> int:
        return len(self.server.conns)


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    with suppress(ConnectionResetError, ssl.SSLError):
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def fds() -> int:
    """Open sockets of this process (the async loop's pipes come once, with its first use)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tls]:
    root = tmp_path_factory.mktemp("tlsfuzz")
    ca = ScratchCA(root / "certs")
    ca.leaf("main", ["localhost", "127.0.0.1"])
    ca.leaf("other", ["other.test"])
    config = write_site(root, CONFIG % (free_port(), HANDSHAKE_TIMEOUT), {"wsapi.py": WSAPI})
    app = build_app(load_config(config))
    server = Server(app, listen=["127.0.0.1:0"])
    serving = TlsServing(server, build_site(app.config))
    addresses = server.listen(["127.0.0.1:0"])
    serving.bound(addresses[-1:])
    thread = threading.Thread(target=server.serve_forever, name="tls-fuzz-server", daemon=True)
    thread.start()
    context = ssl.create_default_context(cafile=str(ca.path))
    try:
        yield Tls(server, int(addresses[-1].rpartition(":")[2]), context)
    finally:
        server.request_shutdown()
        thread.join(15)
        assert not thread.is_alive(), "server did not shut down"


@pytest.fixture
def clean(tls: Tls, caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], None]]:
    """After the test: the log holds no ERROR and no traceback, a good client is answered,
    and every connection the test opened is gone (count and file descriptors)."""
    unraisable: list[object] = []

    hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    wait_for(lambda: tls.conns() == 0, timeout=DEADLINE)
    before = fds()
    caplog.set_level(logging.DEBUG, logger="gateway")

    def check() -> None:
        assert tls.get().startswith(b"HTTP/1.1 200 OK")
        wait_for(lambda: tls.conns() == 0, timeout=DEADLINE)
        wait_for(lambda: fds() <= before, timeout=DEADLINE)
        bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
        assert not bad, [r.getMessage() for r in bad]
        assert not unraisable, unraisable

    try:
        yield check
    finally:
        sys.unraisablehook = hook


def client_hello(sni: bytes | None = b"localhost") -> bytes:
    """A real ClientHello from Python's own TLS client (to `sni`), captured from its BIO."""
    context = ssl.create_default_context()
    context.check_hostname = False
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    name = sni.decode("ascii") if sni else None
    obj = context.wrap_bio(incoming, outgoing, server_hostname=name)
    with suppress(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def with_sni(hello: bytes, old: bytes, new: bytes) -> bytes:
    """`hello` (to SNI `old`) with the name swapped for `new` of the same length."""
    assert len(old) == len(new) and hello.count(old) == 1
    return hello.replace(old, new)


def closed_within(sock: socket.socket, seconds: float = DEADLINE) -> bytes:
    """What the server sends until it closes; fails past `seconds` (a hang)."""
    sock.settimeout(seconds)
    try:
        return read_all(sock)
    except TimeoutError:
        raise AssertionError(f"the server did not close within {seconds}s") from None


def reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0) instead of FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_plain_http_to_the_https_port_gets_a_clear_400(tls: Tls, clean) -> None:
    with tls.raw() as sock:
        sock.sendall(b"GET /ok?x=1 HTTP/1.1\r\nHost: localhost:%d\r\n\r\n" % tls.port)
        answer = closed_within(sock)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"use https://localhost:%d/ok?x=1" % tls.port in answer
    for junk in (b"GET / HTTP/1.1\r\n" + b"x" * 9000, b"G", b"POST /ok HTTP/1.0\r\n\r\n"):
        with tls.raw() as sock:
            sock.sendall(junk)
            sock.shutdown(socket.SHUT_WR)
            assert closed_within(sock).startswith(b"HTTP/1.1 400 Bad Request\r\n")
    clean()


@pytest.mark.parametrize(
    "data",
    [
        b"\x00" * 64,  # neither TLS nor HTTP
        b"\x16\x03\x01\x00\x05garbage-after-a-record-header",
        b"\x16\x03\x01\xff\xff" + b"\x01" * 200,  # a record longer than what follows
        b"\x16\x03\x03\x00\x04\x01\x00\x00\x00",  # an empty ClientHello body
        b"\x16" + os.urandom(300),
        b"\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10" + b"\x00" * 37,  # SSLv2 hello
    ],
    ids=["zeros", "garbage", "overlong", "empty-hello", "random", "sslv2"],
)
def test_garbage_first_bytes_close_without_a_hang(tls: Tls, clean, data: bytes) -> None:
    with tls.raw() as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        closed_within(sock)
    clean()


def test_truncated_client_hellos_close_at_eof(tls: Tls, clean) -> None:
    hello = client_hello()
    for cut in (1, 5, 6, 40, len(hello) // 2, len(hello) - 1):
        with tls.raw() as sock:
            sock.sendall(hello[:cut])
            sock.shutdown(socket.SHUT_WR)
            closed_within(sock)
    clean()


def test_a_client_hello_byte_by_byte_completes_the_handshake(tls: Tls, clean) -> None:
    hello = client_hello()
    with tls.raw() as sock:
        for i in range(len(hello)):
            sock.sendall(hello[i : i + 1])
        sock.settimeout(DEADLINE)
        first = sock.recv(5)  # the ServerHello's record header: the handshake went on
        assert first[:1] == b"\x16", first
    clean()


def test_a_handshake_that_never_finishes_is_closed_by_the_timeout(tls: Tls, clean) -> None:
    socks = [tls.raw() for _ in range(3)]
    socks[1].sendall(client_hello()[:30])  # half a ClientHello
    socks[2].sendall(client_hello())  # a whole one, then silence
    started = time.monotonic()
    for sock in socks:
        closed_within(sock, HANDSHAKE_TIMEOUT + DEADLINE)
        sock.close()
    assert time.monotonic() - started < HANDSHAKE_TIMEOUT + 3
    clean()


def test_close_notify_then_more_bytes(tls: Tls, clean) -> None:
    sock = tls.tls()
    sock.sendall(b"GET /ok HTTP/1.1\r\nhost: localhost\r\n\r\n")
    answer = b""
    while not answer.endswith(b"\r\n\r\nok"):
        answer += sock.recv(65536)
    raw = sock.unwrap()  # our close_notify, and the server's in answer
    with suppress(OSError):
        raw.sendall(b"GET /ok HTTP/1.1\r\nhost: localhost\r\n\r\n" + os.urandom(100))
    closed_within(raw)
    raw.close()
    clean()


def handshaken(tls: Tls) -> socket.socket:
    """A raw socket past a finished TLS handshake (done over MemoryBIOs), to send records
    no TLS library would."""
    sock = tls.raw()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = tls.context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            sock.sendall(outgoing.read())
            incoming.write(sock.recv(65536))
    sock.sendall(outgoing.read())
    return sock


@pytest.mark.parametrize(
    "record",
    [
        b"\x17\x03\x03\x00\x20" + bytes(32),  # application data that fails to decrypt
        b"\x17\x03\x03\xff\xff" + bytes(100),  # a record over 2^14 + 256 bytes
        b"\x16\x03\x03\x00\x04\x01\x00\x00\x00",  # a second ClientHello, in clear
        b"\x99" + bytes(20),  # no such record type
    ],
    ids=["bad-mac", "overflow", "hello-again", "bad-type"],
)
def test_broken_records_after_the_handshake_close(tls: Tls, clean, record: bytes) -> None:
    with handshaken(tls) as sock:
        sock.sendall(record)
        closed_within(sock)
    clean()


def test_resets_mid_handshake_and_mid_request(tls: Tls, clean) -> None:
    sock = tls.raw()
    sock.sendall(client_hello())
    reset(sock)
    sock = tls.raw()
    sock.sendall(client_hello()[:20])
    reset(sock)
    secure = tls.tls()
    secure.sendall(b"POST /ok HTTP/1.1\r\nhost: localhost\r\ncontent-length: 100000\r\n\r\nab")
    reset(secure)
    secure = tls.tls()
    secure.sendall(b"GET /ok HTTP/1.1\r\nhost: localhost\r\n\r\n")
    reset(secure)
    clean()


def test_sni_unknown_odd_and_non_ascii_names(tls: Tls, clean) -> None:
    assert tls.get("other.test").startswith(b"HTTP/1.1 200 OK")  # SNI picks the 2nd cert
    context = ssl.create_default_context(cafile=None)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with context.wrap_socket(tls.raw(), server_hostname="nowhere.invalid") as sock:
        sock.sendall(b"GET /ok HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        assert read_all(sock).startswith(b"HTTP/1.1 200 OK")  # the default certificate
    hello = client_hello(b"aaaaaaaaaa.test")
    for name in (b"\xff\xfe\xc3\xa9aaaaaa.test", b"AAAAAAAAAA.TEST", b"...........test"):
        with tls.raw() as sock:
            sock.sendall(with_sni(hello, b"aaaaaaaaaa.test", name))
            sock.shutdown(socket.SHUT_WR)
            closed_within(sock)
    clean()


def test_everything_at_once_while_a_good_client_is_answered(tls: Tls, clean) -> None:
    hello = client_hello()
    stop = threading.Event()
    failures: list[BaseException] = []

    def hostile(i: int) -> None:
        try:
            while not stop.is_set():
                sock = tls.raw()
                kind = i % 4
                if kind == 0:
                    sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
                elif kind == 1:
                    sock.sendall(hello[: 1 + (i * 7) % len(hello)])
                elif kind == 2:
                    sock.sendall(b"\x16\x03\x01" + os.urandom(64))
                else:
                    sock.sendall(hello)
                reset(sock)
        except OSError as exc:  # the server refusing us would show here
            failures.append(exc)

    threads = [threading.Thread(target=hostile, args=(i,), daemon=True) for i in range(4)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(15):
            assert tls.get().startswith(b"HTTP/1.1 200 OK")
    finally:
        stop.set()
        for thread in threads:
            thread.join(DEADLINE)
    assert not failures, failures
    clean()


def masked(opcode: int, payload: bytes, *, mask: bool = True) -> bytes:
    key = b"\x01\x02\x03\x04" if mask else b""
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if mask else payload
    return bytes([0x80 | opcode, (0x80 if mask else 0) | len(payload)]) + key + body


def websocket(tls: Tls) -> tuple[ssl.SSLSocket, bytes]:
    """A wss connection past its 101, and what came after the 101's head."""
    sock = tls.tls()
    sock.sendall(
        b"GET /ws HTTP/1.1\r\nhost: localhost\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
        b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n"
    )
    got = b""
    while b"\r\n\r\n" not in got:
        got += sock.recv(65536)
    head, _, rest = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 "), head
    return sock, rest


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("wsproto") is None, reason="needs wsproto"
)
def test_websockets_over_tls_echo_fail_and_reset(tls: Tls, clean) -> None:
    sock, rest = websocket(tls)
    sock.sendall(masked(0x1, b"over tls"))
    while len(rest) < 10:
        rest += sock.recv(65536)
    assert rest == b"\x81\x08over tls"
    sock.sendall(masked(0x1, b"bare", mask=False))  # unmasked: 1002, then the close
    answer = read_all(sock)
    assert answer[:1] == b"\x88" and answer[2:4] == b"\x03\xea", answer  # close, 1002
    sock.close()
    sock, _ = websocket(tls)
    sock.sendall(masked(0x1, b"half")[:4])
    reset(sock)
    sock, _ = websocket(tls)
    sock.sendall(masked(0x8, b"\x03\xe8"))  # a clean close
    assert read_all(sock)[:4] == b"\x88\x02\x03\xe8"
    sock.close()
    clean()


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("wsproto") is None, reason="needs wsproto"
)
def test_a_ping_flood_over_tls_from_a_client_that_never_reads_stays_bounded(
    tls: Tls, clean
) -> None:
    from gateway import wsroute

    before = {id(p) for live in list(wsroute._live.values()) for p in list(live)}
    sock, _ = websocket(tls)
    fresh = [p for live in list(wsroute._live.values()) for p in list(live) if id(p) not in before]
    (protocol,) = fresh
    pings = masked(0x9, b"p" * 125) * 64
    sock.settimeout(0.5)
    sent = 0
    with suppress(TimeoutError):  # until the server stops reading (and the kernel is full)
        while sent < 32 << 20:
            sock.sendall(pings)  # (a partial sendall ends the test: no frame is cut after it)
            sent += len(pings)
    queued = protocol.transport.get_write_buffer_size()
    assert queued < (1 << 20) + 64 * 1024, f"{queued} bytes queued for {sent} bytes of pings"
    reset(sock)
    clean()


# -- the ClientHello sniffer, sans-IO ------------------------------------------------------


def test_the_sniffer_judges_a_hello_whole_byte_by_byte_and_with_trailing_bytes() -> None:
    good = client_hello(b"aaaaaaaaaa.test")
    bad = with_sni(good, b"aaaaaaaaaa.test", b"\xc3\xa9aaaaaaaa.test")
    for hello, verdict in ((good, True), (bad, False), (client_hello(None), True)):
        assert HelloSniffer().feed(hello + b"\x17\x03\x03trailing") is verdict
        sniffer = HelloSniffer()
        assert [sniffer.feed(hello[i : i + 1]) for i in range(len(hello))][-2:] == [None, verdict]
    assert HelloSniffer().feed(b"\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00") is True  # not a hello
    assert HelloSniffer().feed(b"\x16\x03\x01\x00\x06\x01\x00\x00\x02\x03\x03") is True  # short
    assert HelloSniffer().feed(b"\x15\x03\x01\x00\x02\x02\x28") is True  # an alert
    assert HelloSniffer().feed(b"\x16\x03\x01\x40\x00" + b"\x01\xff\xff\xff") is None
    assert HelloSniffer().feed(b"\x16\x03\x01\xff\xff") is True  # over 2^14 + 256: OpenSSL's
    sniffer = HelloSniffer()  # a hello announced bigger than anyone sends: OpenSSL's to judge
    assert sniffer.feed(b"\x16\x03\x01\x40\x00\x01\xff\xff\xff" + b"\x00" * 0x3FFC) is None
    record = b"\x16\x03\x01\x40\x00" + b"\x00" * 0x4000
    assert [sniffer.feed(record) for _ in range(4)][-1] is True
