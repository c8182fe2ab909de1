"""Operations: Prometheus metrics (per-process counters, prefork aggregation, exposition),
the metrics/health/readiness endpoints and who may read them. See docs/operations.md."""

from gateway.metrics.access import DEFAULT_ALLOW, Allow, allowed, parse_networks
from gateway.metrics.counters import BUCKETS, UNMATCHED, Metrics
from gateway.metrics.endpoints import HEALTH, READY, Endpoints
from gateway.metrics.health import HealthState, liveness, readiness
from gateway.metrics.render import CONTENT_TYPE, merge, render
from gateway.metrics.runtime import Ops
from gateway.metrics.shared import SharedDir

__all__ = [
    "BUCKETS",
    "CONTENT_TYPE",
    "DEFAULT_ALLOW",
    "HEALTH",
    "READY",
    "UNMATCHED",
    "Allow",
    "Endpoints",
    "HealthState",
    "Metrics",
    "Ops",
    "SharedDir",
    "allowed",
    "liveness",
    "merge",
    "parse_networks",
    "readiness",
    "render",
]
