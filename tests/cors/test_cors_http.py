"""CORS against real servers over HTTP (httpx and raw sockets): preflights allowed and refused
part by part (with their log lines), private network access, actual requests from allowed,
other and no origins, wildcard origins and their look-alikes, Vary merged with a static
file's own, "*" policies, error answers (404, 405, 413, 500, 503, 504) that keep their CORS
headers, plain OPTIONS, and [server] cors as the default that `cors = false` turns off."""

from __future__ import annotations

import gzip
import logging
import sys
import threading
from collections.abc import Iterator
from types import ModuleType

import httpx
import pytest

from gateway.app import build_app
from gateway.config.load import load_config
from gateway.errors import ConfigError
from tests.support import ResponseReader, Running, connect, running_server, wait_for, write_site

APP = "http://app.test:5173"
EVIL = "https://evil.test"
PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
PNA_VARY = PREFLIGHT_VARY + ", Access-Control-Request-Private-Network"
SCRIPT = b"console.log('hello from app.js');\n" * 20

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"
    max_body_bytes = "1KB"
    cors = "app"

    [cors.app]
    allow_origins = ["http://app.test:5173", "https://*.example.com"]
    allow_methods = ["GET", "POST", "PUT", "DELETE"]
    allow_headers = ["Content-Type", "x-token"]
    expose_headers = ["x-request-id"]
    allow_credentials = true
    max_age = "10m"
    allow_private_network = true

    [cors.plain]
    allow_origins = ["http://app.test:5173"]
    allow_methods = ["GET"]

    [cors.public]
    allow_origins = ["*"]
    allow_methods = ["GET"]
    expose_headers = ["etag"]
    max_age = "1h"

    [cors.echo]
    allow_origins = ["http://app.test:5173"]
    allow_methods = ["*"]
    allow_headers = ["*"]
    allow_credentials = true

    [[static]]
    prefix = "/assets"
    dir = "assets"
    precompressed = ["gzip"]

    [[static]]
    prefix = "/private"
    dir = "assets"
    cors = false

    [[route]]
    path = "/api/items/{id:int}"
    methods = ["GET", "PUT", "DELETE", "PATCH"]
    handler = "api.items:item"

    [[route]]
    path = "/api/boom"
    handler = "api.items:boom"

    [[route]]
    path = "/api/upload"
    methods = ["POST"]
    handler = "api.items:upload"

    [[route]]
    path = "/api/varied"
    handler = "api.items:varied"
    inline = true

    [[route]]
    path = "/api/own"
    handler = "api.items:own_cors"
    inline = true

    [[route]]
    path = "/plain"
    respond = { status = 200, body = "plain" }
    cors = "plain"

    [[route]]
    path = "/public/prices"
    respond = { status = 200, json = { btc = 1 } }
    cors = "public"

    [[route]]
    path = "/echo"
    methods = ["GET", "PATCH"]
    respond = { status = 200, body = "echo" }
    cors = "echo"

    [[route]]
    path = "/internal"
    respond = { status = 200, body = "internal" }
    cors = false
