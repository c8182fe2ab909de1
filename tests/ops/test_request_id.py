"""Request ids: an incoming X-Request-ID that looks like an id is kept (in the access log)
and echoed; a malformed one is ignored (a fresh id, nothing echoed); request_id_header
names another header or turns it off; a bad value for the key is a config error."""

from __future__ import annotations

import io
import json

import httpx
import pytest

from gateway.config.load import load_config
from gateway.errors import ConfigError
from tests.support import running_server, wait_for, write_site

CONFIG = """
[server]
listen = ["127.0.0.1:0"]
access_log = "json"
{more}

[[route]]
path = "/a"
respond = {{ status = 200, body = "a" }}
"""


def serve(tmp_path, more=""):
    return running_server(write_site(tmp_path, CONFIG.format(more=more)))


def logged(running, stream):
    running.server.access_log._stream = stream  # the test reads the lines it writes


def test_a_valid_incoming_id_is_kept_and_echoed(tmp_path):
    with serve(tmp_path) as running:
        stream = io.StringIO()
        logged(running, stream)
        rid = "3f2a9c1e-7b4d-4e2a-9f1b-0c5d6e7f8a9b"
        response = httpx.get(running.url + "/a", headers={"x-request-id": rid})
        assert response.headers["x-request-id"] == rid
        wait_for(lambda: rid in stream.getvalue())
        assert json.loads(stream.getvalue().splitlines()[-1])["id"] == rid


@pytest.mark.parametrize("bad", ["a b", 'x"y', "é", "x" * 201])
def test_a_malformed_id_is_ignored(tmp_path, bad):
    with serve(tmp_path) as running:
        stream = io.StringIO()
        logged(running, stream)
        response = httpx.get(running.url + "/a", headers={"x-request-id": bad.encode()})
        assert "x-request-id" not in response.headers
        wait_for(lambda: stream.getvalue())
        assert json.loads(stream.getvalue().splitlines()[-1])["id"] not in ("", bad)


def test_no_id_sent_means_no_id_echoed(tmp_path):
    with serve(tmp_path) as running:
        assert "x-request-id" not in httpx.get(running.url + "/a").headers


def test_another_header_or_off(tmp_path):
    with serve(tmp_path / "one", 'request_id_header = "X-Trace"') as running:
        response = httpx.get(running.url + "/a", headers={"x-trace": "t-1", "x-request-id": "r"})
        assert response.headers["x-trace"] == "t-1" and "x-request-id" not in response.headers
    with serve(tmp_path / "two", "request_id_header = false") as running:
        response = httpx.get(running.url + "/a", headers={"x-request-id": "r-1"})
        assert "x-request-id" not in response.headers


def test_bad_keys_are_config_errors(tmp_path):
    for more, words in (
        ('request_id_header = "x id"', "request_id_header"),
        ('error_log = "x.log"', "error_log = { path"),
        ('access_log = { format = "json", file = "x" }', "unknown key 'file'"),
        ('metrics = "metrics"', "is not a path"),
        ('metrics_allow = ["10.0.0.1/8"]', "host bits set"),
    ):
        with pytest.raises(ConfigError) as info:
            bare = CONFIG.replace('access_log = "json"\n', "")
            load_config(write_site(tmp_path, bare.format(more=more)))
        assert words in str(info.value), more
