"""Fixtures for gateway.static: a small tree on disk and a client that calls
StaticMount.serve directly with hand-built Requests and closes every response it got.
Test modules get helpers through the `client` fixture (never by importing this file, which
would clash with other test folders' conftest modules)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.config.schema import StaticSpec
from gateway.http.headers import Headers
from gateway.request import Request
from gateway.response import FileBody, Response
from gateway.static.files import StaticMount

JS = b"0123456789" * 100  # 1000 bytes, so ranges are easy to check by eye
MTIME = 1_700_000_000  # Tue, 14 Nov 2023 22:13:20 GMT


def write(path: Path, data: bytes | str, mtime: int = MTIME) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """tmp_path/public, plus a sibling public_private and an outside.txt next to it."""
    root = tmp_path / "public"
    write(root / "index.html", "<h1>home</h1>")
    write(root / "about.txt", "about us")
    write(root / "app.js", JS)
    write(root / "app.js.br", b"BR" * 10)
    write(root / "app.js.gz", b"GZ" * 20)
    write(root / "only-gz.css", "body{}")
    write(root / "only-gz.css.gz", b"gzipped css")
    write(root / "empty.txt", b"")
    write(root / "docs" / "index.html", "<h1>docs</h1>")
    write(root / "docs" / "guide.md", "# guide")
    write(root / "assets" / "css" / "site.css", "a{}")
    write(root / "assets" / "img" / "logo.png", b"\x89PNG")
    write(root / "assets" / "top.css", "b{}")
    write(root / "nodir" / "a.txt", "a")
    write(root / ".env", "SECRET=1")
    write(root / ".hidden" / "x.txt", "hidden")
    write(root / ".well-known" / "security.txt", "Contact: mailto:sec@example.com")
    write(tmp_path / "public_private" / "secret.txt", "private")
    write(tmp_path / "outside.txt", "outside")
    return root


def split(prefix: str, path: str) -> tuple[str, ...]:
    """What the router hands a mount: the segments after the prefix ("" last for a slash)."""
    tail = path[len(prefix.rstrip("/")) :]
    return () if tail == "" else tuple(tail[1:].split("/"))


class Client:
    def __init__(self) -> None:
        self.responses: list[Response] = []
        self.mounts: list[StaticMount] = []

    def mount(self, root: Path, **options: Any) -> StaticMount:
        options.setdefault("prefix", "/")
        mount = StaticMount.from_spec(StaticSpec(dir=root, **options))
        self.mounts.append(mount)  # closed at the end, so cached fds go back to the budget
        return mount

    def get(
        self,
        mount: StaticMount,
        path: str,
        headers: dict[str, str] | list[tuple[str, str]] | None = None,
        *,
        method: str = "GET",
        query: str = "",
        rest: tuple[str, ...] | None = None,
    ) -> Response | None:
        items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        request = Request(method, path, Headers(items), query_string=query)
        response = mount.serve(request, split(mount.prefix, path) if rest is None else rest)
        if response is not None:
            self.responses.append(response)
        return response

    @staticmethod
    def request(path: str, headers: dict[str, str] | None = None, method: str = "GET") -> Request:
        return Request(method, path, Headers(list((headers or {}).items())))

    def ok(self, mount: StaticMount, path: str, headers: Any = None, **kw: Any) -> Response:
        response = self.get(mount, path, headers, **kw)
        assert response is not None, f"{path} gave None"
        return response

    def close(self) -> None:
        for response in self.responses:
            response.close()
        self.responses.clear()

    JS = JS
    MTIME = MTIME
    write = staticmethod(write)

    @staticmethod
    def body(response: Response) -> bytes:
        """The bytes a response would send, read without moving any file offset."""
        body = response.body
        if isinstance(body, FileBody):
            assert body.fd >= 0, "file body already closed"
            return os.pread(body.fd, body.length, body.offset)
        assert isinstance(body, bytes)
        return body


@pytest.fixture
def client() -> Iterator[Client]:
    c = Client()
    yield c
    c.close()
    for mount in c.mounts:
        mount.close()
