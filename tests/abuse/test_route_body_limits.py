"""`max_body_bytes` per route (issue 15, streamed bodies): a route may take more or less than
the server's limit; every other route keeps the server's; past it, 413 and the close."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gateway.config.load import load_config
from gateway.errors import ConfigError
from tests.support import running_server, write_site

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"
    max_body_bytes = "1KiB"

    [[route]]
    path = "/big"
    methods = ["POST"]
    respond = { status = 200, body = "big ok" }
    max_body_bytes = "100KiB"

    [[route]]
    path = "/small"
    methods = ["POST"]
    respond = { status = 200, body = "small ok" }
    max_body_bytes = 10

    [[route]]
    path = "/default"
    methods = ["POST"]
    respond = { status = 200, body = "default ok" }
"""


def test_each_route_takes_bodies_up_to_its_own_limit(tmp_path: Path) -> None:
    with (
        running_server(write_site(tmp_path, SITE)) as running,
        httpx.Client(base_url=running.url, timeout=10) as client,
    ):
        assert client.post("/big", content=b"b" * 50_000).status_code == 200
        assert client.post("/big", content=b"b" * 150_000).status_code == 413
        assert client.post("/default", content=b"d" * 1000).status_code == 200
        over = client.post("/default", content=b"d" * 2000)  # the server's 1 KiB
        assert over.status_code == 413 and over.headers["connection"] == "close"
        assert client.post("/small", content=b"12345").status_code == 200
        chunked = client.post("/small", content=iter([b"0123456789", b"x"]))
        assert chunked.status_code == 413


def test_a_bad_route_limit_names_its_key(tmp_path: Path) -> None:
    bad = SITE.replace('max_body_bytes = "100KiB"', 'max_body_bytes = "lots"')
    with pytest.raises(ConfigError) as error:
        load_config(write_site(tmp_path, bad))
    assert "route[0].max_body_bytes" in str(error.value)
