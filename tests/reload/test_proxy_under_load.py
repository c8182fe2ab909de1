"""Reloads under proxied traffic: 20 edits switch a route's upstream between two real servers
while clients (kept alive and fresh) send requests through the proxy; none fails, each
reload's upstream answers new requests, and a response streaming across all the reloads
finishes on the upstream it started with."""

from __future__ import annotations

import threading

import httpx

from tests.proxy.upstream import upstream
from tests.reload.test_under_load import MAX_REQUESTS
from tests.support import wait_for

SITE = """
    [server]
    access_log = "off"

    [dev]
    reload = true
    debounce = "10ms"

    [upstream.api]
    servers = ["127.0.0.1:{port}"]

    [[route]]
    path = "/api/{{rest:path}}"
    methods = ["*"]
    proxy = {{ upstream = "api", strip_prefix = "/api" }}

    [[route]]
    path = "/stream/{{rest:path}}"
    proxy = "http://127.0.0.1:{stream_port}"

    [[route]]
    path = "/n"
    respond = {{ status = 200, body = "{n}" }}
"""


class Client(threading.Thread):
    def __init__(self, url: str, keep_alive: bool, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.keep_alive, self.stop = url, keep_alive, stop
        self.ok = 0
        self.errors: list[str] = []

    def run(self) -> None:
        limits = httpx.Limits(max_keepalive_connections=0 if not self.keep_alive else 10)
        with httpx.Client(base_url=self.url, timeout=5, limits=limits) as client:
            for i in range(MAX_REQUESTS):
                if self.stop.is_set():
                    return
                try:
                    response = client.post(f"/api/{i}", content=b"x" * (i % 300))
                except httpx.HTTPError as exc:
                    self.errors.append(repr(exc))
                    continue
                if response.status_code != 200 or response.json()["body"] != "x" * (i % 300):
                    self.errors.append(f"{response.status_code} {response.text!r}")
                else:
                    self.ok += 1


def test_twenty_reloads_under_proxied_traffic_lose_nothing(reloading) -> None:  # type: ignore[no-untyped-def]
    with upstream("a") as a, upstream("b") as b, upstream("s") as streamer:
        ports = {0: a.port, 1: b.port}

        def site(n: int) -> str:
            return SITE.format(n=n, port=ports[n % 2], stream_port=streamer.port)

        r = reloading(site(0), {})
        with httpx.stream("GET", r.url + "/stream/events", timeout=10) as events:
            lines = events.iter_lines()
            assert next(lines) == "data: one"
            stop = threading.Event()
            clients = [Client(r.url, True, stop), Client(r.url, False, stop)]
            for client in clients:
                client.start()
            try:
                for n in range(1, 21):
                    r.write("gateway.toml", site(n), "replace" if n % 2 else "inplace")
                    wait_for(lambda n=n: httpx.get(r.url + "/n", timeout=5).text == str(n))
                    name = httpx.post(r.url + "/api/which", timeout=5).json()["server"]
                    assert name == "ab"[n % 2]
            finally:
                stop.set()
                for client in clients:
                    client.join(10)
            streamer.release.set()
            assert [line for line in lines if line] == ["data: two"]  # finished across reloads
    assert [e for client in clients for e in client.errors] == []
    assert all(client.ok >= 10 for client in clients), [c.ok for c in clients]
    assert a.hits > 10 and b.hits > 10
