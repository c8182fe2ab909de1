"""StaticMount.serve: headers of a plain file, folders (redirect, index, listing), the SPA
fallback, cache rules, dotfiles, precompressed variants, config errors and fd hygiene."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from gateway.config.schema import CacheRuleSpec
from gateway.errors import ConfigError
from gateway.response import FileBody
from gateway.static.conditional import make_etag

LM = "Tue, 14 Nov 2023 22:13:20 GMT"
HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_plain_file(tree: Path, client: Any) -> None:
    response = client.ok(client.mount(tree), "/about.txt")
    assert response.status == 200
    assert response.headers == [
        ("content-type", "text/plain; charset=utf-8"),
        ("accept-ranges", "bytes"),
        ("last-modified", LM),
        ("etag", make_etag(os.stat(tree / "about.txt"))),
        ("x-content-type-options", "nosniff"),
    ]
    assert isinstance(response.body, FileBody)
    assert (response.body.offset, response.body.length) == (0, 8)
    assert client.body(response) == b"about us"


def test_head_gets_the_same_headers(tree: Path, client: Any) -> None:
    mount = client.mount(tree)
    get = client.ok(mount, "/about.txt")
    head = client.ok(mount, "/about.txt", method="HEAD")
    assert head.status == 200 and head.headers == get.headers
    assert head.body.length == 8  # the writer takes Content-Length from it and sends no body


def test_html_defaults_to_no_cache(tree: Path, client: Any) -> None:
    response = client.ok(client.mount(tree), "/index.html")
    assert response.get_header("content-type") == "text/html; charset=utf-8"
    assert response.get_header("cache-control") == "no-cache"


def test_missing_and_odd_paths(tree: Path, client: Any) -> None:
    mount = client.mount(tree)
    assert client.get(mount, "/missing.txt") is None
    assert client.get(mount, "/about.txt/") is None  # a file is not a folder
    assert client.get(mount, "/about.txt/x") is None
    assert client.get(mount, "/docs//guide.md", rest=("docs", "", "guide.md")) is None


def test_fifo_is_not_a_file(tree: Path, client: Any) -> None:
    os.mkfifo(tree / "pipe")  # a blocking open would hang the loop; this must return at once
    assert client.get(client.mount(tree), "/pipe") is None


def test_prefix_mount(tree: Path, client: Any) -> None:
    mount = client.mount(tree, prefix="/static/")
    assert client.body(client.ok(mount, "/static/about.txt")) == b"about us"
    redirect = client.ok(mount, "/static")
    assert (redirect.status, redirect.get_header("location")) == (308, "/static/")


def test_configured_headers(tree: Path, client: Any) -> None:
    mount = client.mount(
        tree,
        headers=[("Cache-Control", "private"), ("X-Frame-Options", "DENY")],
        cache=[CacheRuleSpec("*.txt", "public, max-age=60")],
    )
    response = client.ok(mount, "/about.txt")
    assert response.get_header("cache-control") == "private"  # replaces the computed one
    assert [v for n, v in response.headers if n == "cache-control"] == ["private"]
    assert response.get_header("x-frame-options") == "DENY"


def test_file_changing_after_open(tree: Path, client: Any) -> None:
    # The length comes from fstat of the open fd; if the file then shrinks, the server's
    # sendfile comes up short and it closes the connection rather than send wrong bytes.
    response = client.ok(client.mount(tree), "/app.js")
    os.truncate(tree / "app.js", 10)
    assert response.body.length == 1000


# -- folders -------------------------------------------------------------------------------


def test_folder_redirect_is_empty(tree: Path, client: Any) -> None:
    response = client.ok(client.mount(tree), "/docs", query="a=1&b")
    assert response.status == 308
    assert response.headers == [("location", "/docs/?a=1&b")]
    assert response.body == b""


def test_folder_redirect_encodes_the_path(tree: Path, client: Any) -> None:
    name = "<script>alert(1)<script> ?#"
    client.write(tree / name / "index.html", "x")
    response = client.ok(client.mount(tree), "/x", rest=(name,))
    assert response.headers == [("location", "/%3Cscript%3Ealert(1)%3Cscript%3E%20%3F%23/")]
    assert response.body == b""


def test_folder_index(tree: Path, client: Any) -> None:
    mount = client.mount(tree)
    docs = client.ok(mount, "/docs/")
    assert client.body(docs) == b"<h1>docs</h1>"
    assert docs.get_header("content-type") == "text/html; charset=utf-8"
    root = client.ok(mount, "/")
    assert client.body(root) == b"<h1>home</h1>"


def test_index_order(tree: Path, client: Any) -> None:
    client.write(tree / "docs" / "index.htm", "htm")
    mount = client.mount(tree, index=["index.htm", "index.html"])
    assert client.body(client.ok(mount, "/docs/")) == b"htm"


def test_folder_without_index(tree: Path, client: Any) -> None:
    mount = client.mount(tree)
    assert client.get(mount, "/nodir/") is None
    assert client.get(mount, "/nodir") is None  # no redirect to a folder that cannot answer


def test_listing(tree: Path, client: Any) -> None:
    names = ["<script>alert(1).txt", "<img src=x onerror=alert(1)>", "a&b.txt", 'q"uote.txt']
    for name in [*names, "javascript:alert(1)"]:
        client.write(tree / "nodir" / name, "x")
    client.write(tree / "nodir" / ".secret", "x")
    client.write(tree / "nodir" / "sub" / "deep.txt", "x")
    mount = client.mount(tree, listing=True)
    assert client.ok(mount, "/nodir").status == 308
    response = client.ok(mount, "/nodir/")
    assert response.status == 200
    assert response.get_header("content-type") == "text/html; charset=utf-8"
    page = response.body.decode()
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1).txt" in page
    assert 'href="./%3Cscript%3Ealert%281%29.txt"' in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert 'href="./javascript%3Aalert%281%29"' in page
    assert "a&amp;b.txt" in page and "q&quot;uote.txt" in page
    assert 'href="./sub/"' in page and 'href="../"' in page
    assert ".secret" not in page
    assert "Index of /nodir/" in page


def test_listing_policies(tree: Path, client: Any) -> None:
    os.symlink(tree.parent / "outside.txt", tree / "nodir" / "out.txt")
    os.symlink("a.txt", tree / "nodir" / "alias.txt")
    inside = client.ok(client.mount(tree, listing=True), "/nodir/").body.decode()
    assert "out.txt" not in inside and "alias.txt" in inside
    denied = client.ok(client.mount(tree, listing=True, symlinks="deny"), "/nodir/").body.decode()
    assert "alias.txt" not in denied
    root = client.ok(client.mount(tree, listing=True, index=[]), "/").body.decode()
    assert ".well-known" in root and ".env" not in root and 'href="../"' not in root
    shown = client.ok(client.mount(tree, listing=True, index=[], dotfiles="allow"), "/")
    assert ".env" in shown.body.decode()


# -- SPA fallback --------------------------------------------------------------------------


def test_fallback(tree: Path, client: Any) -> None:
    mount = client.mount(tree, fallback="index.html")
    response = client.ok(mount, "/app/settings", HTML)
    assert response.status == 200
    assert client.body(response) == b"<h1>home</h1>"
    assert response.get_header("cache-control") == "no-cache"
    assert client.ok(mount, "/app/settings/", HTML).status == 200
    assert client.ok(mount, "/nodir/", HTML).status == 200  # a folder with no index
    assert client.ok(mount, "/app/settings", HTML, method="HEAD").status == 200
    assert client.body(client.ok(mount, "/about.txt", HTML)) == b"about us"  # files first


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/app/x.js", HTML),  # looks like an asset
        ("/app/v1.2", HTML),
        ("/app/settings", {"accept": "*/*"}),  # fetch() and scripts
        ("/app/settings", {"accept": "text/html;q=0"}),
        ("/app/settings", {}),
        ("/.env", HTML),  # dotfiles = "deny" is a firm 404
        ("/.git/HEAD", HTML),
    ],
)
def test_no_fallback(tree: Path, client: Any, path: str, headers: dict[str, str]) -> None:
    assert client.get(client.mount(tree, fallback="index.html"), path, headers) is None


def test_fallback_and_dotfiles_ignore(tree: Path, client: Any) -> None:
    mount = client.mount(tree, fallback="index.html", dotfiles="ignore")
    assert client.body(client.ok(mount, "/.env", HTML)) == b"<h1>home</h1>"  # as if absent


def test_fallback_path_forms(tree: Path, client: Any) -> None:
    client.write(tree / "app" / "shell.html", "shell")
    for fallback in ["./app/shell.html", "/app//shell.html"]:
        mount = client.mount(tree, fallback=fallback)
        assert client.body(client.ok(mount, "/x", HTML)) == b"shell"


def test_fallback_file_missing(tree: Path, client: Any) -> None:
    mount = client.mount(tree, fallback="app/shell.html")
    assert client.get(mount, "/anything", HTML) is None
    client.write(tree / "app" / "shell.html", "shell")
    assert client.body(client.ok(mount, "/anything", HTML)) == b"shell"


def test_fallback_precompressed(tree: Path, client: Any) -> None:
    client.write(tree / "index.html.br", b"brotli html")
    mount = client.mount(tree, fallback="index.html", precompressed=["br"])
    response = client.ok(mount, "/deep/link", {**HTML, "accept-encoding": "br"})
    assert response.get_header("content-encoding") == "br"
    assert response.get_header("content-type") == "text/html; charset=utf-8"


# -- cache rules, dotfiles ------------------------------------------------------------------


def test_cache_rules(tree: Path, client: Any) -> None:
    mount = client.mount(
        tree,
        cache=[
            CacheRuleSpec("assets/**", "public, max-age=31536000, immutable"),
            CacheRuleSpec("*.css", "public, max-age=60"),
            CacheRuleSpec("docs/*", "public, max-age=5"),
        ],
    )

    def control(path: str) -> str | None:
        value: str | None = client.ok(mount, path).get_header("cache-control")
        return value

    assert control("/assets/css/site.css") == "public, max-age=31536000, immutable"
    assert control("/assets/img/logo.png") == "public, max-age=31536000, immutable"
    assert control("/assets/top.css") == "public, max-age=31536000, immutable"
    assert control("/only-gz.css") == "public, max-age=60"
    assert control("/docs/") == "public, max-age=5"  # the index file's own path: docs/index.html
    assert control("/index.html") == "no-cache"
    assert control("/about.txt") is None


@pytest.mark.parametrize("dotfiles", ["deny", "ignore", "allow"])
def test_dotfiles(tree: Path, client: Any, dotfiles: str) -> None:
    mount = client.mount(tree, dotfiles=dotfiles)
    env = client.get(mount, "/.env")
    hidden = client.get(mount, "/.hidden/x.txt")
    if dotfiles == "allow":
        assert client.body(env) == b"SECRET=1" and client.body(hidden) == b"hidden"
    else:
        assert env is None and hidden is None
    well_known = client.ok(mount, "/.well-known/security.txt")
    assert client.body(well_known).startswith(b"Contact:")


# -- precompressed -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept_encoding", "order", "coding"),
    [
        ("gzip, deflate, br", ["br", "gzip"], "br"),
        ("gzip, deflate, br", ["gzip", "br"], "gzip"),  # the mount's order decides
        ("gzip", ["br", "gzip"], "gzip"),
        ("br;q=0, gzip", ["br", "gzip"], "gzip"),
        ("*", ["br", "gzip"], "br"),
        ("br;q=0, *", ["br", "gzip"], "gzip"),
        ("*;q=0", ["br", "gzip"], None),
        ("identity", ["br", "gzip"], None),
        ("x-gzip", ["br", "gzip"], "gzip"),
        (None, ["br", "gzip"], None),
        ("zstd", ["br", "gzip", "zstd"], None),  # accepted, but there is no app.js.zst
    ],
)
def test_precompressed(
    tree: Path, client: Any, accept_encoding: str | None, order: list[str], coding: str | None
) -> None:
    mount = client.mount(tree, precompressed=order)
    headers = {} if accept_encoding is None else {"accept-encoding": accept_encoding}
    response = client.ok(mount, "/app.js", headers)
    assert response.get_header("content-encoding") == coding
    assert response.get_header("content-type") == "text/javascript; charset=utf-8"
    assert response.get_header("vary") == "accept-encoding"  # identity answers vary too
    expected = {"br": b"BR" * 10, "gzip": b"GZ" * 20, None: client.JS}[coding]
    assert client.body(response) == expected
    suffix = {"br": "-br", "gzip": "-gzip", None: ""}[coding]
    assert response.get_header("etag").endswith(f'{suffix}"')


def test_precompressed_vary_only_with_a_variant(tree: Path, client: Any) -> None:
    mount = client.mount(tree, precompressed=["br", "gzip"])
    assert client.ok(mount, "/about.txt", {"accept-encoding": "br"}).get_header("vary") is None
    only_gz = client.ok(mount, "/only-gz.css", {"accept-encoding": "br"})
    assert only_gz.get_header("vary") == "accept-encoding"  # a .gz exists, though not chosen
    assert only_gz.get_header("content-encoding") is None
    off = client.ok(client.mount(tree), "/app.js", {"accept-encoding": "br"})
    assert off.get_header("vary") is None and off.get_header("content-encoding") is None


def test_precompressed_variant_must_be_a_file(tree: Path, client: Any) -> None:
    (tree / "app.js.br").unlink()
    (tree / "app.js.br").mkdir()
    mount = client.mount(tree, precompressed=["br", "gzip"])
    response = client.ok(mount, "/app.js", {"accept-encoding": "br, gzip"})
    assert response.get_header("content-encoding") == "gzip"


def test_precompressed_needs_the_original(tree: Path, client: Any) -> None:
    client.write(tree / "ghost.js.br", b"x")
    mount = client.mount(tree, precompressed=["br"])
    assert client.get(mount, "/ghost.js", {"accept-encoding": "br"}) is None


def test_stored_gzip_is_not_content_encoded(tree: Path, client: Any) -> None:
    response = client.ok(client.mount(tree, precompressed=["gzip"]), "/app.js.gz")
    assert response.get_header("content-type") == "application/gzip"
    assert response.get_header("content-encoding") is None


# -- config, fds ---------------------------------------------------------------------------


def test_from_spec_errors(tree: Path, client: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        client.mount(
            tree / "nope",
            index=["../index.html"],
            fallback="../index.html",
            precompressed=["br", "deflate"],
            cache=[CacheRuleSpec("[z-a]", "x")],
        )
    keys = [issue.key for issue in caught.value.issues]
    assert keys == ["index[0]", "fallback", "precompressed[1]", "dir", "cache"]
    assert "unknown coding 'deflate': use 'br', 'gzip', 'zstd'" in str(caught.value)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_no_fd_leaks(tree: Path, client: Any) -> None:
    os.symlink(tree.parent / "outside.txt", tree / "out.txt")
    mount = client.mount(tree, precompressed=["br", "gzip"], fallback="index.html", listing=True)
    etag = client.ok(mount, "/about.txt").get_header("etag")
    client.close()
    client.responses.clear()
    requests: list[tuple[str, dict[str, str]]] = [
        ("/about.txt", {}),
        ("/app.js", {"accept-encoding": "br"}),
        ("/app.js", {"accept-encoding": "gzip", "range": "bytes=0-3"}),
        ("/app.js", {"range": "bytes=0-3,10-12"}),
        ("/app.js", {"range": "bytes=5000-"}),
        ("/about.txt", {"if-none-match": etag}),
        ("/about.txt", {"if-match": '"nope"'}),
        ("/docs", {}),
        ("/docs/", {}),
        ("/nodir/", {}),
        ("/out.txt", {}),
        ("/missing", HTML),
        ("/missing.js", HTML),
        ("/about.txt/", {}),
        ("/.env", {}),
    ]
    mount.close()  # the open-file cache keeps fds by design: count from empty to empty
    before = _open_fds()
    for i in range(200):
        path, headers = requests[i % len(requests)]
        response = client.get(mount, path, headers)
        if response is not None:
            response.close()
    client.responses.clear()
    assert _open_fds() - before <= 8  # cached: about.txt, app.js and its variants, index
    mount.close()
    assert _open_fds() == before


def test_cached_fd_survives_until_its_response_is_done(tree: Path, client: Any) -> None:
    mount = client.mount(tree)
    first = client.ok(mount, "/about.txt")
    (tree / "about.txt").write_text("changed content")  # new size: the cache must reopen
    second = client.ok(mount, "/about.txt")
    assert first.body.fd != second.body.fd or first.body.length != second.body.length
    assert os.pread(first.body.fd, 100, 0)  # the old fd is still open for its response
    first.close()
    second.close()
    mount.close()