"""

FILES: dict[str, str | bytes] = {
    "assets/app.js": SCRIPT,
    "assets/app.js.gz": gzip.compress(SCRIPT),
    "assets/plain.txt": "no precompressed sibling\n",
    "api/__init__.py": "",
    "api/items.py": """
        from gateway.response import Response

        def item(request):
            body = {"id": request.params["id"], "method": request.method}
            return 200, body, {"x-request-id": "req-1", "x-hidden": "secret"}

        def boom(request):
            raise RuntimeError("boom")

        def upload(request):
            return {"length": len(request.body)}

        def varied(request):
            return 200, "varied", {"vary": "Accept-Language"}

        def own_cors(request):
            return 200, "own", {"access-control-allow-origin": "https://mine.test"}
    """,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    path = write_site(tmp_path_factory.mktemp("cors-site"), SITE, FILES)
    with running_server(path) as running:
        yield running


@pytest.fixture
def client(server: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def vary_lines(response: httpx.Response) -> list[str]:
    return response.headers.get_list("vary")


def preflight(
    client: httpx.Client,
    path: str,
    method: str = "PUT",
    origin: str = APP,
    request_headers: str | None = None,
    **more: str,
) -> httpx.Response:
    headers = {"origin": origin, "access-control-request-method": method}
    if request_headers is not None:
        headers["access-control-request-headers"] = request_headers
    headers.update({name.replace("_", "-"): value for name, value in more.items()})
    return client.options(path, headers=headers)


# --- preflights ------------------------------------------------------------------------------


def test_allowed_preflight_gets_every_cors_header(client):
    response = preflight(client, "/api/items/1", "PUT", request_headers="Content-Type, X-Token")
    assert response.status_code == 204
    assert response.content == b""
    assert cors_headers(response) == {
        "access-control-allow-origin": APP,
        "access-control-allow-methods": "GET, POST, PUT, DELETE",
        "access-control-allow-headers": "content-type, x-token",
        "access-control-max-age": "600",
        "access-control-allow-credentials": "true",
    }
    assert vary_lines(response) == [PNA_VARY]
    assert "allow" not in response.headers  # answered by the policy, not as a plain OPTIONS


def test_preflight_without_request_headers_has_no_allow_headers(client):
    response = preflight(client, "/api/items/1", "DELETE")
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == APP
    assert "access-control-allow-headers" not in response.headers


def test_preflight_ignores_the_routes_methods(client):
    # /api/boom takes only GET, but a preflight is the policy's to answer: never a 405.
    response = preflight(client, "/api/boom", "PUT", request_headers="x-token")
    assert response.status_code == 204
    assert response.headers["access-control-allow-methods"] == "GET, POST, PUT, DELETE"


def test_preflight_on_a_static_mount(client):
    response = preflight(client, "/assets/app.js", "GET", request_headers="x-token")
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == APP
    assert response.headers["access-control-allow-headers"] == "x-token"


REFUSALS = [
    pytest.param(
        {"origin": EVIL},
        "origin",
        f"origin '{EVIL}' not allowed by policy 'app'",
        id="origin",
    ),
    pytest.param(
        {"method": "PATCH"},  # the route takes PATCH; the policy does not
        "method",
        "method 'PATCH' not in allow_methods (GET, POST, PUT, DELETE) of policy 'app'",
        id="method",
    ),
    pytest.param(
        {"method": "put"},  # methods are case-sensitive
        "method",
        "method 'put' not in allow_methods (GET, POST, PUT, DELETE) of policy 'app'",
        id="method-lowercase",
    ),
    pytest.param(
        {"request_headers": "content-type, X-Evil"},
        "header",
        "header 'x-evil' not in allow_headers (content-type, x-token) of policy 'app'",
        id="header",
    ),
]


@pytest.mark.parametrize(("change", "part", "logged"), REFUSALS)
def test_refused_preflight_is_a_bare_403_and_a_log_line(client, caplog, change, part, logged):
    caplog.set_level(logging.INFO, logger="gateway.cors")
    response = preflight(client, "/api/items/1", **{"method": "PUT", **change})
    assert response.status_code == 403
    assert response.text == f"cors preflight refused: {part} not allowed\n"
    assert cors_headers(response) == {}
    assert "vary" not in response.headers
    messages = [r.getMessage() for r in caplog.records if r.name == "gateway.cors"]
    assert messages == [f"cors preflight refused: {logged}"]


def test_private_network_preflight_allowed(client):
    response = preflight(
        client, "/api/items/1", "GET", access_control_request_private_network="true"
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-private-network"] == "true"
    assert vary_lines(response) == [PNA_VARY]


def test_private_network_header_only_when_asked(client):
    response = preflight(client, "/api/items/1", "GET")
    assert "access-control-allow-private-network" not in response.headers


def test_private_network_preflight_on_a_policy_without_it(client):
    # Still answered, without the header: the browser decides.
    response = preflight(client, "/plain", "GET", access_control_request_private_network="true")
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == APP
    assert "access-control-allow-private-network" not in response.headers
    assert "access-control-allow-credentials" not in response.headers
    assert "access-control-max-age" not in response.headers
    assert vary_lines(response) == [PREFLIGHT_VARY]


# --- actual requests ---------------------------------------------------------------------------


def test_actual_request_from_an_allowed_origin(client):
    response = client.get("/api/items/7", headers={"origin": APP})
    assert response.status_code == 200
    assert response.json() == {"id": 7, "method": "GET"}
    assert cors_headers(response) == {
        "access-control-allow-origin": APP,
        "access-control-allow-credentials": "true",
        "access-control-expose-headers": "x-request-id",
    }
    assert vary_lines(response) == ["Origin"]


@pytest.mark.parametrize("origin", [EVIL, "null", None], ids=["other", "null", "none"])
def test_actual_request_from_another_or_no_origin_gets_no_cors_headers(client, origin):
    headers = {"origin": origin} if origin is not None else {}
    response = client.put("/api/items/7", headers=headers)
    assert response.status_code == 200  # answered: CORS is the browser's to enforce
    assert cors_headers(response) == {}
    assert vary_lines(response) == ["Origin"]  # the answer depends on the origin


def test_head_request_gets_cors_headers(client):
    response = client.head("/api/items/7", headers={"origin": APP})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP


def test_policy_without_credentials_or_expose(client):
    response = client.get("/plain", headers={"origin": APP})
    assert cors_headers(response) == {"access-control-allow-origin": APP}
    assert vary_lines(response) == ["Origin"]


@pytest.mark.parametrize("origin", ["https://a.example.com", "https://a.b.example.com"])
def test_wildcard_subdomains_are_allowed(client, origin):
    assert preflight(client, "/api/items/1", "PUT", origin=origin).status_code == 204
    response = client.get("/api/items/1", headers={"origin": origin})
    assert response.headers["access-control-allow-origin"] == origin


EVIL_LOOKALIKES = [
    "https://example.com",  # the wildcard needs a label
    "https://evil-example.com",
    "https://evilexample.com",
    "https://example.com.evil.net",
    "https://a.example.com.evil.net",
    "http://a.example.com",  # scheme must match
    "https://a.example.com:8443",  # port must match
    "https://a.example.co",
    "https://A.EXAMPLE.COM",  # browsers send lowercase; anything else is not their Origin
    "https://.example.com",
    "null",
]


@pytest.mark.parametrize("origin", EVIL_LOOKALIKES)
def test_wildcard_lookalikes_are_refused(client, origin):
    assert preflight(client, "/api/items/1", "PUT", origin=origin).status_code == 403
    response = client.get("/api/items/1", headers={"origin": origin})
    assert cors_headers(response) == {}


def test_vary_merged_with_a_precompressed_files_vary(client):
    headers = {"origin": APP, "accept-encoding": "gzip"}
    response = client.get("/assets/app.js", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == SCRIPT
    assert vary_lines(response) == ["accept-encoding, Origin"]  # one line, both tokens
    assert response.headers["access-control-allow-origin"] == APP
    identity = client.get("/assets/app.js", headers={**headers, "accept-encoding": "identity"})
    assert "content-encoding" not in identity.headers
    assert vary_lines(identity) == ["accept-encoding, Origin"]
    other = client.get("/assets/app.js", headers={**headers, "origin": EVIL})
    assert vary_lines(other) == ["accept-encoding, Origin"]
    assert cors_headers(other) == {}


def test_vary_on_a_file_without_precompressed_sibling(client):
    response = client.get("/assets/plain.txt", headers={"origin": APP})
    assert vary_lines(response) == ["Origin"]


def test_vary_merged_with_a_handlers_vary(client):
    response = client.get("/api/varied", headers={"origin": APP})
    assert vary_lines(response) == ["Accept-Language, Origin"]


def test_handler_that_sets_its_own_cors_headers_is_left_alone(client):
    response = client.get("/api/own", headers={"origin": APP})
    assert cors_headers(response) == {"access-control-allow-origin": "https://mine.test"}
    assert vary_lines(response) == ["Origin"]


# --- "*" policies ----------------------------------------------------------------------------


@pytest.mark.parametrize("origin", [APP, EVIL, "null", None], ids=["app", "other", "null", "none"])
def test_star_policy_answers_everyone_alike_without_vary(client, origin):
    headers = {"origin": origin} if origin is not None else {}
    response = client.get("/public/prices", headers=headers)
    assert response.json() == {"btc": 1}
    assert cors_headers(response) == {
        "access-control-allow-origin": "*",
        "access-control-expose-headers": "etag",
    }
    assert "vary" not in response.headers


def test_star_policy_preflight(client):
    response = preflight(client, "/public/prices", "GET", origin=EVIL)
    assert response.status_code == 204
    assert cors_headers(response) == {
        "access-control-allow-origin": "*",
        "access-control-allow-methods": "GET",
        "access-control-max-age": "3600",
    }
    assert preflight(client, "/public/prices", "PUT", origin=EVIL).status_code == 403


def test_star_origins_with_credentials_is_a_config_error(tmp_path):
    path = write_site(
        tmp_path,
        """
        [cors.bad]
        allow_origins = ["*"]
        allow_credentials = true

        [[route]]
        path = "/x"
        respond = { body = "x" }
        cors = "bad"
        """,
    )
    with pytest.raises(ConfigError) as info:
        build_app(load_config(path))
    messages = [str(issue) for issue in info.value.issues]
    assert any(
        "'*' cannot be used with allow_credentials = true: list the origins instead" in m
        for m in messages
    ), messages


def test_star_methods_and_headers_with_credentials_echo_what_was_asked(client):
    response = preflight(client, "/echo", "PATCH", request_headers="X-Anything, x-other")
    assert response.status_code == 204
    assert cors_headers(response) == {
        "access-control-allow-origin": APP,  # never "*" with credentials
        "access-control-allow-methods": "PATCH",
        "access-control-allow-headers": "x-anything, x-other",
        "access-control-allow-credentials": "true",
    }
    assert preflight(client, "/echo", "PATCH", origin=EVIL).status_code == 403


# --- error answers -------------------------------------------------------------------------------

ALLOWED = {
    "access-control-allow-origin": APP,
    "access-control-allow-credentials": "true",
    "access-control-expose-headers": "x-request-id",
}


@pytest.mark.parametrize("path", ["/assets/missing.js", "/nowhere"], ids=["mount", "no-route"])
def test_404_carries_cors_headers(client, path):
    response = client.get(path, headers={"origin": APP})
    assert response.status_code == 404
    assert cors_headers(response) == ALLOWED
    assert vary_lines(response) == ["Origin"]
    other = client.get(path, headers={"origin": EVIL})
    assert other.status_code == 404
    assert cors_headers(other) == {}
    assert vary_lines(other) == ["Origin"]


def test_405_carries_cors_headers_and_allow(client):
    response = client.post("/api/items/1", headers={"origin": APP})
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"
    assert cors_headers(response) == ALLOWED
    assert vary_lines(response) == ["Origin"]


def test_405_on_a_static_mount_carries_cors_headers(client):
    response = client.delete("/assets/app.js", headers={"origin": APP})
    assert response.status_code == 405
    assert cors_headers(response) == ALLOWED


def test_500_from_a_raising_handler_carries_cors_headers(client):
    response = client.get("/api/boom", headers={"origin": APP})
    assert response.status_code == 500
    assert response.text.startswith("internal server error (request id ")
    assert cors_headers(response) == ALLOWED
    assert vary_lines(response) == ["Origin"]


def raw_request(port: int, data: bytes) -> tuple[int, dict[str, str]]:
    with connect(port) as sock:
        sock.sendall(data)
        response = ResponseReader(sock).read()
    return response.status, response.headers


def test_413_for_a_content_length_over_the_limit_carries_cors_headers(server):
    status, headers = raw_request(
        server.port,
        b"POST /api/upload HTTP/1.1\r\nHost: t\r\nOrigin: "
        + APP.encode()
        + b"\r\nContent-Length: 5000\r\n\r\n",
    )
    assert status == 413
    assert headers.get("access-control-allow-origin") == APP
    assert headers.get("vary") == "Origin"


def test_413_for_a_chunked_body_over_the_limit_carries_cors_headers(server):
    chunk = b"x" * 2000
    status, headers = raw_request(
        server.port,
        b"POST /api/upload HTTP/1.1\r\nHost: t\r\nOrigin: "
        + APP.encode()
        + b"\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(chunk), chunk),
    )
    assert status == 413
    assert headers.get("access-control-allow-origin") == APP


def test_a_body_under_the_limit_is_served_with_cors_headers(server):
    ok = httpx.post(server.url + "/api/upload", content=b"x" * 1000, headers={"origin": APP})
    assert ok.json() == {"length": 1000}
    assert ok.headers["access-control-allow-origin"] == APP


def test_413_from_another_origin_gets_no_cors_headers(server):
    status, headers = raw_request(
        server.port,
        b"POST /api/upload HTTP/1.1\r\nHost: t\r\nOrigin: "
        + EVIL.encode()
        + b"\r\nContent-Length: 5000\r\n\r\n",
    )
    assert status == 413
    assert "access-control-allow-origin" not in headers
    assert headers.get("vary") == "Origin"


@pytest.mark.parametrize("path", ["/internal", "/private/app.js"], ids=["route", "mount"])
def test_413_on_a_cors_false_path_that_does_not_take_the_method(server, path):
    # Without the oversized body the same request is a 405 with no CORS headers.
    assert httpx.post(server.url + path, headers={"origin": APP}).status_code == 405
    status, headers = raw_request(
        server.port,
        b"POST %s HTTP/1.1\r\nHost: t\r\nOrigin: %s\r\nContent-Length: 5000\r\n\r\n"
        % (path.encode(), APP.encode()),
    )
    assert status == 413
    assert "access-control-allow-origin" not in headers


POOL_SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"
    handler_threads = 1
    handler_queue = 1
    cors = "app"
    {timeouts}

    [cors.app]
    allow_origins = ["http://app.test:5173"]
    allow_credentials = true

    [[route]]
    path = "/slow"
    handler = "api.slow:slow"
"""

