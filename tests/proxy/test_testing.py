"""gateway.testing with a proxy route: a clear ProxyRouteError naming the request, the route
and its upstream; the site's other routes still answer through the same Transport."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gateway.testing import ProxyRouteError, Transport
from tests.support import write_site


def test_a_proxy_route_is_refused_by_name_and_other_routes_answer(tmp_path: Path) -> None:
    path = write_site(
        tmp_path,
        """
        [[route]]
        path = "/hello"
        respond = { body = "hi" }

        [[route]]
        path = "/api/{rest:path}"
        methods = ["*"]
        proxy = "http://127.0.0.1:9"
        """,
    )
    with httpx.Client(transport=Transport(path), base_url="http://test") as client:
        assert client.get("/hello").text == "hi"
        with pytest.raises(ProxyRouteError) as caught:
            client.post("/api/items", content=b"x")
    message = str(caught.value)
    assert "POST '/api/items'" in message and "/api/{rest:path}" in message
    assert "proxy 127.0.0.1:9" in message and "gateway serve" in message
    assert isinstance(caught.value, NotImplementedError)
