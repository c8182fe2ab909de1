"""The 405 that lied (issue 9): `POST /api/items/` when only `POST /api/items` exists fell
to the static mount at / and got its 405 with `Allow: GET, HEAD, OPTIONS`. Now it is a 308
to the route (the method kept), or a 404 with `trailing_slash = "strict"`; the mount's 405
stays where the mount really has a file."""

from __future__ import annotations

import httpx

from gateway.testing import Transport
from tests.support import write_site

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    trailing_slash = "{mode}"

    [[static]]
    prefix = "/"
    dir = "public"

    [[route]]
    path = "/api/items"
    methods = ["POST"]
    respond = {{ status = 201, body = "made" }}

    [[route]]
    path = "/api/tags/"
    methods = ["PUT"]
    respond = {{ status = 200, body = "tagged" }}
"""
FILES = {"public/index.html": "home"}


def client(tmp_path, mode: str) -> httpx.Client:
    config = write_site(tmp_path, SITE.format(mode=mode), FILES)
    return httpx.Client(transport=Transport(config), base_url="http://test")


def test_the_other_slash_form_of_a_route_is_a_308_that_keeps_the_method(tmp_path) -> None:
    with client(tmp_path, "redirect") as http:
        response = http.post("/api/items/?x=1")
        assert (response.status_code, response.headers["location"]) == (308, "/api/items?x=1")
        assert "allow" not in response.headers
        assert http.post("/api/items").status_code == 201
        response = http.put("/api/tags")
        assert (response.status_code, response.headers["location"]) == (308, "/api/tags/")


def test_strict_mode_says_404_not_the_mounts_methods(tmp_path) -> None:
    with client(tmp_path, "strict") as http:
        for method, path in (("PUT", "/api/tags"), ("POST", "/api/items/")):
            response = http.request(method, path)
            assert response.status_code == 404 and "allow" not in response.headers


def test_the_mounts_405_stays_where_it_has_a_file(tmp_path) -> None:
    with client(tmp_path, "redirect") as http:
        # public/api/items/index.html: the mount answers /api/items/ itself (405 is true).
        (tmp_path / "public" / "api" / "items").mkdir(parents=True)
        (tmp_path / "public" / "api" / "items" / "index.html").write_text("a page")
        response = http.post("/api/items/")
        assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD, OPTIONS"
        # No route at either form: the mount's own answer, as before.
        response = http.delete("/index.html")
        assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD, OPTIONS"
