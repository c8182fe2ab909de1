"""Balance policies: who gets the requests, how evenly, and what happens when servers go
down (candidates shrink) or keys repeat."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from gateway.http.headers import Headers
from gateway.proxy.balance import Balancer, cookie_value

NAMES = ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80"]
ALL = [0, 1, 2, 3]
IDLE = [0, 0, 0, 0]


def test_round_robin_cycles_in_order() -> None:
    b = Balancer("round_robin", NAMES)
    assert [b.pick(ALL, IDLE) for _ in range(8)] == [0, 1, 2, 3, 0, 1, 2, 3]


def test_round_robin_skips_down_servers_without_doubling_one() -> None:
    b = Balancer("round_robin", NAMES)
    picks = [b.pick([0, 2, 3], IDLE) for _ in range(6)]
    assert picks == [0, 2, 3, 0, 2, 3]


def test_no_candidates_is_none_and_one_candidate_is_it() -> None:
    for policy in ("round_robin", "least_conn", "random_two", "ip_hash", "header:x-u", "cookie:s"):
        b = Balancer(policy, NAMES)
        assert b.pick([], IDLE) is None
        assert b.pick([2], IDLE) == 2


def test_least_conn_picks_the_least_busy_and_round_robins_ties() -> None:
    b = Balancer("least_conn", NAMES)
    assert b.pick(ALL, [3, 1, 2, 1]) == 1
    assert b.pick(ALL, [3, 1, 2, 1]) == 3  # the tie moves on
    assert b.pick(ALL, [3, 1, 2, 1]) == 1
    assert Counter(b.pick(ALL, IDLE) for _ in range(400)) == {0: 100, 1: 100, 2: 100, 3: 100}


def test_random_two_prefers_the_less_busy_of_two() -> None:
    b = Balancer("random_two", NAMES, rng=random.Random(7))
    active = [10, 0, 10, 10]
    counts = Counter(b.pick(ALL, active) for _ in range(6000))
    # server 1 wins every pair it is drawn into: half of all draws (3 of the 6 pairs).
    assert 2700 < counts[1] < 3300
    # the busy ones share the rest evenly
    for i in (0, 2, 3):
        assert 800 < counts[i] < 1200


def test_random_two_spreads_evenly_when_idle() -> None:
    b = Balancer("random_two", NAMES, rng=random.Random(1))
    counts = Counter(b.pick(ALL, IDLE) for _ in range(8000))
    assert all(1700 < counts[i] < 2300 for i in ALL)


def test_ip_hash_is_sticky_and_spread() -> None:
    b = Balancer("ip_hash", NAMES)
    ips = [f"192.168.{i // 256}.{i % 256}" for i in range(4000)]
    first = {ip: b.pick(ALL, IDLE, ip) for ip in ips}
    assert all(b.pick(ALL, IDLE, ip) == first[ip] for ip in ips[:200])
    counts = Counter(first.values())
    assert all(800 < counts[i] < 1200 for i in ALL)


def test_ip_hash_moves_only_the_down_servers_clients() -> None:
    b = Balancer("ip_hash", NAMES)
    ips = [f"10.1.{i // 256}.{i % 256}" for i in range(2000)]
    before = {ip: b.pick(ALL, IDLE, ip) for ip in ips}
    after = {ip: b.pick([0, 1, 3], IDLE, ip) for ip in ips}
    moved = [ip for ip in ips if before[ip] != after[ip]]
    assert moved and all(before[ip] == 2 for ip in moved)
    assert all(after[ip] != 2 for ip in ips)


def test_header_policy_hashes_the_value_and_falls_back_to_round_robin() -> None:
    b = Balancer("header:x-user", NAMES)
    alice = b.pick(ALL, IDLE, "", Headers([("X-User", "alice")]))
    assert all(b.pick(ALL, IDLE, "", Headers([("x-user", "alice")])) == alice for _ in range(20))
    users = Counter(b.pick(ALL, IDLE, "", Headers([("x-user", f"u{i}")])) for i in range(4000))
    assert all(800 < users[i] < 1200 for i in ALL)
    assert [b.pick(ALL, IDLE, "", Headers()) for _ in range(4)] == [0, 1, 2, 3]


def test_cookie_policy() -> None:
    b = Balancer("cookie:sid", NAMES)
    h = Headers([("cookie", "theme=dark; sid=abc123"), ("cookie", "x=1")])
    one = b.pick(ALL, IDLE, "", h)
    assert all(b.pick(ALL, IDLE, "", h) == one for _ in range(10))
    sessions = Counter(
        b.pick(ALL, IDLE, "", Headers([("cookie", f"sid=s{i}")])) for i in range(4000)
    )
    assert all(800 < sessions[i] < 1200 for i in ALL)


@pytest.mark.parametrize(
    "headers, expected",
    [
        (["a=1; sid=xyz"], "xyz"),
        (['sid="q"'], "q"),
        (["sidx=1", "sid=2"], "2"),
        (["sid"], None),
        ([], None),
    ],
)
def test_cookie_value(headers: list[str], expected: str | None) -> None:
    assert cookie_value(headers, "sid") == expected
