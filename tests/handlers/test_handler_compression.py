"""Compression of handler and respond answers through a real server: negotiated codings,
the minimum size, `compress` on [server] and [[route]], streamed bodies (sync on the pool,
async generators) flushed per chunk so each arrives at once, and config errors."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from gateway.cli import main
from gateway.compress import decompress_body, installed
from tests.support import write_site

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"

    [[route]]
    path = "/big"
    handler = "api.z:big"

    [[route]]
    path = "/big-inline"
    handler = "api.z:big"
    inline = true

    [[route]]
    path = "/small"
    handler = "api.z:small"

    [[route]]
    path = "/plain"
    handler = "api.z:big"
    compress = false

    [[route]]
    path = "/gzip-only"
    handler = "api.z:big"
    compress = { codings = ["gzip"], min_size = "10B" }

    [[route]]
    path = "/async"
    handler = "api.z:abig"

    [[route]]
    path = "/stream"
    handler = "api.z:stream"

    [[route]]
    path = "/astream"
    handler = "api.z:astream"

    [[route]]
    path = "/about"
    respond = { body = "{body}", content_type = "text/html" }
"""

Z = """
import asyncio, threading
GATE = threading.Event()
ITEMS = [{"id": i, "name": f"item {i}"} for i in range(200)]

def big(request):
    return ITEMS

async def abig(request):
    return ITEMS

def small(request):
    return {"ok": True}

def stream(request):
    def chunks():
        yield "first;" * 10
        GATE.wait(10)
        yield "second"
    return 200, chunks(), {"content-type": "text/plain"}

async def astream(request):
    yield "data: one\\n\\n"
    await asyncio.sleep(30)
"""

ABOUT = "<p>about us</p>" * 200


@pytest.fixture
def server(site):
    return site(SITE.replace("{body}", ABOUT), {"api/__init__.py": "", "api/z.py": Z})


@pytest.mark.parametrize("path", ["/big", "/big-inline", "/async", "/about"])
def test_each_coding_the_server_has(server, path: str) -> None:
    identity = httpx.get(server.url + path, headers={"accept-encoding": "identity"})
    assert "content-encoding" not in identity.headers
    for coding in installed():
        with httpx.stream(
            "GET", server.url + path, headers={"accept-encoding": coding}
        ) as response:
            body = b"".join(response.iter_raw())
        assert response.headers["content-encoding"] == coding
        assert "accept-encoding" in response.headers["vary"].lower()
        assert len(body) < len(identity.content) / 3
        assert decompress_body(coding, body) == identity.content


def test_small_bodies_and_routes_turned_off_go_as_they_are(server) -> None:
    small = httpx.get(server.url + "/small", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in small.headers
    plain = httpx.get(server.url + "/plain", headers={"accept-encoding": "gzip, br, zstd"})
    assert "content-encoding" not in plain.headers and "vary" not in plain.headers


def test_a_routes_codings_replace_the_servers(server) -> None:
    response = httpx.get(server.url + "/gzip-only", headers={"accept-encoding": "zstd, br, gzip"})
    assert response.headers["content-encoding"] == "gzip"


def test_a_pooled_stream_is_flushed_per_chunk(server) -> None:
    with httpx.stream("GET", server.url + "/stream", headers={"accept-encoding": "gzip"}) as r:
        assert r.headers["content-encoding"] == "gzip"
        chunks = r.iter_bytes()
        first = next(chunks)  # arrives while the generator still waits for GATE
        assert first.startswith(b"first;")
        httpx.get(server.url + "/big")  # the server keeps serving meanwhile
        _release(server)
        assert (first + b"".join(chunks)).endswith(b"second")


def _release(server) -> None:
    modules = server.server.app.modules
    sys.modules[f"{modules.package}.api.z"].GATE.set()


def test_an_async_event_stream_arrives_event_by_event(server) -> None:
    headers = {"accept-encoding": "gzip", "accept": "text/event-stream"}
    with httpx.stream("GET", server.url + "/astream", headers=headers, timeout=10) as r:
        assert r.headers["content-encoding"] == "gzip"
        assert next(r.iter_bytes()) == b"data: one\n\n"


def test_compress_settings_are_checked(tmp_path: Path, capsys) -> None:
    bad = SITE.replace('codings = ["gzip"]', 'codings = ["lzma"]').replace("{body}", "x")
    config = write_site(tmp_path, bad, {"api/__init__.py": "", "api/z.py": Z})
    assert main(["check", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "unknown content coding 'lzma': use zstd, br or gzip" in err
    assert "route[4].compress.codings[0]" in err


def test_server_compress_false_turns_it_off(site) -> None:
    running = site(
        SITE.replace('access_log = "off"', 'access_log = "off"\ncompress = false').replace(
            "{body}", ABOUT
        ),
        {"api/__init__.py": "", "api/z.py": Z},
    )
    response = httpx.get(running.url + "/big", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in response.headers
    on = httpx.get(running.url + "/gzip-only", headers={"accept-encoding": "gzip"})
    assert on.headers["content-encoding"] == "gzip"  # a route's table turns it back on


def test_compress_values_name_what_would_be_right(tmp_path: Path, capsys) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(
        "[server]\ncompress = { levels = { gzip = 15 }, min_sise = 3 }\n"
        '[[route]]\npath = "/"\nrespond = { body = "x" }\ncompress = "yes"\n'
    )
    assert main(["check", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "server.compress.min_sise: unknown key 'min_sise' (did you mean 'min_size'?)" in err
    assert "server.compress.levels.gzip: gzip level: must be from 0 to 9, got 15" in err
    assert "route[0].compress: expected true, false or a table" in err
