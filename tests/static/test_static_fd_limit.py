"""The open-file cache under a low fd limit: a real `gateway serve` started under
`prlimit --nofile=N` serves more distinct files than N, every one with 200 and its own bytes,
and a route that touches no file keeps answering. Issue 10, item 1."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support import ResponseReader, connect, wait_for

PRLIMIT = shutil.which("prlimit")
needs_prlimit = pytest.mark.skipif(PRLIMIT is None, reason="needs prlimit (util-linux)")

CONFIG = """\
[[route]]
path = "/ping"
respond = { status = 200, body = "pong" }

[[static]]
prefix = "/"
dir = "public"
"""


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str
    port: int
    lines: list[str] = field(default_factory=list)


@contextmanager
def serve_limited(site: Path, nofile: int) -> Iterator[Served]:
    """`gateway serve` on 127.0.0.1:0 with soft and hard RLIMIT_NOFILE set to `nofile`;
    stderr is collected in `lines` by a reader thread."""
    assert PRLIMIT is not None
    command = [PRLIMIT, f"--nofile={nofile}:{nofile}", sys.executable, "-m", "gateway"]
    command += ["serve", "--config", str(site / "gateway.toml")]
    command += ["--listen", "127.0.0.1:0", "--no-reload"]
    process = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        found = re.search(r"(http://127\.0\.0\.1:(\d+))/", first)
        assert found, f"server did not start: {first!r}"
        served = Served(process, found.group(1), int(found.group(2)), [first])
        stream = process.stderr
        threading.Thread(target=lambda: served.lines.extend(stream), daemon=True).start()
        yield served
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def make_site(root: Path, files: int) -> Path:
    public = root / "public"
    public.mkdir(parents=True)
    for i in range(files):
        (public / f"f{i:04}.txt").write_text(f"file {i}\n")
    (root / "gateway.toml").write_text(CONFIG)
    return root


def fetch_all(client: httpx.Client, url: str, files: range) -> list[int]:
    """The indexes of the files that came back 200 with their own bytes."""
    good = []
    for i in files:
        with suppress(httpx.TransportError):
            response = client.get(f"{url}/f{i:04}.txt")
            if response.status_code == 200 and response.text == f"file {i}\n":
                good.append(i)
    return good


def ping_over(reader: ResponseReader) -> bool:
    """GET /ping on a connection that stays open (a raw socket: a client per connection
    would cost more than the server's work)."""
    reader.sock.sendall(b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n")
    return reader.read().body == b"pong"


def ping(url: str) -> bool:
    try:
        return httpx.get(url + "/ping", timeout=2).text == "pong"
    except httpx.TransportError:
        return False


@needs_prlimit
@pytest.mark.parametrize(("nofile", "files"), [(64, 100), (1024, 1100)])
def test_more_files_than_the_fd_limit_are_all_served(tmp_path, nofile, files):
    site = make_site(tmp_path, files)
    with serve_limited(site, nofile) as served, ExitStack() as stack:
        # Other clients stay connected all along, as they would on a real site.
        others = [
            ResponseReader(stack.enter_context(connect(served.port))) for _ in range(nofile // 8)
        ]
        assert all(ping_over(other) for other in others)
        client = stack.enter_context(httpx.Client(timeout=5))
        good = fetch_all(client, served.url, range(files))
        assert len(good) == files, f"{len(good)} of {files} files got 200"
        # A route that opens no file, from a new client and the connected ones.
        assert ping(served.url)
        assert all(ping_over(other) for other in others)
        # The first files were evicted long ago: they open again.
        assert fetch_all(client, served.url, range(10)) == list(range(10))
        assert served.process.poll() is None


@needs_prlimit
def test_out_of_fds_is_503_with_retry_after_and_recovers(tmp_path):
    site = make_site(tmp_path, 4)
    with serve_limited(site, 64) as served, httpx.Client(timeout=5) as client:
        assert client.get(served.url + "/ping").text == "pong"  # connected before the flood
        flood: list[socket.socket] = []
        try:
            for _ in range(80):  # more than the server has fds for: the backlog holds the rest
                flood.append(socket.create_connection(("127.0.0.1", served.port), timeout=5))
            wait_for(lambda: any("out of file descriptors" in line for line in served.lines))
            # Nothing cached to give back: the file cannot be opened now, which is no 404.
            response = client.get(served.url + "/f0001.txt")
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == "1"
            wait_for(lambda: any("opening static files: answering 503" in x for x in served.lines))
            assert client.get(served.url + "/ping").text == "pong"  # touches no file
        finally:
            for sock in flood:
                sock.close()
        assert wait_for(lambda: client.get(served.url + "/f0001.txt").text == "file 1\n")
        assert ping(served.url)
