"""On-the-fly static compression through `gateway serve`'s app: [server] compress (on by
default) gives a static mount cached variants, sent with sendfile after the first request."""

from __future__ import annotations

import gzip
import time

import httpx

from tests.support import running_server, write_site

PAGE = ("<!doctype html><p>" + "gateway compresses each file version once. " * 200 + "\n").encode()
SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"
    {extra}

    [[static]]
    prefix = "/"
    dir = "public"
"""


def _raw(url: str) -> tuple[httpx.Response, bytes]:
    """GET asking for gzip: the response and its body as sent (httpx does not decode it)."""
    with httpx.Client() as client:
        request = client.build_request("GET", url, headers={"accept-encoding": "gzip"})
        response = client.send(request, stream=True)
        wire = b"".join(response.iter_raw())
        response.close()
        return response, wire


def test_the_second_request_gets_the_cached_gzip_variant(tmp_path) -> None:
    config = write_site(tmp_path, SITE.format(extra=""), {"public/page.html": PAGE})
    with running_server(config) as running:
        first, _ = _raw(running.url + "/page.html")
        assert first.status_code == 200 and "content-encoding" not in first.headers
        assert "accept-encoding" in first.headers["vary"].lower()
        deadline = time.monotonic() + 10
        while True:  # the variant is built on a background thread: poll to a deadline
            later, wire = _raw(running.url + "/page.html")
            if later.headers.get("content-encoding") == "gzip" or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert later.headers["content-encoding"] == "gzip"
        assert int(later.headers["content-length"]) == len(wire) < len(PAGE)
        assert gzip.decompress(wire) == PAGE
        assert later.headers["etag"] != first.headers["etag"]


def test_compress_false_serves_files_as_stored(tmp_path) -> None:
    config = write_site(tmp_path, SITE.format(extra="compress = false"), {"public/page.html": PAGE})
    with running_server(config) as running:
        for _ in range(3):
            response, wire = _raw(running.url + "/page.html")
            assert "content-encoding" not in response.headers
            assert wire == PAGE
