"""[upstream.NAME], a route's proxy key and trusted_proxies: the specs read from good config,
and one case per mistake with its exact `file:line: key: message`."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from gateway.proxy.spec import HealthSpec, KeepaliveSpec, ServerAddress
from tests.proxy.support import read

FULL = """
[server]
trusted_proxies = ["10.0.0.0/8", "::1"]

[upstream.api]
servers = ["127.0.0.1:9001", "[::1]:9003", "unix:/run/app.sock", "backend.local:80"]
balance = "header:X-User"
health = { path = "/healthz", interval = "5s", timeout = "1s", fails = 2, passes = 1 }
keepalive = { max_idle = 8, idle_timeout = "30s", max_requests = 100 }
connect_timeout = "2s"
read_timeout = "1m"
max_fails = 5
fail_timeout = "20s"

[[route]]
path = "/api/{rest:path}"
proxy = { upstream = "api", strip_prefix = "/api", timeout = "30s", retries = 2, host = "{upstream}", headers = { x-a = "1" }, remove_headers = ["Cookie"], response_headers = { x-b = "2" }, remove_response_headers = ["Server"], upgrades = [], splice = false }

[[route]]
path = "/dev/{rest:path}"
proxy = "http://127.0.0.1:5173"

[[route]]
path = "/plain"
proxy = "http://localhost"
"""


def test_full_config_reads_into_specs() -> None:
    got = read(FULL)
    assert got.issues == []
    api = got.upstreams["api"]
    assert api.servers == (
        ServerAddress("127.0.0.1", 9001),
        ServerAddress("::1", 9003),
        ServerAddress(path="/run/app.sock"),
        ServerAddress("backend.local", 80),
    )
    assert [str(s) for s in api.servers] == [
        "127.0.0.1:9001",
        "[::1]:9003",
        "unix:/run/app.sock",
        "backend.local:80",
    ]
    assert api.balance == "header:x-user"
    assert api.health == HealthSpec("/healthz", 5.0, 1.0, 2, 1)
    assert api.keepalive == KeepaliveSpec(8, 30.0, 100)
    assert (api.connect_timeout, api.read_timeout, api.max_fails, api.fail_timeout) == (
        2,
        60,
        5,
        20,
    )
    first, dev, plain = got.proxies
    assert first is not None and first.upstream == "api" and first.strip_prefix == "/api"
    assert (first.timeout, first.retries, first.host) == (30.0, 2, "{upstream}")
    assert first.headers == (("x-a", "1"),) and first.remove_headers == ("cookie",)
    assert first.response_headers == (("x-b", "2"),)
    assert first.remove_response_headers == ("server",)
    assert first.upgrades == () and first.splice is False
    assert first.upstream_spec(got.upstreams) is api
    assert dev is not None and dev.url == ServerAddress("127.0.0.1", 5173)
    assert dev.upstream_spec(got.upstreams).servers == (ServerAddress("127.0.0.1", 5173),)
    assert plain is not None and plain.url == ServerAddress("localhost", 80)
    assert got.trusted == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1"))


def test_defaults() -> None:
    got = read(
        '[upstream.a]\nservers = ["127.0.0.1:1"]\n[[route]]\npath = "/"\nproxy = { upstream = "a" }\n'
    )
    spec = got.upstreams["a"]
    assert (spec.balance, spec.health, spec.max_fails, spec.fail_timeout) == (
        "round_robin",
        None,
        3,
        10.0,
    )
    assert spec.keepalive == KeepaliveSpec(32, 60.0, 1000)
    proxy = got.proxies[0]
    assert proxy is not None
    assert (proxy.retries, proxy.timeout, proxy.host, proxy.upgrades, proxy.splice) == (
        1,
        None,
        None,
        ("websocket",),
        True,
    )


UP = '[upstream.api]\nservers = ["127.0.0.1:9001"]\n'
CASES = {
    "unknown upstream key": (
        '[upstream.api]\nservers = ["127.0.0.1:1"]\nbalanse = "random_two"\n',
        ["gateway.toml:3: upstream.api.balanse: unknown key 'balanse' (did you mean 'balance'?)"],
    ),
    "servers missing": (
        "[upstream.api]\nbalance = 'least_conn'\n",
        ["gateway.toml:1: upstream.api: missing required key 'servers'"],
    ),
    "servers empty": (
        "[upstream.api]\nservers = []\n",
        [
            "gateway.toml:2: upstream.api.servers: needs at least one server: write e.g. '127.0.0.1:9001', '[::1]:9001' or 'unix:/run/app.sock'"
        ],
    ),
    "bad addresses, every one": (
        "[upstream.api]\nservers = ['127.0.0.1', 'h:99999', '[nope]:80', 'unix:run.sock', 'ftp://h:1', 'a b:1']\n",
        [
            "gateway.toml:2: upstream.api.servers[0]: '127.0.0.1' is not host:port: write e.g. '127.0.0.1:9001', '[::1]:9001' or 'unix:/run/app.sock'",
            "gateway.toml:2: upstream.api.servers[1]: 'h:99999' has port 99999: ports go from 1 to 65535",
            "gateway.toml:2: upstream.api.servers[2]: '[nope]:80' is not host:port: write e.g. '127.0.0.1:9001', '[::1]:9001' or 'unix:/run/app.sock'",
            "gateway.toml:2: upstream.api.servers[3]: 'unix:run.sock' needs an absolute socket path: write e.g. 'unix:/run/app.sock'",
            "gateway.toml:2: upstream.api.servers[4]: 'ftp://h:1' is a URL; servers are addresses: write e.g. '127.0.0.1:9001', '[::1]:9001' or 'unix:/run/app.sock'",
            "gateway.toml:2: upstream.api.servers[5]: 'a b:1' is not host:port: write e.g. '127.0.0.1:9001', '[::1]:9001' or 'unix:/run/app.sock'",
        ],
    ),
    "server twice": (
        "[upstream.api]\nservers = ['h:1', 'h:1']\n",
        ["gateway.toml:2: upstream.api.servers[1]: 'h:1' is listed twice"],
    ),
    "balance": (
        UP + "balance = 'round_robbin'\n",
        [
            "gateway.toml:3: upstream.api.balance: 'round_robbin' is not a balance policy (did you mean 'round_robin'?): use one of 'round_robin', 'least_conn', 'random_two', 'ip_hash', 'header:NAME', 'cookie:NAME'"
        ],
    ),
    "balance header without a name": (
        UP + "balance = 'header:'\n",
        [
            "gateway.toml:3: upstream.api.balance: 'header:' needs a header name after ':': write e.g. 'header:X-User'"
        ],
    ),
    "health keys and values": (
        UP + "health = { path = 'healthz', interval = '0s', fails = 0, every = 1 }\n",
        [
            "gateway.toml:3: upstream.api.health.every: unknown key 'every': valid keys are path, interval, timeout, fails, passes",
            "gateway.toml:3: upstream.api.health.path: 'healthz' is not a path: write e.g. '/healthz'",
            "gateway.toml:3: upstream.api.health.interval: must be more than 0 seconds, got '0s'",
            "gateway.toml:3: upstream.api.health.fails: must be at least 1, got 0",
        ],
    ),
    "health timeout over interval": (
        UP + "health = { interval = '1s', timeout = '2s' }\n",
        ["gateway.toml:3: upstream.api.health.timeout: 2s is longer than the interval (1s)"],
    ),
    "keepalive": (
        UP + "keepalive = { max_idle = -1, max_requests = 0 }\n",
        [
            "gateway.toml:3: upstream.api.keepalive.max_idle: must be at least 0, got -1",
            "gateway.toml:3: upstream.api.keepalive.max_requests: must be at least 1, got 0",
        ],
    ),
    "upstream not a table": (
        "upstream = { servers = ['h:1'] }\n",
        [
            "gateway.toml:1: upstream.servers: an upstream is a named table: put 'servers' under [upstream.NAME]"
        ],
    ),
    "unknown upstream name": (
        UP + "[[route]]\npath = '/x'\nproxy = { upstream = 'apu' }\n",
        [
            "gateway.toml:5: route[0].proxy.upstream: no upstream named 'apu' (did you mean 'api'?); define it as [upstream.apu]"
        ],
    ),
    "upstream given a URL": (
        "[[route]]\npath = '/x'\nproxy = { upstream = 'http://h:1' }\n",
        [
            "gateway.toml:3: route[0].proxy.upstream: 'http://h:1' is a URL: write it as url = 'http://h:1'"
        ],
    ),
    "neither upstream nor url": (
        "[[route]]\npath = '/x'\nproxy = { retries = 1 }\n",
        ["gateway.toml:3: route[0].proxy: sets neither of 'upstream' and 'url': set one"],
    ),
    "both upstream and url": (
        UP + "[[route]]\npath = '/x'\nproxy = { upstream = 'api', url = 'http://h:1' }\n",
        ["gateway.toml:5: route[0].proxy: sets both of 'upstream' and 'url': set one"],
    ),
    "unknown proxy key": (
        UP + "[[route]]\npath = '/x'\nproxy = { upstream = 'api', strip_prefx = '/x' }\n",
        [
            "gateway.toml:5: route[0].proxy.strip_prefx: unknown key 'strip_prefx' (did you mean 'strip_prefix'?)"
        ],
    ),
    "strip_prefix not a prefix": (
        UP
        + "[[route]]\npath = '/api/{rest:path}'\nproxy = { upstream = 'api', strip_prefix = '/apx' }\n",
        [
            "gateway.toml:5: route[0].proxy.strip_prefix: '/apx' is not a prefix of the route's path '/api/{rest:path}': write e.g. '/api'"
        ],
    ),
    "strip_prefix mid-segment": (
        UP
        + "[[route]]\npath = '/api/{rest:path}'\nproxy = { upstream = 'api', strip_prefix = '/ap' }\n",
        [
            "gateway.toml:5: route[0].proxy.strip_prefix: '/ap' is not a prefix of the route's path '/api/{rest:path}': write e.g. '/api'"
        ],
    ),
    "strip_prefix over a parameter": (
        UP + "[[route]]\npath = '/{v}/x'\nproxy = { upstream = 'api', strip_prefix = '/v1' }\n",
        [
            "gateway.toml:5: route[0].proxy.strip_prefix: '/v1' is not a prefix of the route's path '/{v}/x': the path starts with a parameter"
        ],
    ),
    "shorthand not a URL": (
        "[[route]]\npath = '/x'\nproxy = '127.0.0.1:9001'\n",
        [
            "gateway.toml:3: route[0].proxy: '127.0.0.1:9001' is not an http:// URL: write e.g. 'http://127.0.0.1:9001'"
        ],
    ),
    "https over a unix socket": (
        "[[route]]\npath = '/x'\nproxy = 'https://unix:/run/a.sock'\n",
        [
            "gateway.toml:3: route[0].proxy: 'https://unix:/run/a.sock': TLS over a unix socket is not supported; use http://"
        ],
    ),
    "mixed http and https servers": (
        "[upstream.api]\nservers = ['https://a:1', 'b:2']\n",
        [
            "gateway.toml:2: upstream.api.servers: mixes http and https servers: list one kind per upstream"
        ],
    ),
    "ca and verify without tls": (
        "[upstream.api]\nservers = ['a:1']\nverify = false\n",
        ["gateway.toml:3: upstream.api.verify: is for TLS upstreams: add tls = true"],
    ),
    "a ca file that is not there": (
        "[upstream.api]\nservers = ['https://a:1']\nca = 'nowhere/ca.pem'\n",
        [f"gateway.toml:3: upstream.api.ca: file '{Path.cwd() / 'nowhere/ca.pem'}' does not exist"],
    ),
    "shorthand with a path": (
        "[[route]]\npath = '/x'\nproxy = 'http://h:1/v1'\n",
        [
            "gateway.toml:3: route[0].proxy: 'http://h:1/v1' has a path; the proxy sends the request's own path: write the URL without one and use strip_prefix to drop a prefix"
        ],
    ),
    "proxy of the wrong type": (
        "[[route]]\npath = '/x'\nproxy = 5\n",
        [
            "gateway.toml:3: route[0].proxy: expected a table like { upstream = 'api' } or a URL like 'http://127.0.0.1:9001', got an integer (5)"
        ],
    ),
    "proxy values": (
        UP
        + "[[route]]\npath = '/x'\nproxy = { upstream = 'api', retries = 11, timeout = 'soon', headers = { x-a = \"a\\nb\" }, remove_headers = ['bad name'] }\n",
        [
            "gateway.toml:5: route[0].proxy.timeout: 'soon' is not a duration: use a number of seconds or a number with ms, s, m or h",
            "gateway.toml:5: route[0].proxy.retries: must be from 0 to 10, got 11",
            "gateway.toml:5: route[0].proxy.headers.x-a: 'a\\nb' contains CR or LF, which cannot go in a header",
            "gateway.toml:5: route[0].proxy.remove_headers[0]: 'bad name' is not a header name: write e.g. 'content-type'",
        ],
    ),
    "trusted proxies": (
        "[server]\ntrusted_proxies = ['10.0.0.1/8', 'localhost', '::1']\n",
        [
            "gateway.toml:2: server.trusted_proxies[0]: '10.0.0.1/8' has host bits set: write '10.0.0.0/8'",
            "gateway.toml:2: server.trusted_proxies[1]: 'localhost' is not an IP address or network: write e.g. '10.0.0.0/8' or '::1'",
        ],
    ),
}


@pytest.mark.parametrize("text, expected", CASES.values(), ids=CASES.keys())
def test_mistakes(text: str, expected: list[str]) -> None:
    assert read(text).issues == expected


def test_a_broken_upstream_is_left_out_but_its_name_is_known() -> None:
    got = read(
        "[upstream.api]\nservers = ['nope']\n[[route]]\npath = '/x'\nproxy = { upstream = 'api' }\n"
    )
    assert "api" not in got.upstreams
    # one issue, at the upstream: the route naming it is not blamed too
    assert len(got.issues) == 1 and got.issues[0].startswith(
        "gateway.toml:2: upstream.api.servers[0]"
    )
    assert got.proxies == [got.proxies[0]]
