"""Metrics: what observe() counts, rendered and parsed back with prometheus-client's own
parser; label escaping; method and status normalisation; reload and upstream series."""

from __future__ import annotations

import pytest

from gateway.metrics import BUCKETS, UNMATCHED, Metrics, merge, render

parser = pytest.importorskip("prometheus_client.parser", reason="prometheus-client parses")


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """{(sample name, labels): value} for every sample in an exposition."""
    samples = {}
    for family in parser.text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def value(samples, name, **labels):
    return samples[(name, frozenset(labels.items()))]


def scrape(metrics: Metrics) -> dict:
    return parse(render(merge([metrics.snapshot()])))


def test_requests_are_counted_by_route_method_and_status_class():
    m = Metrics()
    for _ in range(3):
        m.observe("/api/users/{id:int}", "GET", 200, 0.002)
    m.observe("/api/users/{id:int}", "GET", 404, 0.002)
    m.observe("/api/users/{id:int}", "DELETE", 204, 0.002)
    m.observe(UNMATCHED, "GET", 404, 0.0001)
    s = scrape(m)
    route = "/api/users/{id:int}"
    assert value(s, "gateway_requests_total", route=route, method="GET", code="2xx") == 3
    assert value(s, "gateway_requests_total", route=route, method="GET", code="4xx") == 1
    assert value(s, "gateway_requests_total", route=route, method="DELETE", code="2xx") == 1
    assert value(s, "gateway_requests_total", route=UNMATCHED, method="GET", code="4xx") == 1


def test_a_client_chosen_method_cannot_add_series():
    m = Metrics()
    m.observe("/", "BREW", 405, 0.001)
    m.observe("/", "X" * 50, 405, 0.001)
    s = scrape(m)
    assert value(s, "gateway_requests_total", route="/", method="OTHER", code="4xx") == 2
    assert not any(labels and ("method", "BREW") in labels for _, labels in s)


def test_latency_histogram_is_cumulative_with_sum_and_count():
    m = Metrics()
    for seconds in (0.0005, 0.003, 0.003, 0.2, 42.0):
        m.observe("/a", "GET", 200, seconds)
    s = scrape(m)
    name = "gateway_request_duration_seconds"
    assert value(s, name + "_bucket", route="/a", le="0.001") == 1
    assert value(s, name + "_bucket", route="/a", le="0.0025") == 1
    assert value(s, name + "_bucket", route="/a", le="0.005") == 3
    assert value(s, name + "_bucket", route="/a", le="0.25") == 4
    assert value(s, name + "_bucket", route="/a", le="10.0") == 4
    assert value(s, name + "_bucket", route="/a", le="+Inf") == 5
    assert value(s, name + "_count", route="/a") == 5
    assert value(s, name + "_sum", route="/a") == pytest.approx(42.2065)
    assert len([k for k in s if k[0] == name + "_bucket"]) == len(BUCKETS) + 1


def test_a_latency_on_a_bucket_bound_falls_in_that_bucket():
    m = Metrics()
    m.observe("/a", "GET", 200, 0.005)  # le="0.005" means <= 0.005
    s = scrape(m)
    assert value(s, "gateway_request_duration_seconds_bucket", route="/a", le="0.0025") == 0
    assert value(s, "gateway_request_duration_seconds_bucket", route="/a", le="0.005") == 1


def test_bytes_and_odd_statuses():
    m = Metrics()
    m.observe("/up", "POST", 201, 0.01, bytes_in=100, bytes_out=7)
    m.observe("/up", "POST", 999, 0.01, bytes_in=1, bytes_out=0)  # counted, as 5xx
    s = scrape(m)
    assert value(s, "gateway_received_bytes_total") == 101
    assert value(s, "gateway_sent_bytes_total") == 7
    assert value(s, "gateway_requests_total", route="/up", method="POST", code="5xx") == 1


def test_route_labels_are_escaped():
    m = Metrics()
    route = 'odd "route" \\ with\nnewline'
    m.observe(route, "GET", 200, 0.001)
    s = scrape(m)
    assert value(s, "gateway_requests_total", route=route, method="GET", code="2xx") == 1


