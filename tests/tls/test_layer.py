"""The TLS layer sans-IO: a real client SSLObject over MemoryBIOs on one side, a fake socket
transport and a recording HTTP protocol on the other."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest

pytest.importorskip("cryptography", reason="the tls extra (cryptography) is not installed")

from gateway.tls.contexts import CertificateSet, Served
from gateway.tls.layer import TlsLayer
from tests.tls.certs import Pair, ScratchCA
from tests.tls.fakes import Client, FakeLoop, FakeOuter, Recorder, exchange


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    ca = ScratchCA(tmp_path_factory.mktemp("ca"))
    return ca.leaf("site", ["example.com"])


def connect(pair: Pair, **outer_options: int) -> tuple[TlsLayer, FakeOuter, Recorder, FakeLoop]:
    certs = CertificateSet([Served(pair.cert, pair.key, ("example.com",))])
    loop = FakeLoop()
    outer = FakeOuter(loop, **outer_options)
    inner = Recorder()
    layer = TlsLayer(lambda: certs.default, inner, handshake_timeout=5.0)
    outer.protocol = layer
    layer.connection_made(outer)
    return layer, outer, inner, loop


@pytest.mark.parametrize("one_byte", [False, True])
def test_handshake_and_data_both_ways(pair: Pair, one_byte: bool) -> None:
    layer, outer, inner, loop = connect(pair)
    client = Client(pair.ca)
    client.step()
    exchange(client, layer, outer, one_byte)
    assert inner.events == ["made"]
    assert client.ssl.selected_alpn_protocol() == "http/1.1"
    assert inner.transport.get_extra_info("alpn_protocol") == "http/1.1"
    assert inner.transport.get_extra_info("peername") == ("127.0.0.1", 50000)
    outer.progress_at = 12.5  # type: ignore[attr-defined]
    assert inner.transport.progress_at == 12.5  # the protocol's write timeout reads it
    assert loop.timers[0].cancelled  # the handshake timer is off once it is done
    client.ssl.write(b"GET / HTTP/1.1\r\nhost: example.com\r\n\r\n")
    exchange(client, layer, outer, one_byte)
    assert bytes(inner.data) == b"GET / HTTP/1.1\r\nhost: example.com\r\n\r\n"
    inner.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi")
    exchange(client, layer, outer)
    assert bytes(client.received) == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi"


def test_request_in_the_same_packet_as_the_finished(pair: Pair) -> None:
    """TLS 1.3 clients send their Finished and the request together: both in one
    data_received, the request must reach the protocol at once."""
    layer, outer, inner, _ = connect(pair)
    client = Client(pair.ca)
    client.step()
    layer.data_received(client.outgoing.read())  # ClientHello
    client.incoming.write(outer.take())  # the server's flight
    assert client.step()
    client.ssl.write(b"GET / HTTP/1.1\r\n\r\n")
    layer.data_received(client.outgoing.read())  # Finished + the request record
    assert bytes(inner.data) == b"GET / HTTP/1.1\r\n\r\n"


def test_corked_writes_become_one_record(pair: Pair) -> None:
    layer, outer, inner, _ = connect(pair)
    client = Client(pair.ca)
    exchange(client, layer, outer)
    outer.take()
    writes = outer.writes
    inner.transport.cork()
    inner.transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    inner.transport.write(memoryview(b"body"))
    assert outer.writes == writes and inner.transport.get_write_buffer_size() == 23
    inner.transport.uncork()
    assert outer.writes == writes + 1
    record = outer.take()
    assert record[0] == 0x17 and len(record) == 5 + 23 + 17  # one record: header, data, tag
    client.incoming.write(record)
    client.read_all()
    assert bytes(client.received) == b"HTTP/1.1 200 OK\r\n\r\nbody"


def test_small_file_joins_the_head(pair: Pair, tmp_path: Path) -> None:
    layer, outer, inner, _ = connect(pair)
    client = Client(pair.ca)
    exchange(client, layer, outer)
    outer.take()
    path = tmp_path / "small.txt"
    path.write_bytes(b"0123456789" * 100)
    writes = outer.writes
    done: list[bool] = []
    with open(path, "rb") as file:
        inner.transport.cork()
        inner.transport.write(b"head:")
        inner.transport.write_file(file.fileno(), 10, 990, done.append)
        assert done == [True]  # read already: the caller may close the file
    inner.transport.write(b":next")  # still corked: the same record
    inner.transport.uncork()
    assert outer.writes == writes + 1  # one record
    client.incoming.write(outer.take())
    client.read_all()
    assert bytes(client.received) == b"head:" + b"0123456789" * 99 + b":next"


def test_session_resumption(pair: Pair) -> None:
    certs = CertificateSet([Served(pair.cert, pair.key, ("example.com",))])
    sessions = []
    for _ in range(2):
        loop = FakeLoop()
        outer, inner = FakeOuter(loop), Recorder()
        layer = TlsLayer(lambda: certs.default, inner)
        outer.protocol = layer
        layer.connection_made(outer)
        if not sessions:
            client = Client(pair.ca)
        else:  # a session belongs to the client context that made it
            client = Client(pair.ca, context=client.context, session=sessions[-1])
        exchange(client, layer, outer)  # reading after the handshake takes in the tickets
        sessions.append(client.ssl.session)
    assert sessions[0] is not None
    assert client.ssl.session_reused


def test_protocol_lives_as_long_as_the_socket(pair: Pair) -> None:
    """connection_made at once (the server tracks connections by protocol), no data before
    the handshake, writes made meanwhile sent after it, connection_lost even if it failed."""
    layer, outer, inner, _ = connect(pair)
    assert inner.events == ["made"] and inner.transport.get_extra_info("cipher") is None
    inner.transport.write(b"early")
    client = Client(pair.ca)
    exchange(client, layer, outer)
    assert bytes(client.received) == b"early"
    layer, outer, inner, _ = connect(pair)
    layer.data_received(b"\x16\x03\x01\x00")  # a ClientHello begins...
    inner.transport.close()  # ...and the protocol gives up (its own header timeout)
    assert outer.closed and outer.take() == b""
    layer.connection_lost(None)
    assert inner.events == ["made", "lost"]


def test_close_sends_close_notify(pair: Pair) -> None:
    layer, outer, inner, _ = connect(pair)
    client = Client(pair.ca)
    exchange(client, layer, outer)
    inner.transport.write(b"bye")
    inner.transport.close()
    assert outer.closed and inner.transport.is_closing()
    exchange(client, layer, outer)
    assert bytes(client.received) == b"bye" and client.closed_by_peer
    layer.connection_lost(None)
    assert inner.events == ["made", "lost"]


def test_peer_close_notify_and_fin(pair: Pair) -> None:
    layer, outer, inner, _ = connect(pair)
    client = Client(pair.ca)
    exchange(client, layer, outer)
    client.ssl.write(b"last")
    with pytest.raises(ssl.SSLWantReadError):
        client.ssl.unwrap()
    exchange(client, layer, outer)
    assert bytes(inner.data) == b"last" and inner.events == ["made", "eof"]
    # A FIN without close_notify is an end too, after the bytes before it.
    layer, outer, inner, _ = connect(pair)
    client = Client(pair.ca)
    exchange(client, layer, outer)
    client.ssl.write(b"cut")
    layer.data_received(client.outgoing.read())
    layer.eof_received()
    assert bytes(inner.data) == b"cut" and inner.events == ["made", "eof"]


def test_large_file_is_bounded_and_ordered(pair: Pair, tmp_path: Path) -> None:
    layer, outer, inner, loop = connect(pair, high=64 * 1024, low=16 * 1024)
    client = Client(pair.ca)
    exchange(client, layer, outer)
    body = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / "big.bin"
    path.write_bytes(body)
    done: list[bool] = []
    with open(path, "rb") as file:
        inner.transport.write(b"head:")
        inner.transport.write_file(file.fileno(), 10, len(body) - 10, done.append)
        inner.transport.write(b":tail")  # waits behind the file
        assert inner.events[-1] == "pause"
        assert inner.transport.get_write_buffer_size() > len(body) - 10 - 200_000
        for _ in range(10_000):
            if done and not outer.buffer:
                break
            client.incoming.write(outer.take(16 * 1024))  # a slow reader
            client.read_all()
            loop.run_soon()
    assert done == [True]
    assert bytes(client.received) == b"head:" + body[10:] + b":tail"
    # Memory stays bounded: at most the high-water mark plus one encrypted chunk.
    assert outer.max_buffered < 64 * 1024 + 70 * 1024
    assert inner.events[-1] == "resume"


def test_file_that_shrank_aborts(pair: Pair, tmp_path: Path) -> None:
    layer, outer, inner, _ = connect(pair)
    client = Client(pair.ca)
    exchange(client, layer, outer)
    path = tmp_path / "small.bin"
    path.write_bytes(b"x" * 100)
    done: list[bool] = []
    with open(path, "rb") as file:
        inner.transport.write_file(file.fileno(), 0, 1000, done.append)
    assert done == [False] and outer.aborted


def test_paused_reading_keeps_plaintext_until_resumed(pair: Pair) -> None:
    layer, outer, inner, loop = connect(pair)
    client = Client(pair.ca)
    exchange(client, layer, outer)
    inner.transport.pause_reading()
    assert not outer.reading and not inner.transport.is_reading()
    client.ssl.write(b"waiting")
    layer.data_received(client.outgoing.read())
    assert inner.data == b""
    inner.transport.resume_reading()
    loop.run_soon()
    assert bytes(inner.data) == b"waiting"


@pytest.mark.parametrize("one_byte", [False, True])
def test_plain_http_gets_a_readable_400(pair: Pair, one_byte: bool) -> None:
    layer, outer, inner, _ = connect(pair)
    request = b"GET /docs?a=1 HTTP/1.1\r\nHost: example.com:8443\r\n\r\n"
    chunks = [request[i : i + 1] for i in range(len(request))] if one_byte else [request]
    for chunk in chunks:
        layer.data_received(chunk)
    answer = outer.take()
    body = b"this port speaks https, but the request came as plain http: use https://example.com:8443/docs?a=1\n"
    assert answer == (
        b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)
    )
    assert outer.closed and inner.events == ["made"] and inner.data == b""


def test_garbage_is_closed_without_answer(pair: Pair) -> None:
    layer, outer, inner, _ = connect(pair)
    layer.data_received(b"\x00\x01binary")
    assert outer.closed and outer.take() == b"" and inner.events == ["made"] and inner.data == b""


def test_handshake_timeout(pair: Pair) -> None:
    layer, outer, inner, loop = connect(pair)
    client = Client(pair.ca)
    client.step()
    layer.data_received(client.outgoing.read()[:20])  # half a ClientHello, then silence
    assert loop.timers[0].delay == 5.0
    loop.fire_timers()
    assert outer.aborted and inner.events == ["made"] and inner.data == b""


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_old_protocol_refused(pair: Pair) -> None:
    layer, outer, inner, _ = connect(pair)
    client = Client(pair.ca, maximum_version=ssl.TLSVersion.TLSv1_1)
    client.ssl.context.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError):
        client.step()
        exchange(client, layer, outer)
    assert outer.closed and inner.events == ["made"] and inner.data == b""
