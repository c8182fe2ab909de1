"""Reloads a prefork master refuses are in the metrics: on SIGHUP the master validates the
config once and, when it is broken, tells no worker, so it counts the failure itself
(gateway_reloads_total{outcome="failure"}, gateway_last_reload_success 0); a later good
reload is counted by the workers and is the last outcome."""

from __future__ import annotations

import signal

import httpx
import pytest

from tests.ops.serving import Gateway
from tests.ops.test_signals import scrape_workers, site
from tests.support import wait_for

MORE = 'workers = 2\nmetrics = "/__gateway/metrics"\n\n[dev]\nreload = false'


def reload_samples(url):
    parser = pytest.importorskip("prometheus_client.parser")
    text = httpx.get(url + "/__gateway/metrics").text
    found = {}
    for family in parser.text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "gateway_reloads_total":
                found[sample.labels["outcome"]] = sample.value
            elif sample.name == "gateway_last_reload_success":
                found["last"] = sample.value
    return found


def test_a_reload_the_master_refuses_is_counted_as_a_failure(tmp_path):
    config = site(tmp_path, more=MORE)
    good = config.read_text()
    gateway = Gateway(config)
    try:
        # A good reload first: once both workers have rebuilt, their reloaders run, and
        # the broken edit below can only be seen through the master's SIGHUP.
        wait_for(lambda: scrape_workers(gateway.url) == 2, timeout=15)  # both loops run
        config.write_text(good.replace('"one"', '"uno"'))
        gateway.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: gateway.log.count("reloaded ") >= 2, timeout=15)
        config.write_text(good + "\n[[route]]\npath = 7\n")
        gateway.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload of" in gateway.log)
        found = wait_for(lambda: (f := reload_samples(gateway.url)).get("failure") and f)
        assert found == {"failure": 1, "success": 1, "last": 0}, gateway.log
        config.write_text(good.replace('"one"', '"two"'))
        gateway.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: httpx.get(gateway.url + "/a").text == "two")
        wait_for(lambda: reload_samples(gateway.url) == {"failure": 1, "success": 2, "last": 1})
    finally:
        assert gateway.stop() == 0, gateway.log