def test_gauges_come_from_the_sampler_at_scrape_time():
    m = Metrics()
    state = {"open_connections": 3, "handler_queue": 0, "handler_busy": 2, "handler_threads": 16}
    m.sample = lambda: dict(state)
    assert value(scrape(m), "gateway_open_connections") == 3
    state["open_connections"] = 5
    s = scrape(m)
    assert value(s, "gateway_open_connections") == 5
    assert value(s, "gateway_handler_busy_threads") == 2
    assert value(s, "gateway_handler_queue_depth") == 0
    assert value(s, "gateway_handler_threads") == 16
    assert value(s, "gateway_workers") == 1


def test_reloads_and_last_outcome():
    m = Metrics()
    s = scrape(m)
    assert value(s, "gateway_reloads_total", outcome="success") == 0
    assert ("gateway_last_reload_success", frozenset()) not in s
    m.reloaded(True, 1000.0)
    m.reloaded(False, 1005.5)
    s = scrape(m)
    assert value(s, "gateway_reloads_total", outcome="success") == 1
    assert value(s, "gateway_reloads_total", outcome="failure") == 1
    assert value(s, "gateway_last_reload_success") == 0
    assert value(s, "gateway_last_reload_timestamp_seconds") == 1005.5


def test_upstream_health():
    m = Metrics()
    m.set_upstream("api", "10.0.0.1:80", True)
    m.set_upstream("api", "10.0.0.2:80", False)
    s = scrape(m)
    assert value(s, "gateway_upstream_up", upstream="api", server="10.0.0.1:80") == 1
    assert value(s, "gateway_upstream_up", upstream="api", server="10.0.0.2:80") == 0
    m.forget_upstreams()
    assert not any(k[0] == "gateway_upstream_up" for k in scrape(m))


def test_merge_sums_counters_and_live_gauges_only():
    a, b, gone = Metrics(), Metrics(), Metrics()
    for m, n in ((a, 2), (b, 3), (gone, 4)):
        m.sample = lambda n=n: {"open_connections": n}
        for _ in range(n):
            m.observe("/x", "GET", 200, 0.001, bytes_out=10)
    gone.reloaded(True, 50.0)
    a.reloaded(True, 60.0)
    a.set_upstream("api", "s1", False)
    b.set_upstream("api", "s1", True)
    merged = merge([a.snapshot(), b.snapshot()], [gone.snapshot()])
    s = parse(render(merged))
    assert value(s, "gateway_requests_total", route="/x", method="GET", code="2xx") == 9
    assert value(s, "gateway_request_duration_seconds_count", route="/x") == 9
    assert value(s, "gateway_sent_bytes_total") == 90
    assert value(s, "gateway_open_connections") == 5  # the exited worker's don't count
    assert value(s, "gateway_workers") == 2
    assert value(s, "gateway_last_reload_timestamp_seconds") == 60.0
    assert value(s, "gateway_upstream_up", upstream="api", server="s1") == 1


def test_counts_between_snapshots_are_added_once_and_clients_add_no_cells():
    """observe() counts into a cell per (route, method, status), folded into the routes at
    each snapshot: nothing is counted twice, a latency on a bucket's bound is in that
    bucket, and odd methods and statuses share one cell each."""
    m = Metrics()
    m.observe("/a", "GET", 200, BUCKETS[0], 5, 7)
    first = scrape(m)
    m.observe("/a", "GET", 200, 0.0)
    for i in range(20):
        m.observe("/a", f"M{i}", 200 + i, 0.0)
    m.observe("/a", "GET", 1234, 0.0)
    s = scrape(m)
    name = "gateway_request_duration_seconds"
    assert value(first, name + "_bucket", route="/a", le=str(BUCKETS[0])) == 1
    assert value(s, name + "_bucket", route="/a", le=str(BUCKETS[0])) == 23
    assert value(s, "gateway_requests_total", route="/a", method="GET", code="2xx") == 2
    assert value(s, "gateway_requests_total", route="/a", method="OTHER", code="2xx") == 20
    assert value(s, "gateway_requests_total", route="/a", method="GET", code="5xx") == 1
    assert {method for _route, method, _status in m._cells} == {"GET", "OTHER"}
    assert (m.bytes_in, m.bytes_out) == (5, 7)