POOL_FILES = {
    "api/__init__.py": "",
    "api/slow.py": """
        import threading

        started = threading.Event()
        release = threading.Event()

        def slow(request):
            started.set()
            release.wait(20)
            return "done"
    """,
}


def handler_module(running: Running, name: str) -> ModuleType:
    """The site's handler module as the server imported it (under the site's package)."""
    return sys.modules[f"{running.server.app.modules.package}.{name}"]


def test_503_from_a_saturated_pool_carries_cors_headers(site):
    running = site(POOL_SITE.format(timeouts=""), POOL_FILES)
    gates = handler_module(running, "api.slow")
    answers: dict[str, httpx.Response] = {}

    def call(name: str) -> None:
        answers[name] = httpx.get(running.url + "/slow", headers={"origin": APP}, timeout=20)

    callers = [threading.Thread(target=call, args=(name,)) for name in ("running", "queued")]
    try:
        callers[0].start()
        wait_for(gates.started.is_set)  # the one thread is busy
        callers[1].start()
        wait_for(lambda: running.server.pool.waiting == 1)  # the one queue slot taken
        busy = httpx.get(running.url + "/slow", headers={"origin": APP})
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "1"
        assert cors_headers(busy) == {
            "access-control-allow-origin": APP,
            "access-control-allow-credentials": "true",
        }
        assert vary_lines(busy) == ["Origin"]
    finally:
        gates.release.set()
        for caller in callers:
            if caller.ident is not None:  # started
                caller.join(10)
    assert [answers[name].text for name in ("running", "queued")] == ["done", "done"]


