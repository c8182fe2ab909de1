"""Signals through a real `gateway serve` under load: SIGHUP (sent by `gateway reload`)
rebuilds with zero failed requests and a broken edit keeps the old app; SIGUSR1 reopens
a rotated access log; SIGUSR2 hands the listening sockets to a new gateway and the old
one drains, with zero failed requests; prefork: SIGHUP applies an edited `workers`."""

from __future__ import annotations

import json
import os
import signal

import httpx
import pytest

from gateway.cli import main
from gateway.server.signals import read_pid
from tests.ops.serving import Gateway, Load
from tests.support import wait_for, write_site

CONFIG = """
[server]
listen = ["127.0.0.1:0"]
access_log = "off"
pid_file = "run/gateway.pid"
{more}

[[route]]
path = "/a"
respond = {{ status = 200, body = "{body}" }}
"""


def site(tmp_path, body="one", more=""):
    return write_site(tmp_path, CONFIG.format(body=body, more=more))


def test_gateway_reload_sends_sighup_and_no_request_fails(tmp_path, capsys):
    config = site(tmp_path)
    gateway = Gateway(config)
    try:
        load = Load(gateway.url)
        wait_for(lambda: load.bodies["one"] > 20)
        config.write_text(config.read_text().replace('"one"', '"two"'))
        assert main(["reload", "--config", str(config)]) == 0
        assert f"sent SIGHUP to pid {gateway.proc.pid}" in capsys.readouterr().out
        wait_for(lambda: load.bodies["two"] > 20)
        # A broken edit: logged, and the old app keeps answering.
        config.write_text(config.read_text() + "\n[[route]]\npath = 7\n")
        before = load.bodies["two"]
        gateway.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "still serving the previous app" in gateway.log)
        wait_for(lambda: load.bodies["two"] > before + 20)
        load.stop()
        assert load.failures == []
        assert set(load.bodies) == {"one", "two"}
    finally:
        assert gateway.stop() == 0
    assert not (tmp_path / "run" / "gateway.pid").exists()  # removed at exit


def test_gateway_reload_without_a_pid_file_says_what_to_add(tmp_path, capsys):
    config = write_site(
        tmp_path, CONFIG.replace('pid_file = "run/gateway.pid"', "").format(body="x", more="")
    )
    assert main(["reload", "--config", str(config)]) == 1
    assert "sets no [server] pid_file" in capsys.readouterr().err


def test_sigusr1_reopens_rotated_access_and_error_logs(tmp_path):
    more = (
        'access_log = { format = "json", path = "logs/access.log" }\n'
        'error_log = { path = "logs/error.log" }'
    )
    config = site(tmp_path, more=more)
    config.write_text(config.read_text().replace('access_log = "off"\n', "", 1))
    log, errors = tmp_path / "logs" / "access.log", tmp_path / "logs" / "error.log"
    gateway = Gateway(config)
    try:
        assert httpx.get(gateway.url + "/a").status_code == 200
        wait_for(lambda: log.exists() and log.read_text().count("\n") == 1)
        gateway.proc.send_signal(signal.SIGHUP)  # "reloaded ... on request" goes to error.log
        wait_for(lambda: "on request" in errors.read_text())
        rotated = log.rename(log.with_name("access.log.1"))  # what logrotate does
        errors_rotated = errors.rename(errors.with_name("error.log.1"))
        httpx.get(gateway.url + "/a")
        wait_for(lambda: rotated.read_text().count("\n") == 2)  # still the open file
        gateway.proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: log.exists() and errors.exists())
        httpx.get(gateway.url + "/nope")
        wait_for(lambda: log.read_text().count("\n") == 1)
        line = json.loads(log.read_text())
        assert line["status"] == 404 and line["request"].startswith("GET /nope ")
        assert line["id"]
        assert rotated.read_text().count("\n") == 2
        gateway.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "on request" in errors.read_text())
        assert errors_rotated.read_text().count("on request") == 1
        assert "on request" not in gateway.log  # in the file, not on stderr
    finally:
        assert gateway.stop() == 0


def test_sigusr2_upgrades_in_place_with_zero_failed_requests(tmp_path):
    config = site(tmp_path)
    pid_file = tmp_path / "run" / "gateway.pid"
    gateway = Gateway(config)
    new_pid = None
    try:
        load = Load(gateway.url)
        wait_for(lambda: load.bodies["one"] > 20)
        config.write_text(config.read_text().replace('"one"', '"two"'))  # the "new code"
        gateway.proc.send_signal(signal.SIGUSR2)
        gateway.proc.wait(20)  # the old one drained and exited once the new one served
        assert gateway.proc.returncode == 0
        new_pid = wait_for(lambda: (p := read_pid(pid_file)) != gateway.proc.pid and p)
        wait_for(lambda: load.bodies["two"] > 20)
        load.stop()
        assert load.failures == [], gateway.log
        assert "upgrade: started pid" in gateway.log
    finally:
        gateway.stop()
        if new_pid is not None:
            os.kill(new_pid, signal.SIGTERM)
            wait_for(lambda: not pid_file.exists(), timeout=15)


def scrape_workers(url):
    parser = pytest.importorskip("prometheus_client.parser")
    try:
        text = httpx.get(url + "/__gateway/metrics").text
    except httpx.HTTPError:
        return None
    for family in parser.text_string_to_metric_families(text):
        if family.name == "gateway_workers":
            return family.samples[0].value
    return None


def test_prefork_sighup_applies_an_edited_workers_count(tmp_path):
    more = 'workers = 2\nmetrics = "/__gateway/metrics"'
    config = site(tmp_path, more=more)
    gateway = Gateway(config)

    def workers_become(n):
        try:
            wait_for(lambda: scrape_workers(gateway.url) == n, timeout=15)
        except AssertionError:
            raise AssertionError(f"never {n} workers:\n{gateway.log}") from None

    try:
        workers_become(2)
        config.write_text(config.read_text().replace("workers = 2", "workers = 3"))
        assert main(["reload", "--config", str(config)]) == 0
        workers_become(3)
        config.write_text(config.read_text().replace("workers = 3", "workers = 1"))
        gateway.proc.send_signal(signal.SIGHUP)
        workers_become(1)
        assert "workers: 3 -> 1" in gateway.log
        assert gateway.proc.poll() is None
    finally:
        assert gateway.stop() == 0


def test_sigusr2_with_a_broken_config_keeps_the_old_gateway(tmp_path):
    config = site(tmp_path)
    gateway = Gateway(config)
    try:
        config.write_text(config.read_text() + "\n[[route]]\npath = 7\n")
        gateway.proc.send_signal(signal.SIGUSR2)
        wait_for(lambda: "route[1].path" in gateway.log)  # the new one says why and exits
        assert httpx.get(gateway.url + "/a").text == "one"
        assert read_pid(tmp_path / "run" / "gateway.pid") == gateway.proc.pid
        assert gateway.proc.poll() is None
    finally:
        code = gateway.stop()
        assert code == 0, gateway.log
