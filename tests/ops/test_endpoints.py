"""Who may read the metrics, what health and readiness answer, and the endpoints that
serve them (paths, methods, content types)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from gateway.metrics import (
    CONTENT_TYPE,
    Allow,
    Endpoints,
    HealthState,
    Metrics,
    allowed,
    parse_networks,
    readiness,
)


@pytest.mark.parametrize(
    ("client", "ok"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),  # an IPv4 client on a dual-stack socket
        ("127.0.0.2", False),  # the default is 127.0.0.1/32, not all of 127/8
        ("10.1.2.3", False),
        ("fe80::1%eth0", False),
        ("", False),
        ("not an address", False),
    ],
)
def test_default_allows_loopback_only(client, ok):
    assert allowed(client) is ok


def test_configured_networks():
    allow = Allow(["10.0.0.0/8", "192.168.1.7", "fd00::/8"])
    assert allow("10.200.0.1")
    assert allow("192.168.1.7")
    assert not allow("192.168.1.8")
    assert allow("fd12::5")
    assert not allow("127.0.0.1")
    assert not Allow([])("127.0.0.1")  # an empty list allows no one


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "10.0.0.1/8",
            "'10.0.0.1/8' is not a CIDR (host bits set: write the network address): write e.g. '10.0.0.0/8' or '::1/128'",
        ),
        ("localhost", "'localhost' is not a CIDR: write e.g. '10.0.0.0/8' or '::1/128'"),
        (8, "8 is not a CIDR: write e.g. '10.0.0.0/8' or '::1/128'"),
    ],
)
def test_bad_networks_say_what_would_be_right(value, message):
    with pytest.raises(ValueError) as info:
        parse_networks([value])
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("state", "status", "reason"),
    [
        (HealthState(), 200, None),
        (HealthState(draining=True), 503, "draining"),
        (HealthState(loaded=False), 503, "config not loaded"),
        (HealthState(upstreams=(("api", "a", False), ("api", "b", True))), 200, None),
        (
            HealthState(upstreams=(("api", "a", False), ("web", "b", False))),
            503,
            "every upstream server is down",
        ),
    ],
)
def test_readiness(state, status, reason):
    got, body = readiness(state)
    assert got == status
    assert (reason or "ready").encode() in body


def scrape_ops(endpoints, method="GET", path="/__gateway/metrics", client="127.0.0.1", **state):
    metrics = Metrics()
    metrics.observe("/a", "GET", 200, 0.001)
    return endpoints.answer(method, path, client, metrics, HealthState(**state))


def test_metrics_are_off_by_default_and_health_is_on():
    ops = Endpoints()
    assert ops.paths == {"/__gateway/health", "/__gateway/ready"}
    assert scrape_ops(ops) is None
    assert scrape_ops(ops, path="/__gateway/health").status == 200
    ready = scrape_ops(ops, path="/__gateway/ready", draining=True)
    assert ready.status == 503
    assert ("cache-control", "no-store") in ready.headers


def test_metrics_answer_allowed_clients_only():
    ops = Endpoints(metrics="/metrics", metrics_allow=["10.0.0.0/8"])
    got = scrape_ops(ops, path="/metrics", client="10.9.9.9")
    assert got.status == 200
    assert ("content-type", CONTENT_TYPE) in got.headers
    assert b'gateway_requests_total{route="/a",method="GET",code="2xx"} 1' in got.body
    assert scrape_ops(ops, path="/metrics", client="127.0.0.1").status == 403
    assert scrape_ops(ops, path="/other") is None


def test_other_methods_get_405_with_allow():
    got = scrape_ops(Endpoints(), method="POST", path="/__gateway/health")
    assert got.status == 405
    assert ("allow", "GET, HEAD") in got.headers


def test_paths_can_be_turned_off_or_moved():
    ops = Endpoints(health=None, ready="/ready")
    assert ops.paths == {"/ready"}
    assert scrape_ops(ops, path="/__gateway/health") is None


def test_from_spec_reads_the_server_keys_with_defaults():
    bare = Endpoints.from_spec(SimpleNamespace())  # a ServerSpec without the keys yet
    assert bare.paths == {"/__gateway/health", "/__gateway/ready"}
    spec = SimpleNamespace(metrics="/m", metrics_allow=("10.0.0.0/8",), health="", ready="/r")
    ops = Endpoints.from_spec(spec)
    assert ops.paths == {"/m", "/r"}
    assert ops.allow("10.1.1.1")
