"""problem.py: which requests get application/problem+json (RFC 9457) and what it holds."""

from __future__ import annotations

import json

import pytest

from gateway.problem import PLAIN_TEXT, PROBLEM_JSON, prefers_json, problem, render


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, False),
        ("", False),
        ("*/*", False),  # fetch() and curl: text
        ("application/json", True),
        ("application/problem+json", True),
        ("application/*", True),
        ("application/json, text/plain", True),  # a tie goes to what was asked by name
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),  # browsers
        ("text/html, application/json;q=0.9", False),
        ("application/json;q=0.9, text/*;q=0.1", True),
        ("application/json;q=0", False),
        ("application/json;q=bogus", False),
        ("APPLICATION/JSON; charset=utf-8", True),
        ("application/problem+json;q=0.1, application/json;q=1, text/plain;q=0.5", False),
    ],
)
def test_prefers_json(accept: str | None, expected: bool) -> None:
    assert prefers_json(accept) is expected


def test_a_json_route_always_prefers_json() -> None:
    assert prefers_json("text/html", route_json=True)


def test_render_json() -> None:
    body, content_type = render(404, "no such user 7", request_id="r-1", prefer_json=True)
    assert content_type == PROBLEM_JSON
    assert json.loads(body) == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "no such user 7",
        "request_id": "r-1",
    }


def test_render_json_without_detail_and_with_extensions() -> None:
    body, _ = render(
        409,
        request_id="",
        prefer_json=True,
        instance="/api/users/7",
        extensions={"errors": [{"field": "name"}], "status": 999, "title": "hijack"},
    )
    obj = json.loads(body)
    assert obj == {
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "instance": "/api/users/7",
        "errors": [{"field": "name"}],
    }


def test_render_text() -> None:
    assert render(404, "no such user", request_id="r-1") == (b"no such user\n", PLAIN_TEXT)
    assert render(405) == (b"method not allowed\n", PLAIN_TEXT)
    body, _ = render(500, "internal server error", request_id="r-9")
    assert body == b"internal server error (request id r-9)\n"


def test_unknown_status_and_unicode() -> None:
    assert problem(599)["title"] == "Error"
    body, _ = render(400, "bad name 'é\"'", prefer_json=True)
    assert json.loads(body)["detail"] == "bad name 'é\"'"


def test_error_response_reads_the_request() -> None:
    from gateway.http.headers import Headers
    from gateway.problem import error_response
    from gateway.request import Request

    request = Request("GET", "/x", Headers([("accept", "application/json")]), id="r7")
    response = error_response(405, request=request, headers=[("allow", "GET")])
    assert response.status == 405
    assert response.get_header("content-type") == PROBLEM_JSON
    assert response.get_header("allow") == "GET"
    assert json.loads(response.body)["request_id"] == "r7"
    plain = error_response(404, "no such page", request=None)
    assert plain.body == b"no such page\n"
