"""The Responder writes what the client gets: framing by the writer for each kind of client
and response, interim answers, trailers, failures, aborts and the 101 switch."""

from __future__ import annotations

from typing import Any

from gateway.http.writer import ResponseWriter
from gateway.proxy.responder import Responder
from gateway.proxy.seams import Failure
from tests.proxy.fakes import FakeTransport


def make(**kwargs: Any) -> tuple[Responder, FakeTransport, list[Any]]:
    transport = FakeTransport()
    events: list[Any] = []
    options: dict[str, Any] = {
        "http_version": "1.1",
        "method": "GET",
        "keep_alive": True,
        "decorate": lambda fields: [*fields, ("x-route", "1")],
        "on_error": lambda failure: events.append(("error", failure.status)),
        "on_done": lambda keep: events.append(("done", keep)),
        "on_switch": lambda: b"leftover",
    }
    options.update(kwargs)
    return Responder(transport, ResponseWriter(server=""), **options), transport, events


def test_length_body_passes_as_is() -> None:
    r, t, events = make()
    r.start_response(200, "OK", [("content-type", "text/plain"), ("content-length", "5")])
    r.response_data(b"hel")
    r.response_data(b"lo")
    r.end_response(None)
    assert (
        t.take()
        == b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-route: 1\r\ncontent-length: 5\r\n\r\nhello"
    )
    assert events == [("done", True)] and r.sent == 5


def test_unknown_length_is_chunked_with_trailers_for_http11() -> None:
    r, t, events = make()
    r.start_response(200, "OK", [])
    r.response_data(b"data: 1\n\n")
    r.end_response([("x-checksum", "abc")])
    assert t.take() == (
        b"HTTP/1.1 200 OK\r\nx-route: 1\r\ntransfer-encoding: chunked\r\n\r\n"
        b"9\r\ndata: 1\n\n\r\n0\r\nx-checksum: abc\r\n\r\n"
    )
    assert events == [("done", True)]


def test_unknown_length_to_http10_closes() -> None:
    r, t, events = make(http_version="1.0")
    r.start_response(200, "OK", [])
    r.response_data(b"abc")
    r.end_response([("x-t", "dropped")])
    assert t.take() == b"HTTP/1.1 200 OK\r\nx-route: 1\r\nconnection: close\r\n\r\nabc"
    assert events == [("done", False)]


def test_head_keeps_the_length_and_sends_no_body() -> None:
    r, t, _ = make(method="HEAD")
    r.start_response(200, "OK", [("content-length", "1234")])
    r.response_data(b"should not be here")
    r.end_response(None)
    assert t.take() == b"HTTP/1.1 200 OK\r\nx-route: 1\r\ncontent-length: 1234\r\n\r\n"


def test_interim_answers_only_to_http11() -> None:
    r, t, _ = make()
    r.informational(103, [("link", "</a.css>; rel=preload")])
    assert t.take() == b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n"
    old, t10, _ = make(http_version="1.0")
    old.informational(103, [("link", "</a.css>")])
    assert t10.take() == b""


def test_failure_abort_and_body_backpressure() -> None:
    r, t, events = make()
    r.fail(Failure(502, "upstream 'u' server a:1: cannot connect: connection refused"))
    assert events == [("error", 502)] and t.take() == b""
    r.pause_body()
    assert not t.reading
    r.resume_body()
    assert t.reading
    r2, t2, events2 = make()
    r2.start_response(200, "OK", [("content-length", "10")])
    r2.abort(Failure(502, "cut"))
    assert t2.aborted and events2 == [("done", False)]


def test_switch_writes_the_101_itself_and_hands_over() -> None:
    r, t, _ = make()
    transport, leftover = r.switch(
        101, "Switching Protocols", [("upgrade", "websocket"), ("connection", "upgrade")]
    )
    assert transport is t and leftover == b"leftover"
    assert (
        t.take()
        == b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n"
    )


def test_one_read_of_the_upstream_is_one_write_to_the_client() -> None:
    r, t, events = make(decorate=None)
    writes: list[bytes] = []
    t.write = writes.append  # type: ignore[method-assign]
    r.cork()
    r.start_response(200, "OK", [("content-length", "5")])
    r.response_data(b"hello")
    assert writes == []  # held while corked
    r.end_response(None)  # written before on_done: a pipelined answer may follow at once
    assert writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"]
    assert events == [("done", True)]
    r.uncork()
    assert len(writes) == 1
