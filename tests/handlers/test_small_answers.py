"""The handler path's shortcuts change nothing a client sees: a small answer (under the
compression minimum) gets no Vary and is still a 304 for a client holding its ETag; a dict
is JSON, byte for byte what json.dumps writes; a (status, body, headers) tuple keeps its
meaning."""

from __future__ import annotations

import json

import httpx
import pytest

from gateway.response import Response
from tests.handlers.conftest import InProcess

SITE = """
    [server]
    access_log = "off"

    [[route]]
    path = "/tagged"
    handler = "api.s:tagged"
    inline = true

    [[route]]
    path = "/auto"
    handler = "api.s:plain"

    [[route]]
    path = "/tuple"
    handler = "api.s:tupled"
    inline = true
"""

FILES = {
    "api/s.py": """
        from gateway.response import Response

        def tagged(request):
            return Response(200, b"small", headers={"etag": '"v1"'}, content_type="text/plain")

        def plain(request):
            return {"a": [1, 2]}

        def tupled(request):
            return 201, {"made": True}, {"content-type": "application/vnd.x+json"}
    """,
}


@pytest.fixture
def client(in_process: InProcess) -> httpx.Client:
    return in_process(SITE, FILES)


def test_small_answer_has_no_vary_but_still_answers_if_none_match(client: httpx.Client) -> None:
    fresh = client.get("/tagged", headers={"accept-encoding": "gzip"})
    assert (fresh.status_code, fresh.content) == (200, b"small")
    assert "vary" not in fresh.headers and "content-encoding" not in fresh.headers
    held = client.get("/tagged", headers={"if-none-match": '"v1"'})
    assert (held.status_code, held.content) == (304, b"")
    other = client.get("/tagged", headers={"if-none-match": '"v0"'})
    assert other.status_code == 200


def test_dict_and_tuple_answers(client: httpx.Client) -> None:
    auto = client.get("/auto")
    assert auto.json() == {"a": [1, 2]}
    assert auto.headers["content-type"] == "application/json"
    made = client.get("/tuple")
    assert (made.status_code, made.json()) == (201, {"made": True})
    assert made.headers.get_list("content-type") == ["application/vnd.x+json"]


SAMPLES = [
    {"hello": "w"},
    [1, -2.5, 1e100, -0.0, None, True, False, ""],
    {"é": 'ü\n\t"\\/\u2028', "nested": {"a": [{"b": []}, {}]}, "1": 0},
    "a string",
    12,
    float("nan"),
    {1: "int key", None: "null key", 2.5: "float key"},
]


@pytest.mark.parametrize("value", SAMPLES, ids=range(len(SAMPLES)))
def test_response_json_is_what_json_dumps_gives(value):
    """Response.json's encoder, built once, writes what json.dumps with the same settings
    writes (compact, UTF-8 kept as is)."""
    expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    response = Response.json(value)
    assert response.body == expected
    assert response.headers == [("content-type", "application/json")]


def test_response_json_refuses_what_json_cannot_write():
    cyclic: list = []
    cyclic.append(cyclic)
    with pytest.raises((ValueError, RecursionError)):  # a handler's bug: a 500 either way
        Response.json(cyclic)
    with pytest.raises(TypeError, match="not JSON serializable"):
        Response.json({"x": object()})
    assert Response.json({"ok": 1}).body == b'{"ok":1}'  # nothing left over from a failure
