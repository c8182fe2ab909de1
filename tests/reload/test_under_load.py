"""Reloads under traffic: while 20 edits are swapped in, clients on keep-alive connections and
on fresh connections see no error, and the keep-alive connections are never dropped."""

from __future__ import annotations

import threading
import time

import httpx

from tests.support import wait_for

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"

    [dev]
    reload = true
    debounce = "10ms"

    [[route]]
    path = "/hello"
    handler = "api.app:hello"

    [[route]]
    path = "/n"
    respond = {{ status = 200, body = "{n}" }}
"""

FILES = {
    "api/__init__.py": "",
    "api/app.py": "def hello(request):\n    return str(request.client[1])\n",
}
MAX_REQUESTS = 50_000  # per client: bounds the loop even if the stop flag were missed


class Client(threading.Thread):
    """Requests in a loop until told to stop; counts answers and errors."""

    def __init__(self, url: str, keep_alive: bool, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.keep_alive, self.stop = url, keep_alive, stop
        self.ok = 0
        self.errors: list[str] = []
        self.ports: set[str] = set()  # client ports the server saw: one while kept alive

    def run(self) -> None:
        # Without keep-alive: one client (building one per request costs an SSL context
        # each time) that never reuses a connection, so every request is a fresh connect.
        limits = None if self.keep_alive else httpx.Limits(max_keepalive_connections=0)
        client = httpx.Client(
            base_url=self.url, timeout=5, **({"limits": limits} if limits else {})
        )
        try:
            for i in range(MAX_REQUESTS):
                if self.stop.is_set():
                    return
                self._one(client, "/hello" if i % 2 else "/n")
        finally:
            client.close()

    def _one(self, client: httpx.Client, path: str) -> None:
        try:
            headers = {} if self.keep_alive else {"connection": "close"}
            response = client.get(path, headers=headers)
        except httpx.HTTPError as exc:
            self.errors.append(f"{path}: {exc!r}")
            return
        if response.status_code != 200:
            self.errors.append(f"{path}: {response.status_code} {response.text!r}")
        else:
            self.ok += 1
            if path == "/hello":
                self.ports.add(response.text)


def test_twenty_reloads_under_traffic_lose_nothing(reloading):
    r = reloading(SITE.format(n=0), FILES)
    stop = threading.Event()
    clients = [Client(r.url, True, stop), Client(r.url, True, stop), Client(r.url, False, stop)]
    for client in clients:
        client.start()
    started = time.monotonic()
    try:
        for n in range(1, 21):
            r.write("gateway.toml", SITE.format(n=n), "replace" if n % 2 else "inplace")
            wait_for(lambda n=n: httpx.get(r.url + "/n", timeout=5).text == str(n))
        assert r.reloader.rebuilds == 20
    finally:
        stop.set()
        for client in clients:
            client.join(10)
    assert not any(client.is_alive() for client in clients)
    assert [e for client in clients for e in client.errors] == []
    assert all(client.ok >= 10 for client in clients), [c.ok for c in clients]
    assert [len(client.ports) for client in clients[:2]] == [1, 1]  # never reconnected
    assert time.monotonic() - started < 60
