"""Handlers through a real server: every documented return type, HTTPError, exceptions
(500 naming the request id, server keeps serving), pool saturation (503 + Retry-After),
handler timeouts (504), inline handlers, forms and query strings."""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.support import wait_for

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"
    handler_threads = 1
    handler_queue = 1
    timeouts = { handler = "500ms" }

    [[route]]
    path = "/r/{kind}"
    methods = ["GET", "POST"]
    handler = "api.kinds:returns"

    [[route]]
    path = "/inline/{kind}"
    handler = "api.kinds:returns"
    inline = true

    [[route]]
    path = "/boom"
    handler = "api.kinds:boom"

    [[route]]
    path = "/teapot"
    handler = "api.kinds:teapot"

    [[route]]
    path = "/form"
    methods = ["POST"]
    handler = "api.kinds:form"

    [[route]]
    path = "/block"
    handler = "api.kinds:block"

    [[route]]
    path = "/slow-stream"
    handler = "api.kinds:slow_stream"

    [[route]]
    path = "/users/{id:int}"
    handler = "api.kinds:user"
    headers = { x-route = "users" }
"""

KINDS = """
    import threading
    from gateway import HTTPError, Response

    RELEASE = threading.Event()

    def returns(request):
        kind = request.params["kind"]
        return {
            "dict": lambda: {"a": 1},
            "list": lambda: [1, 2],
            "str": lambda: "text",
            "bytes": lambda: b"\\x00\\x01",
            "none": lambda: None,
            "pair": lambda: (201, {"created": True}),
            "triple": lambda: (202, "ok", {"x-extra": "1"}),
            "response": lambda: Response(418, "short and stout", {"x-tea": "yes"}),
            "html": lambda: Response.html("<p>hi</p>"),
            "iter": lambda: (part for part in [b"a", b"b", b"c"]),
            "query": lambda: request.query.getlist("q"),
            "bad": lambda: object(),
            "badheader": lambda: Response(200, "x", {"x-bad": "a\\r\\nset-cookie: evil=1"}),
            "badstatus": lambda: (42, "x"),
            "strstatus": lambda: Response("200", b"x"),
            "floatstatus": lambda: Response(200.5, b"x"),
            "informational": lambda: (101, "x"),
            "nonebody": lambda: Response(200, None),
            "intbody": lambda: Response(200, 12345),
            "exit": lambda: exec("raise SystemExit(3)"),
            "baditem": lambda: iter([b"a", 3]),
        }[kind]()

    def boom(request):
        raise RuntimeError("kaboom")

    def teapot(request):
        raise HTTPError(409, "already exists", {"x-why": "dup"})

    def form(request):
        fields = request.form()
        upload = fields.get("file")
        return {"name": fields.get("name"), "tags": fields.getlist("tag"),
                "file": None if upload is None or isinstance(upload, str)
                else [upload.filename, upload.content_type, upload.data.decode()]}

    def block(request):
        RELEASE.wait(10)
        return "released"

    STREAM_GATE = threading.Event()

    def slow_stream(request):
        def chunks():
            yield b"first;"
            STREAM_GATE.wait(10)  # blocks: must not block the server loop
            yield b"second"
        return chunks()

    def user(request):
        return {"id": request.params["id"], "type": type(request.params["id"]).__name__}
