"""Connection limits, graceful shutdown with a request in flight, listening on several
addresses (IPv4 and IPv6), and the access log formats."""

from __future__ import annotations

import io
import json
import socket
import threading

import httpx
import pytest

from gateway.app import build_app
from gateway.config.load import load_config
from gateway.http.headers import Headers
from gateway.log import AccessLog
from gateway.request import Request
from gateway.server.serve import Server
from tests.support import ResponseReader, connect, wait_for, write_site

SLOW = """
    import threading
    GATE = threading.Event()

    def slow(request):
        GATE.wait(10)
        return "done"
"""


def test_connection_limit_pauses_accepting_until_a_slot_frees(site):
    running = site(
        """
        [server]
        access_log = "off"
        max_connections = 2

        [[route]]
        path = "/x"
        respond = { status = 200, body = "x" }
        """
    )
    first, second = connect(running.port), connect(running.port)
    wait_for(lambda: len(running.server.conns) == 2)
    assert not running.server.accepting  # paused at the limit
    third = connect(running.port)  # the kernel completes the handshake; we do not accept
    third.sendall(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
    assert len(running.server.conns) == 2
    first.close()
    third.settimeout(10)
    assert ResponseReader(third).read().body == b"x"  # accepted once a slot was free
    second.close()
    third.close()


def test_shutdown_finishes_the_request_in_flight_then_stops(tmp_path):
    config = write_site(
        tmp_path,
        """
        [server]
        access_log = "off"
        timeouts = { shutdown = "10s" }

        [[route]]
        path = "/slow"
        handler = "api.slow:slow"
        """,
        {"api/__init__.py": "", "api/slow.py": SLOW},
    )
    server = Server(build_app(load_config(config)), listen=["127.0.0.1:0"])
    port = int(server.listen(["127.0.0.1:0"])[0].rsplit(":", 1)[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    in_flight = connect(port)
    in_flight.sendall(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
    idle = connect(port)
    wait_for(lambda: server.pool.pending == 1 and len(server.conns) == 2)
    server.request_shutdown()
    idle.settimeout(10)
    assert idle.recv(1) == b""  # the idle keep-alive connection is closed at once
    with pytest.raises(OSError):
        connect(port, timeout=2)  # no longer accepting
    module = next(
        m
        for m in __import__("sys").modules.values()
        if getattr(m, "__file__", "") == str(tmp_path / "api" / "slow.py")
    )
    module.GATE.set()
    response = ResponseReader(in_flight).read()
    assert response.body == b"done"
    assert response.headers["connection"] == "close"
    thread.join(10)
    assert not thread.is_alive()


def test_listens_on_ipv4_and_ipv6(tmp_path):
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    config = write_site(
        tmp_path, '[[route]]\npath = "/x"\nrespond = { status = 200, body = "x" }\n'
    )
    server = Server(build_app(load_config(config)))
    try:
        addresses = server.listen(["127.0.0.1:0", "[::1]:0"])
    except OSError:
        pytest.skip("cannot bind ::1 here")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for address in addresses:
            assert httpx.get(f"http://{address}/x").text == "x"
    finally:
        server.request_shutdown()
        thread.join(10)


def _request() -> Request:
    headers = Headers([("host", "t"), ("user-agent", 'curl "8"'), ("referer", "http://r/")])
    return Request("GET", "/a b", headers, raw_path="/a%20b", query_string="q=1", id="7-1")


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("common", '1.2.3.4 - - [STAMP] "GET /a%20b?q=1 HTTP/1.1" 200 5'),
        (
            "combined",
            '1.2.3.4 - - [STAMP] "GET /a%20b?q=1 HTTP/1.1" 200 5 "http://r/" "curl \\"8\\""',
        ),
    ],
)
def test_access_log_formats(fmt, expected):
    stream = io.StringIO()
    log = AccessLog(fmt, stream)
    log(_request(), 200, 5, ("1.2.3.4", 5555))
    log.flush()
    line = stream.getvalue().rstrip("\n")
    stamp = line[line.index("[") + 1 : line.index("]")]
    assert line == expected.replace("STAMP", stamp)


def test_access_log_json_and_off():
    stream = io.StringIO()
    log = AccessLog("json", stream)
    log(_request(), 404, None, ("1.2.3.4", 5555))
    log.flush()
    record = json.loads(stream.getvalue())
    assert record["status"] == 404 and record["request"] == "GET /a%20b?q=1 HTTP/1.1"
    assert record["id"] == "7-1" and record["bytes"] is None
    off = io.StringIO()
    log = AccessLog("off", off)
    log(_request(), 200, 5, ("1.2.3.4", 5555))
    log.flush()
    assert off.getvalue() == ""


def test_access_log_keeps_one_request_on_one_line():
    stream = io.StringIO()
    log = AccessLog("combined", stream)
    request = Request("GET", "/", Headers([("user-agent", "evil\nforged line")]), id="1")
    log(request, 200, 0, ("1.2.3.4", 1))
    log.flush()
    assert stream.getvalue().count("\n") == 1


def test_a_request_in_flight_finishes_on_the_app_it_started_with(tmp_path):
    files = {
        "api/__init__.py": "",
        "api/v.py": SLOW.replace('return "done"', 'return "v1"'),
    }
    config = write_site(
        tmp_path,
        """
        [server]
        access_log = "off"

        [[route]]
        path = "/slow"
        handler = "api.v:slow"

        [[route]]
        path = "/version"
        respond = { status = 200, body = "v1" }
        """,
        files,
    )
    server = Server(build_app(load_config(config)), listen=["127.0.0.1:0"])
    port = int(server.listen(["127.0.0.1:0"])[0].rsplit(":", 1)[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        in_flight = connect(port)
        in_flight.sendall(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        wait_for(lambda: server.pool.pending == 1)
        config.write_text(config.read_text().replace('body = "v1"', 'body = "v2"'))
        new_app = build_app(load_config(config), server.app.modules)
        server.call_soon_threadsafe(lambda: server.swap_app(new_app))
        wait_for(lambda: server.app is new_app)
        assert httpx.get(f"http://127.0.0.1:{port}/version").text == "v2"
        module = next(
            m
            for m in __import__("sys").modules.values()
            if getattr(m, "__file__", "") == str(tmp_path / "api" / "v.py")
        )
        module.GATE.set()
        assert ResponseReader(in_flight).read().body == b"v1"  # kept its old app and module
        in_flight.close()
    finally:
        server.request_shutdown()
        thread.join(10)


def test_a_reload_that_changes_workers_says_a_restart_is_needed(tmp_path, caplog):
    config = write_site(
        tmp_path, '[[route]]\npath = "/x"\nrespond = { status = 200, body = "x" }\n'
    )
    server = Server(build_app(load_config(config)), listen=["127.0.0.1:0"])
    try:
        config.write_text("[server]\nworkers = 3\n" + config.read_text())
        with caplog.at_level("WARNING", logger="gateway.server"):
            server.swap_app(build_app(load_config(config)))
        assert "workers changed to 3: restart gateway to apply it" in caplog.text
    finally:
        server.loop.close()
