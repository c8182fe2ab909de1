"""Health transitions, driven with explicit times: passive down/retry/up, active fails and
passes thresholds, scheduling of checks, and what 'all down' tells the client."""

from __future__ import annotations

from gateway.proxy.health import Health
from gateway.proxy.spec import HealthSpec


def test_passive_marks_down_after_max_fails_in_a_row() -> None:
    h = Health(2, max_fails=3, fail_timeout=10)
    assert not h.failed(0, 100.0)
    h.succeeded(0)  # a success in between resets the count
    assert not h.failed(0, 100.0)
    assert not h.failed(0, 100.0)
    assert h.failed(0, 101.0)
    assert h.up(101.0) == [1]
    assert h.up(110.9) == [1]
    assert h.up(111.0) == [0, 1]  # period over: tried again


def test_passive_retry_that_fails_goes_straight_back_down() -> None:
    h = Health(1, max_fails=3, fail_timeout=10)
    for _ in range(3):
        h.failed(0, 0.0)
    assert h.up(10.0) == [0]
    assert h.failed(0, 10.0)  # one failure is enough now
    assert h.up(19.0) == []
    assert h.up(20.0) == [0]
    h.succeeded(0)
    assert not h.failed(0, 20.0) and not h.failed(0, 20.0)  # count was reset
    assert h.up(20.0) == [0]


def test_max_fails_zero_never_marks_down() -> None:
    h = Health(1, max_fails=0)
    assert not any(h.failed(0, 0.0) for _ in range(100))
    assert h.up(0.0) == [0]


def test_all_down_retry_after_is_the_first_server_back() -> None:
    h = Health(2, max_fails=1, fail_timeout=30)
    h.failed(0, 0.0)
    h.failed(1, 10.0)
    assert h.up(12.0) == []
    assert h.retry_after(12.0) == 18
    assert h.retry_after(29.5) == 1  # rounds up, never 0


CHECKS = HealthSpec(path="/healthz", interval=5.0, timeout=1.0, fails=2, passes=3)


def test_active_fails_then_passes_thresholds() -> None:
    h = Health(2, checks=CHECKS)
    assert not h.checked(0, False)
    assert h.checked(0, True) is False  # a pass breaks the failing streak
    assert not h.checked(0, False)
    assert h.checked(0, False)  # second failure in a row: down
    assert h.up(0.0) == [1]
    assert h.retry_after(0.0) == 5
    assert not h.checked(0, True)
    assert not h.checked(0, True)
    assert h.checked(0, True)  # third pass in a row: up
    assert h.up(0.0) == [0, 1]


def test_active_pass_clears_passive_down() -> None:
    h = Health(1, max_fails=1, fail_timeout=60, checks=HealthSpec(fails=1, passes=1))
    h.failed(0, 0.0)
    assert h.up(1.0) == []
    h.checked(0, False)
    h.checked(0, True)
    assert h.up(1.0) == [0]


def test_due_schedules_each_server_once_per_interval() -> None:
    h = Health(2, checks=CHECKS)
    assert h.due(100.0) == [0, 1]
    assert h.due(101.0) == []
    assert h.next_check_in(101.0) == 4.0
    assert h.due(105.0) == [0, 1]
    assert Health(2).due(0.0) == [] and Health(2).next_check_in(0.0) is None
