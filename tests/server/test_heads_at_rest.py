"""A head at rest (HttpProtocol._answer_at_rest): a connection whose bytes are exactly one
head the parser has parsed before (same bytes, same limits), framing no body, is answered
without feeding its parser, whatever its route. Each such request still runs its handler,
gets its own request id, log line, metrics and Date, and a head that differs by one byte,
a reload with other limits or a body takes the long way."""

from __future__ import annotations

from gateway.app import build_app
from gateway.config.load import load_config
from gateway.http.parser import RequestParser
from tests.support import ResponseReader, connect, read_until_closed, wait_for

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "{log}"
    max_header_bytes = 4096
    metrics = "/metrics"

    [[route]]
    path = "/count"
    handler = "api:count"
    inline = true

    [[route]]
    path = "/auto"
    handler = "api:count"

    [[route]]
    path = "/echo"
    methods = ["GET", "POST"]
    handler = "api:echo"
    inline = true
"""
API = """
import itertools
COUNTER = itertools.count()

def count(request):
    return {"n": next(COUNTER), "id": request.id, "path": request.path}

def echo(request):
    return {"body": request.body.decode(), "ua": request.headers.get("user-agent")}
"""
HEAD = b"GET %s HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n"


def _server(site, log: str = "off"):
    return site(SITE.format(log=log), {"api.py": API})


def test_a_repeated_head_runs_its_handler_each_time_without_the_parser(site, monkeypatch):
    feeds: list[bytes] = []
    feed = RequestParser.feed
    monkeypatch.setattr(
        RequestParser, "feed", lambda self, data: (feeds.append(data), feed(self, data))[1]
    )
    running = _server(site)
    with connect(running.port) as sock:
        reader = ResponseReader(sock)
        answers = []
        for _ in range(4):
            sock.sendall(HEAD % b"/count")
            answers.append(reader.read())
    assert feeds == [HEAD % b"/count"]  # the first one only: it taught the parser the head
    assert all(a.status == 200 for a in answers)
    assert len({a.body for a in answers}) == 4  # a fresh call each time ...
    assert len({a.body.split(b'"id":')[1] for a in answers}) == 4  # ... with its own id


def test_a_head_one_byte_different_is_answered_for_itself(site):
    running = _server(site)
    with connect(running.port) as sock:
        reader = ResponseReader(sock)
        for _ in range(2):
            sock.sendall(HEAD % b"/count")
            assert b'"path":"/count"' in reader.read().body
        sock.sendall(HEAD % b"/counu")  # one byte: another route (none: 404)
        assert reader.read().status == 404
        sock.sendall((HEAD % b"/echo").replace(b"User-Agent: t", b"User-Agent: u"))
        assert reader.read().body == b'{"body":"","ua":"u"}'
        sock.sendall(HEAD % b"/echo")
        assert reader.read().body == b'{"body":"","ua":"t"}'


def test_a_known_head_with_a_body_or_a_close_or_head_method(site):
    running = _server(site)
    post = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n"
    with connect(running.port) as sock:
        reader = ResponseReader(sock)
        for body in (b"ab", b"cd"):  # the same head twice, each with its body after it
            sock.sendall(post)
            sock.sendall(body)
            assert reader.read().body == b'{"body":"%s","ua":null}' % body
        head = (HEAD % b"/count").replace(b"GET", b"HEAD")
        for _ in range(2):
            sock.sendall(head)
            answer = reader.read(head_request=True)
            assert answer.status == 200 and int(answer.headers["content-length"]) > 0
        sock.sendall(HEAD % b"/count")
        assert reader.read().status == 200  # no HEAD body was left on the wire
    closing = (HEAD % b"/count").replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    for _ in range(2):
        with connect(running.port) as sock:
            sock.sendall(closing)
            data = read_until_closed(sock)  # answered, then closed
        assert data.startswith(b"HTTP/1.1 200") and b"connection: close" in data


def test_request_ids_access_log_and_metrics_see_every_request(site, capfd):
    running = _server(site, log="common")
    with_id = (HEAD % b"/count").replace(b"\r\n\r\n", b"\r\nX-Request-ID: abc-1\r\n\r\n")
    with connect(running.port) as sock:
        reader = ResponseReader(sock)
        for _ in range(3):
            sock.sendall(with_id)
            answer = reader.read()
            assert answer.headers["x-request-id"] == "abc-1"
            assert b'"id":"abc-1"' in answer.body
        for _ in range(3):
            sock.sendall(HEAD % b"/auto")  # no flags: the pool first, then maybe the loop
            assert reader.read().status == 200
        sock.sendall(HEAD % b"/metrics")
        metrics = reader.read().body.decode()
    count = [line for line in metrics.splitlines() if line.startswith("gateway_requests_total")]
    assert any('route="/count"' in line and line.endswith(" 3") for line in count), count
    assert any('route="/auto"' in line and line.endswith(" 3") for line in count), count
    err: list[str] = []  # the loop writes its lines after each batch
    line = '"GET /count HTTP/1.1" 200'
    wait_for(lambda: err.append(capfd.readouterr().err) or "".join(err).count(line) >= 3)
    assert "".join(err).count(line) == 3


def test_a_reload_with_other_limits_is_applied_to_known_heads(site, tmp_path):
    running = _server(site)
    big = (HEAD % b"/count").replace(b"\r\n\r\n", b"\r\nX-Pad: " + b"p" * 3000 + b"\r\n\r\n")
    with connect(running.port) as sock:
        reader = ResponseReader(sock)
        for _ in range(2):
            sock.sendall(big)
            assert reader.read().status == 200
    config = tmp_path / "gateway.toml"
    config.write_text(
        config.read_text().replace("max_header_bytes = 4096", "max_header_bytes = 1024")
    )
    app = build_app(load_config(config))
    running.server.loop.call_soon_threadsafe(lambda: running.server.swap_app(app))
    wait_for(lambda: running.server.app is app, timeout=5)
    with connect(running.port) as sock:
        sock.sendall(big)
        assert read_until_closed(sock).startswith(b"HTTP/1.1 431")


def test_a_new_date_second_gets_a_new_date(site):
    running = _server(site)
    with connect(running.port) as sock:
        reader = ResponseReader(sock)

        def date() -> str:
            sock.sendall(HEAD % b"/count")
            return reader.read().headers["date"]

        first = date()
        wait_for(lambda: date() != first, timeout=5, interval=0.05)


def test_bytes_that_come_while_a_pooled_call_runs_are_answered_after_it(site):
    """A head at rest whose call goes to the pool leaves the connection without a parser
    of its own; what the client sends meanwhile is kept (in one taken then) and answered
    in order once the call is done."""
    slow_site = SITE.replace(
        '[[route]]\n    path = "/auto"',
        '[[route]]\n    path = "/slow"\n    handler = "api:slow"\n    blocking = true\n\n'
        '    [[route]]\n    path = "/auto"',
    )
    api = API + "\nimport time\n\ndef slow(request):\n    time.sleep(0.2)\n    return {'slow': 1}\n"
    running = site(slow_site.format(log="off"), {"api.py": api})
    with connect(running.port) as sock:
        reader = ResponseReader(sock)
        sock.sendall(HEAD % b"/slow")  # parsed once: the next one is a head at rest
        assert reader.read().body == b'{"slow":1}'
        sock.sendall(HEAD % b"/slow")
        sock.sendall((HEAD % b"/count") + (HEAD % b"/slow"))  # while it runs (0.2 s)
        answers = [reader.read().body for _ in range(3)]
    assert answers[0] == b'{"slow":1}'
    assert answers[1].startswith(b'{"n":')
    assert answers[2] == b'{"slow":1}'
