"""The one error path (App.render_error): gateway's own errors and a handler's HTTPError
come out the same way, as JSON when the client asks for JSON rather than HTML, with the
route's headers and CORS; a handler's own content type is never wrapped."""

from __future__ import annotations

import httpx
import pytest

from tests.handlers.conftest import InProcess

SITE = """
    [server]
    access_log = "off"

    [cors.web]
    allow_origins = ["https://app.example"]

    [[route]]
    path = "/api/items/{id:int}"
    handler = "api.items:item"
    headers = { x-route = "items" }
    cors = "web"
"""

ITEMS = """
    from gateway import HTTPError

    def item(request):
        if request.params["id"] == 0:
            raise HTTPError(404, "no item 0")
        if request.params["id"] == 1:
            raise HTTPError(409, '{"conflict": true}', {"content-type": "application/json"})
        if request.params["id"] == 2:
            raise RuntimeError("boom")
        return {"id": request.params["id"]}
"""

JSON = {"accept": "application/json, text/plain, */*", "origin": "https://app.example"}


@pytest.fixture
def client(in_process: InProcess) -> httpx.Client:
    return in_process(SITE, {"api/items.py": ITEMS})


def test_no_route_is_json_for_a_client_that_asks_for_json(client: httpx.Client) -> None:
    response = client.get("/nowhere", headers=JSON)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "not found",
        "request_id": response.json()["request_id"],
    }
    assert client.get("/nowhere").text == "not found\n"  # */*: plain text
    assert client.get("/nowhere", headers={"accept": "text/html,application/json"}).text == (
        "not found\n"
    )


def test_a_handlers_http_error_renders_the_same_way(client: httpx.Client) -> None:
    response = client.get("/api/items/0", headers=JSON)
    assert response.json()["detail"] == "no item 0" and response.json()["status"] == 404
    assert response.headers["x-route"] == "items"
    assert response.headers["access-control-allow-origin"] == "https://app.example"


def test_a_handlers_own_content_type_is_kept_as_it_is(client: httpx.Client) -> None:
    response = client.get("/api/items/1", headers=JSON)
    assert response.status_code == 409
    assert response.headers.get_list("content-type") == ["application/json"]
    assert response.json() == {"conflict": True}


def test_a_crash_is_a_500_naming_the_request_id_in_json(client: httpx.Client) -> None:
    response = client.get("/api/items/2", headers=JSON)
    assert response.status_code == 500
    assert response.json()["detail"].startswith("internal server error (request id test-")
    assert response.json()["request_id"].startswith("test-")
    assert response.headers["x-route"] == "items"


def test_head_gets_the_error_head_only(client: httpx.Client) -> None:
    response = client.head("/api/items/0", headers=JSON)
    assert response.status_code == 404 and response.content == b""
    assert int(response.headers["content-length"]) > 0
