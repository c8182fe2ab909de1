"""Prometheus text exposition (format 0.0.4) of merged snapshots. `merge` adds worker
snapshots up: counters and histograms are summed, gauges are summed over live workers
only, reload and upstream state is taken as every worker sees the same events."""

from __future__ import annotations

from typing import Any

from gateway.metrics.counters import BUCKETS

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# gauge name in a snapshot -> (metric name, help)
GAUGES = {
    "open_connections": ("gateway_open_connections", "Client connections open now."),
    "handler_queue": (
        "gateway_handler_queue_depth",
        "Handler calls waiting for a pool thread.",
    ),
    "handler_busy": ("gateway_handler_busy_threads", "Pool threads running a handler now."),
    "handler_threads": ("gateway_handler_threads", "Pool threads, busy or not."),
}


def merge(
    live: list[dict[str, Any]], retired: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """One snapshot (same shape) from live workers' and retired (exited) workers' ones:
    counters of both, gauges and upstream state of the live ones; `workers` counts them."""
    everyone = [*live, *(retired or [])]
    routes: dict[str, dict[str, Any]] = {}
    for snap in everyone:
        for label, stats in snap["routes"].items():
            into = routes.setdefault(
                label, {"requests": {}, "buckets": [0] * (len(BUCKETS) + 1), "seconds": 0.0}
            )
            for method, cls, n in stats["requests"]:
                into["requests"][(method, cls)] = into["requests"].get((method, cls), 0) + n
            into["buckets"] = [
                a + b for a, b in zip(into["buckets"], stats["buckets"], strict=True)
            ]
            into["seconds"] += stats["seconds"]
    for stats in routes.values():
        stats["requests"] = [[m, c, n] for (m, c), n in stats["requests"].items()]
    gauges: dict[str, float] = {}
    upstreams: dict[tuple[str, str], bool] = {}
    for snap in live:
        for name, value in snap["gauges"].items():
            gauges[name] = gauges.get(name, 0) + value
        for upstream, server, up in snap["upstreams"]:  # up when some worker reaches it
            upstreams[(upstream, server)] = upstreams.get((upstream, server), False) or up
    stamps = [s["last_reload"] for s in everyone if s.get("last_reload")]
    return {
        "routes": routes,
        "bytes_in": sum(s["bytes_in"] for s in everyone),
        "bytes_out": sum(s["bytes_out"] for s in everyone),
        "gauges": gauges,
        # Every worker rebuilds on the same edits: the one that saw the most speaks for all.
        "reloads": max((s["reloads"] for s in everyone), key=lambda r: sum(r.values()), default={}),
        "last_reload": max(stamps, key=lambda s: s[0]) if stamps else None,
        "upstreams": [[u, s, up] for (u, s), up in upstreams.items()],
        "workers": len(live),
    }


def render(merged: dict[str, Any]) -> str:
    """The exposition text for a merged snapshot."""
    lines: list[str] = []
    _requests(lines, merged["routes"])
    _latency(lines, merged["routes"])
    _family(lines, "gateway_received_bytes_total", "counter", "Request body bytes received.")
    lines.append(f"gateway_received_bytes_total {merged['bytes_in']}")
    _family(lines, "gateway_sent_bytes_total", "counter", "Response body bytes sent.")
    lines.append(f"gateway_sent_bytes_total {merged['bytes_out']}")
    for key, (name, help_text) in GAUGES.items():
        if key in merged["gauges"]:
            _family(lines, name, "gauge", help_text)
            lines.append(f"{name} {_number(merged['gauges'][key])}")
    _family(lines, "gateway_workers", "gauge", "Processes serving (1 without prefork).")
    lines.append(f"gateway_workers {merged.get('workers', 1)}")
    _reloads(lines, merged)
    if merged["upstreams"]:
        _family(lines, "gateway_upstream_up", "gauge", "1 when the upstream server is healthy.")
        for upstream, server, up in sorted(merged["upstreams"]):
            labels = _labels(upstream=upstream, server=server)
            lines.append(f"gateway_upstream_up{labels} {int(up)}")
    return "\n".join(lines) + "\n"


def _requests(lines: list[str], routes: dict[str, Any]) -> None:
    _family(lines, "gateway_requests_total", "counter", "Responses by route, method, class.")
    for label in sorted(routes):
        for method, cls, n in sorted(routes[label]["requests"]):
            lines.append(
                f"gateway_requests_total{_labels(route=label, method=method, code=cls)} {n}"
            )


def _latency(lines: list[str], routes: dict[str, Any]) -> None:
    name = "gateway_request_duration_seconds"
    _family(lines, name, "histogram", "From a request's first byte to its response queued.")
    for label in sorted(routes):
        stats = routes[label]
        total = 0
        for bound, n in zip((*BUCKETS, None), stats["buckets"], strict=True):
            total += n
            le = "+Inf" if bound is None else repr(bound)
            lines.append(f"{name}_bucket{_labels(route=label, le=le)} {total}")
        lines.append(f"{name}_sum{_labels(route=label)} {_number(stats['seconds'])}")
        lines.append(f"{name}_count{_labels(route=label)} {total}")


def _reloads(lines: list[str], merged: dict[str, Any]) -> None:
    _family(lines, "gateway_reloads_total", "counter", "Config rebuilds by outcome.")
    reloads = merged["reloads"]
    for outcome in ("success", "failure"):
        lines.append(f'gateway_reloads_total{{outcome="{outcome}"}} {reloads.get(outcome, 0)}')
    last = merged["last_reload"]
    if last is not None:
        when, ok = last
        _family(lines, "gateway_last_reload_success", "gauge", "1 when the last reload built.")
        lines.append(f"gateway_last_reload_success {int(ok)}")
        _family(
            lines, "gateway_last_reload_timestamp_seconds", "gauge", "When the last reload ran."
        )
        lines.append(f"gateway_last_reload_timestamp_seconds {_number(when)}")


def _family(lines: list[str], name: str, kind: str, help_text: str) -> None:
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} {kind}")


def _labels(**labels: str) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)