"""


@pytest.fixture
def server(site):
    return site(SITE, {"api/__init__.py": "", "api/kinds.py": KINDS})


@pytest.fixture
def local(in_process):
    """The same site answered in process (gateway.testing): for what a socket adds nothing to."""
    return in_process(SITE, {"api/__init__.py": "", "api/kinds.py": KINDS})


@pytest.mark.parametrize("prefix", ["/r", "/inline"])
@pytest.mark.parametrize(
    ("kind", "status", "content_type", "body"),
    [
        ("dict", 200, "application/json", b'{"a":1}'),
        ("list", 200, "application/json", b"[1,2]"),
        ("str", 200, "text/plain; charset=utf-8", b"text"),
        ("bytes", 200, "application/octet-stream", b"\x00\x01"),
        ("none", 204, None, b""),
        ("pair", 201, "application/json", b'{"created":true}'),
        ("triple", 202, "text/plain; charset=utf-8", b"ok"),
        ("response", 418, "text/plain; charset=utf-8", b"short and stout"),
        ("html", 200, "text/html; charset=utf-8", b"<p>hi</p>"),
        ("iter", 200, "application/octet-stream", b"abc"),
    ],
)
def test_return_types(local, prefix, kind, status, content_type, body):
    response = local.get(f"{prefix}/{kind}")
    assert response.status_code == status
    assert response.headers.get("content-type") == content_type
    assert response.content == body
    if kind == "iter":
        assert response.headers["transfer-encoding"] == "chunked"
    if kind == "triple":
        assert response.headers["x-extra"] == "1"


def test_query_multi_dict(local):
    assert local.get("/r/query?q=1&q=2&z=3").json() == ["1", "2"]


def test_typed_params_and_route_headers(local):
    response = local.get("/users/42")
    assert response.json() == {"id": 42, "type": "int"}
    assert response.headers["x-route"] == "users"
    assert local.get("/users/abc").status_code == 404


def test_exception_is_500_with_request_id_and_server_goes_on(client, caplog):
    response = client.get("/boom")
    assert response.status_code == 500
    assert "request id" in response.text
    request_id = response.text.rsplit(" ", 1)[1].rstrip(")\n")
    assert any(request_id in r.getMessage() and "kaboom" in r.getMessage() for r in caplog.records)
    assert client.get("/r/str").text == "text"


def test_unknown_return_type_is_500(local):
    assert local.get("/r/bad").status_code == 500


def test_header_injection_from_handler_is_refused(local):
    response = local.get("/r/badheader")
    assert response.status_code == 500
    assert "set-cookie" not in response.headers


def test_http_error_status_detail_and_headers(local):
    response = local.get("/teapot")
    assert response.status_code == 409
    assert response.text == "already exists\n"
    assert response.headers["x-why"] == "dup"


def test_urlencoded_form(local):
    response = local.post("/form", data={"name": "ada", "tag": ["a", "b"]})
    assert response.json() == {"name": "ada", "tags": ["a", "b"], "file": None}


def test_multipart_form_with_file(local):
    response = local.post(
        "/form", data={"name": "ada"}, files={"file": ("notes.txt", b"hello file", "text/plain")}
    )
    assert response.json() == {
        "name": "ada",
        "tags": [],
        "file": ["notes.txt", "text/plain", "hello file"],
    }


def test_json_body_errors_are_400(client, server):
    # request.json() on a body that is not JSON is the client's mistake.
    response = client.post("/form", content=b"x", headers={"content-type": "text/plain"})
    assert response.status_code == 415


def _module(server):
    import sys

    return next(
        m
        for name, m in sys.modules.items()
        if name.endswith(".api.kinds")
        and getattr(m, "__file__", "").startswith(str(server.server.app.config.server.root))
    )


def test_pool_saturation_gives_503_and_timeout_gives_504(server):
    module = _module(server)
    module.RELEASE.clear()
    results: dict[str, httpx.Response] = {}

    def get(name: str) -> None:
        results[name] = httpx.get(server.url + "/block", timeout=10)

    first = threading.Thread(target=get, args=("running",))
    first.start()
    wait_for(lambda: server.server.pool.pending == 1)
    second = threading.Thread(target=get, args=("queued",))
    second.start()
    wait_for(lambda: server.server.pool.waiting == 1)
    busy = httpx.get(server.url + "/block", timeout=10)
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "1"
    first.join(10)
    assert results["running"].status_code == 504  # past timeouts.handler = 500ms
    module.RELEASE.set()
    second.join(10)
    assert results["queued"].status_code in (200, 504)
    assert httpx.get(server.url + "/r/str").text == "text"


def test_status_outside_http_range_is_500_and_server_goes_on(client):
    assert client.get("/r/badstatus").status_code == 500
    assert client.get("/r/str").text == "text"


@pytest.mark.parametrize("prefix", ["/r", "/inline"])
def test_stream_yielding_a_non_bytes_item_closes_only_that_connection(server, prefix):
    with pytest.raises(httpx.HTTPError):
        httpx.get(server.url + f"{prefix}/baditem", timeout=5)
    assert httpx.get(server.url + "/r/str").text == "text"


def test_a_blocking_stream_runs_on_the_pool_not_the_loop(server):
    module = _module(server)
    module.STREAM_GATE.clear()
    with (
        httpx.Client(base_url=server.url, timeout=10) as streaming,
        streaming.stream("GET", "/slow-stream") as response,
    ):
        chunks = response.iter_bytes()
        assert next(chunks) == b"first;"
        # The generator now blocks on its pool thread; the loop still answers others.
        assert httpx.get(server.url + "/inline/str", timeout=5).text == "text"
        module.STREAM_GATE.set()
        assert b"".join(chunks) == b"second"


def test_pooled_stream_to_http10_client_is_close_delimited(server):
    from tests.support import exchange

    reply = exchange(server.port, b"GET /r/iter HTTP/1.0\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head.lower()
    assert body == b"abc"


@pytest.mark.parametrize("prefix", ["/r", "/inline"])
@pytest.mark.parametrize(
    "kind",
    ["badstatus", "strstatus", "floatstatus", "informational", "nonebody", "intbody", "exit"],
)
def test_a_handler_bug_is_a_500_and_never_stops_the_server(server, prefix, kind):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get(f"{prefix}/{kind}").status_code == 500
        assert client.get("/r/str").text == "text"  # the pool still has its thread
    wait_for(lambda: server.server.pool.pending == 0)