def test_504_from_a_stuck_handler_carries_cors_headers(site):
    running = site(POOL_SITE.format(timeouts='timeouts = { handler = "300ms" }'), POOL_FILES)
    gates = handler_module(running, "api.slow")
    try:
        response = httpx.get(running.url + "/slow", headers={"origin": APP}, timeout=10)
        assert response.status_code == 504
        assert response.headers["access-control-allow-origin"] == APP
        assert vary_lines(response) == ["Origin"]
    finally:
        gates.release.set()


# --- plain OPTIONS -------------------------------------------------------------------------------


def test_options_without_cors_headers_is_a_plain_204_with_allow(client):
    response = client.options("/api/items/1")
    assert response.status_code == 204
    assert response.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"
    assert cors_headers(response) == {}


def test_options_with_origin_but_no_request_method_is_no_preflight(client):
    response = client.options("/api/items/1", headers={"origin": APP})
    assert response.status_code == 204
    assert response.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"
    assert "access-control-allow-methods" not in response.headers  # not a preflight answer
    assert response.headers["access-control-allow-origin"] == APP  # an actual answer's


def test_options_with_request_method_but_no_origin_is_no_preflight(client):
    response = client.options("/api/items/1", headers={"access-control-request-method": "PUT"})
    assert response.status_code == 204
    assert "allow" in response.headers
    assert cors_headers(response) == {}


