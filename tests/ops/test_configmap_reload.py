"""A ConfigMap update reaches a running `gateway serve`: the config is edited the way the
kubelet does it (a ..data symlink swap, see configmap.py), and the server, a real
subprocess, answers the new route without a restart."""

from __future__ import annotations

import time

import httpx

from tests.ops.configmap import ConfigMapVolume
from tests.ops.serving import start_serve, stop_serve, wait_for_url

CONFIG = """
[server]
listen = ["127.0.0.1:0"]
access_log = "off"

[dev]
reload = true
live_reload = false

[[route]]
path = "/one"
respond = {{ status = 200, body = "one" }}
{more}
"""
TWO = """
[[route]]
path = "/two"
respond = { status = 200, body = "two" }
"""


def test_a_configmap_symlink_swap_is_served_without_a_restart(tmp_path):
    volume = ConfigMapVolume(tmp_path / "config")
    first = volume.write({"gateway.toml": CONFIG.format(more="")})
    config = volume.path / "gateway.toml"
    proc = start_serve(config)
    try:
        deadline = time.monotonic() + 20
        url = wait_for_url(proc, deadline)
        with httpx.Client(base_url=url, timeout=5) as client:
            assert client.get("/one").text == "one"
            assert client.get("/two").status_code == 404
            second = volume.write({"gateway.toml": CONFIG.format(more=TWO)})
            assert not first.exists() and second.exists()  # the swap happened as kubelet's
            while client.get("/two").status_code != 200:
                assert time.monotonic() < deadline, "the new route never appeared"
                time.sleep(0.05)
            assert client.get("/two").text == "two"
            assert client.get("/one").text == "one"
        assert proc.poll() is None  # reloaded in place, not restarted
    finally:
        stop_serve(proc)
