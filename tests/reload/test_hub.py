"""The live-reload hub without a server: which responses `inject` rewrites and how, the
events it writes into open streams, the version pages compare, and its answer once closed.
Also the pure helpers of the reloader: watch plans, served URLs, route diffs, noise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.config.schema import GatewayConfig, ServerSpec, StaticSpec
from gateway.http.headers import Headers
from gateway.livereload import LiveReload, is_reserved
from gateway.reload.changes import served_at, watch_plan
from gateway.reload.watch import is_noise
from gateway.request import Request
from gateway.response import FileBody, Response

MARK = b"<script data-gateway-live-reload>"


def get(method: str = "GET") -> Request:
    return Request(method, "/", Headers([("host", "t")]))


def html(body: bytes | FileBody, status: int = 200, *headers: tuple[str, str]) -> Response:
    return Response(status, body, [("content-type", "text/html; charset=utf-8"), *headers])


def test_inject_puts_the_client_before_the_last_body_end_tag():
    page = LiveReload().inject(get(), html(b"<body><p>a</p></BODY>\n<!-- </body> --></body>"))
    assert isinstance(page.body, bytes)
    head, _, tail = page.body.partition(MARK)
    assert head == b"<body><p>a</p></BODY>\n<!-- </body> -->"
    assert tail.endswith(b"</script>\n</body>")


def test_inject_reads_a_file_body_from_its_offset_and_closes_it(tmp_path: Path):
    path = tmp_path / "page.html"
    path.write_bytes(b"xxxx<body>hi</body>")
    fd = os.open(path, os.O_RDONLY)
    body = FileBody(fd, 4, 15)
    page = LiveReload().inject(get(), html(body, 200, ("etag", '"1"'), ("last-modified", "x")))
    assert body.fd == -1
    with pytest.raises(OSError):
        os.fstat(fd)
    assert isinstance(page.body, bytes) and page.body.startswith(b"<body>hi" + MARK)
    assert [n for n, _ in page.headers] == ["content-type", "cache-control"]
    assert page.get_header("cache-control") == "no-store"


@pytest.mark.parametrize(
    ("request_method", "response"),
    [
        ("HEAD", html(b"<body></body>")),
        ("GET", html(b"<body></body>", 206, ("content-range", "bytes 0-12/20"))),
        ("GET", html(b"", 304)),
        ("GET", html(b"<body></body>", 200, ("content-encoding", "gzip"))),
        ("GET", Response(200, b"<body></body>", content_type="text/plain")),
        ("GET", Response(200, iter([b"<body></body>"]), content_type="text/html")),
    ],
    ids=["head", "range", "not-modified", "encoded", "not-html", "streamed"],
)
def test_inject_leaves_other_answers_alone(request_method: str, response: Response):
    body = response.body
    assert LiveReload().inject(get(request_method), response).body is body


def test_streams_get_hello_then_events_and_end_on_close():
    hub = LiveReload()
    response = hub.open_stream()
    stream = response.body
    assert response.get_header("content-type") == "text/event-stream"
    hello = stream.take()  # type: ignore[union-attr]
    assert hello.startswith(b'retry: 500\nevent: hello\ndata: {"version": "')
    version = hub.version
    hub.restyle(["/a.css"])
    hub.failed("gateway.toml:3: <oops>")
    hub.reload()  # a static file changed: the build is still broken
    assert hub.error == "gateway.toml:3: <oops>"
    hub.reload(built=True)
    sent = stream.take()  # type: ignore[union-attr]
    assert b'event: css\ndata: {"version": "' in sent and b'"paths": ["/a.css"]}' in sent
    assert b'event: broken\ndata: {"message": "gateway.toml:3: <oops>"}\n\n' in sent
    assert sent.endswith(b'event: reload\ndata: {"version": "' + hub.version.encode() + b'"}\n\n')
    assert hub.version != version and hub.error is None
    hub.close()
    assert stream.take() is None  # type: ignore[union-attr]
    stream.close()  # type: ignore[union-attr]
    assert not hub.streams
    ended = hub.open_stream()
    assert (ended.status, ended.body) == (200, b"retry: 500\n\n")


def test_reserved_paths():
    assert is_reserved("/__gateway") and is_reserved("/__gateway/x/{y}")
    assert not is_reserved("/__gatewayx") and not is_reserved("/api/__gateway")


def test_the_watch_plan_skips_folders_inside_recursive_watches(tmp_path: Path):
    site, outside = tmp_path / "site", tmp_path / "assets"
    (site / "public").mkdir(parents=True)
    outside.mkdir()
    config = GatewayConfig(
        path=site / "gateway.toml",
        server=ServerSpec(root=site),
        static=(StaticSpec("/", site / "public"), StaticSpec("/a", outside)),
        errors={404: site / "404.html", 500: tmp_path / "pages/500.html"},
    )
    assert watch_plan(site / "gateway.toml", config) == [
        (str(site), True),
        (str(outside), True),
        (str(tmp_path / "pages"), False),
    ]


def test_served_at_maps_files_to_urls_and_hides_dotfiles(tmp_path: Path):
    config = GatewayConfig(
        path=tmp_path / "g.toml",
        static=(
            StaticSpec("/", tmp_path / "public"),
            StaticSpec("/s/", tmp_path / "public/css"),
        ),
    )
    assert served_at(str(tmp_path / "public/css/a.css"), config) == ["/css/a.css", "/s/a.css"]
    assert served_at(str(tmp_path / "public/.env"), config) == []
    assert served_at(str(tmp_path / "public"), config) == ["/"]
    assert served_at(str(tmp_path / "api/x.py"), config) == []


@pytest.mark.parametrize(
    ("path", "noise"),
    [
        ("/s/app.py", False),
        ("/s/..data", False),
        ("/s/api/__pycache__/a.pyc", True),
        ("/s/.git/index", True),
        ("/s/.app.py.swp", True),
        ("/s/4913", True),
        ("/s/a.py~", True),
        ("/s/.#a.py", True),
    ],
)
def test_editor_and_cache_files_are_noise(path: str, noise: bool):
    assert is_noise(path) is noise
