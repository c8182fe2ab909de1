"""End to end through `gateway serve --workers 2`: the metrics scraped over HTTP and parsed
as Prometheus does match the requests sent, whichever worker answers; health and ready
answer."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from gateway.config.load import load_config
from gateway.errors import ConfigError
from gateway.reload import Reloader
from tests.ops.serving import start_serve, stop_serve, wait_for_url
from tests.support import running_server, wait_for, write_site

parser = pytest.importorskip("prometheus_client.parser", reason="prometheus-client parses")

CONFIG = """
[server]
listen = ["127.0.0.1:0"]
workers = 2
access_log = "off"
metrics = "/__gateway/metrics"

[[route]]
path = "/a"
respond = { status = 200, body = "a" }
"""


def requests_total(text, route, code):
    for family in parser.text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "gateway_requests_total" and s.labels == {
                "route": route,
                "method": "GET",
                "code": code,
            }:
                return s.value
    return 0


def answers(url):
    try:
        return httpx.get(url).status_code == 200
    except httpx.TransportError:
        return False


def workers(text):
    for family in parser.text_string_to_metric_families(text):
        if family.name == "gateway_workers":
            return family.samples[0].value
    return None


def test_metrics_across_two_workers_match_the_requests_sent(tmp_path):
    config = write_site(tmp_path, CONFIG)
    check = subprocess.run(
        [sys.executable, "-m", "gateway", "check", "--config", str(config)],
        capture_output=True,
        text=True,
    )
    if check.returncode != 0 and "metrics" in check.stderr:
        pytest.skip("[server] metrics is not wired into the config loader yet")
    proc = start_serve(config)
    try:
        deadline = time.monotonic() + 20
        url = wait_for_url(proc, deadline)
        wait_for(lambda: answers(url + "/a"), timeout=10)  # the workers listen a bit later
        for _ in range(39):  # a new connection each: the kernel spreads them over workers
            assert httpx.get(url + "/a").status_code == 200
        for _ in range(5):
            assert httpx.get(url + "/nope").status_code == 404
        assert httpx.get(url + "/__gateway/health").status_code == 200
        assert httpx.get(url + "/__gateway/ready").status_code == 200
        while True:  # siblings publish once a second: poll until every count is in
            text = httpx.get(url + "/__gateway/metrics").text
            got = (requests_total(text, "/a", "2xx"), requests_total(text, "(unmatched)", "4xx"))
            if got == (40, 5) and workers(text) == 2:
                break
            assert time.monotonic() < deadline, f"counts {got}, workers {workers(text)}"
            time.sleep(0.1)
    finally:
        stop_serve(proc)
    assert proc.returncode == 0


def test_reloads_are_counted(tmp_path):
    """A good edit, then a broken one, through a server with the reloader, as scraped."""
    config = write_site(tmp_path, CONFIG.replace("workers = 2", "workers = 1"))
    text = config.read_text()
    try:
        load_config(config)
    except ConfigError:
        pytest.skip("[server] metrics is not wired into the config loader yet")
    with running_server(config) as running:
        reloader = Reloader(config, running.server)
        reloader.start()
        try:
            config.write_text(text.replace('body = "a"', 'body = "b"'))
            wait_for(lambda: httpx.get(running.url + "/a").text == "b")
            config.write_text(text + "\n[[route]]\npath = 7\n")
            wait_for(lambda: reloader.failures == 1)

            def scraped() -> bool:
                body = httpx.get(running.url + "/__gateway/metrics").text
                return all(
                    line in body.splitlines()
                    for line in (
                        'gateway_reloads_total{outcome="success"} 1',
                        'gateway_reloads_total{outcome="failure"} 1',
                        "gateway_last_reload_success 0",
                    )
                )

            wait_for(scraped)
        finally:
            reloader.stop()
