"""gateway.testing.Transport, the public test client: requests go as bytes through the
parser, the App and the writer with no socket, and come back as the wire would carry them."""

from __future__ import annotations

import httpx
import pytest

from tests.handlers.conftest import InProcess

SITE = """
    [server]
    access_log = "off"
    max_header_bytes = 2048

    [errors]
    404 = "errors/404.html"

    [[route]]
    path = "/api/echo"
    methods = ["POST"]
    handler = "api.t:echo"

    [[route]]
    path = "/api/stream"
    handler = "api.t:stream"

    [[route]]
    path = "/api/users/{id:int}"
    handler = "api.t:user"
    inline = true

    [[static]]
    prefix = "/"
    dir = "public"
"""

FILES = {
    "api/t.py": """
        def echo(request):
            return {"got": request.json(), "client": request.client[0]}

        def stream(request):
            yield b"one,"
            yield "two"

        def user(request):
            return {"id": request.params["id"], "q": request.query.get("q")}
    """,
    "public/index.html": "<h1>home</h1>",
    "errors/404.html": "<h1>lost</h1>",
}


@pytest.fixture
def client(in_process: InProcess) -> httpx.Client:
    return in_process(SITE, FILES)


def test_handlers_static_files_and_error_pages(client: httpx.Client) -> None:
    assert client.post("/api/echo", json={"a": 1}).json() == {
        "got": {"a": 1},
        "client": "testclient",
    }
    assert client.get("/api/users/7", params={"q": "x"}).json() == {"id": 7, "q": "x"}
    home = client.get("/")
    assert (home.status_code, home.text) == (200, "<h1>home</h1>")
    assert home.headers["content-length"] == "13" and "etag" in home.headers
    lost = client.get("/nowhere")
    assert (lost.status_code, lost.text) == (404, "<h1>lost</h1>")


def test_a_streamed_body_is_read_whole_and_sent_chunked(client: httpx.Client) -> None:
    response = client.get("/api/stream")
    assert response.content == b"one,two"
    assert response.headers["transfer-encoding"] == "chunked"


def test_head_has_the_get_headers_and_no_body(client: httpx.Client) -> None:
    response = client.head("/")
    assert response.content == b"" and response.headers["content-length"] == "13"


def test_what_the_parser_rejects_gets_its_status(client: httpx.Client) -> None:
    response = client.get("/", headers={"x-big": "v" * 4096})
    assert response.status_code == 431
    assert client.get("/api/users/1").status_code == 200  # nothing broken after it