def test_options_on_a_static_mount_without_cors_headers(client):
    response = client.options("/assets/app.js")
    assert response.status_code == 204
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"


def test_options_star_is_a_plain_204(server):
    status, headers = raw_request(server.port, b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n")
    assert status == 204
    assert "allow" in headers


# --- [server] cors and cors = false --------------------------------------------------------------


def test_server_cors_is_the_default_for_routes_and_mounts(client):
    for path in ("/api/items/1", "/assets/app.js"):  # neither names a policy
        response = client.get(path, headers={"origin": APP})
        assert response.headers["access-control-allow-origin"] == APP, path


def test_a_route_naming_a_policy_overrides_the_default(client):
    response = client.get("/plain", headers={"origin": "https://a.example.com"})
    assert cors_headers(response) == {}  # 'plain' does not list the wildcard


@pytest.mark.parametrize("path", ["/internal", "/private/app.js"], ids=["route", "mount"])
def test_cors_false_turns_the_default_off(client, path):
    response = client.get(path, headers={"origin": APP})
    assert response.status_code == 200
    assert cors_headers(response) == {}
    assert "origin" not in (response.headers.get("vary") or "").lower()
    # A preflight there is no preflight: a plain OPTIONS answer, with no CORS headers.
    answer = preflight(client, path, "GET")
    assert answer.status_code == 204
    assert "allow" in answer.headers
    assert cors_headers(answer) == {}


def test_without_server_cors_routes_have_no_cors(tmp_path):
    path = write_site(
        tmp_path,
        """
        [server]
        listen = ["127.0.0.1:0"]
        access_log = "off"

        [cors.app]
        allow_origins = ["http://app.test:5173"]

        [[route]]
        path = "/bare"
        respond = { body = "bare" }

        [[route]]
        path = "/named"
        respond = { body = "named" }
        cors = "app"
        """,
    )
    with running_server(path) as running, httpx.Client(base_url=running.url) as client:
        bare = client.get("/bare", headers={"origin": APP})
        assert cors_headers(bare) == {}
        assert "vary" not in bare.headers
        assert preflight(client, "/bare", "GET").headers.get("access-control-allow-origin") is None
        missing = client.get("/nowhere", headers={"origin": APP})
        assert missing.status_code == 404
        assert cors_headers(missing) == {}
        named = client.get("/named", headers={"origin": APP})
        assert named.headers["access-control-allow-origin"] == APP
