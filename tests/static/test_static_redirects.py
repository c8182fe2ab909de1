"""Folder redirects never loop (issue 9, "Redirect loop /docs <-> /docs/"): a mount sends
`/dir` to `/dir/` only when it answers `/dir/` itself, and `StaticMount.answers` tells the app
whether the other slash form would be answered before the app redirects a miss there. With a
mount at / and one at /docs whose folder has no index, and with a folder emptied while the
server runs."""

from __future__ import annotations

import random

import httpx

from tests.support import running_server, write_site

HTML = {"accept": "text/html"}


def test_a_folder_without_index_or_listing_is_a_miss_in_both_forms(tmp_path, client) -> None:
    client.write(tmp_path / "public" / "index.html", "home")
    client.write(tmp_path / "docsdir" / "guide.txt", "guide")
    root = client.mount(tmp_path / "public", prefix="/")
    docs = client.mount(tmp_path / "docsdir", prefix="/docs")
    # What the router hands each: /docs to the / mount, /docs/ to the /docs mount.
    assert client.get(root, "/docs") is None
    assert client.get(docs, "/docs/") is None
    assert not root.answers(client.request("/docs"), ("docs",))
    assert not docs.answers(client.request("/docs/"), ("",))
    client.write(tmp_path / "docsdir" / "index.html", "docs home")
    assert docs.answers(client.request("/docs/"), ("",))
    assert client.body(client.ok(docs, "/docs/")) == b"docs home"


def test_a_folder_emptied_while_serving_stops_redirecting(tree, client) -> None:
    mount = client.mount(tree)
    redirect = client.ok(mount, "/docs")
    assert (redirect.status, redirect.get_header("location")) == (308, "/docs/")
    assert mount.answers(client.request("/docs/"), ("docs", ""))
    assert not mount.answers(client.request("/docs"), ("docs",))  # a redirect is no answer
    for name in ("index.html", "guide.md"):
        (tree / "docs" / name).unlink()  # the build step cleans the folder; the fd is cached
    assert client.get(mount, "/docs") is None
    assert client.get(mount, "/docs/") is None
    assert not mount.answers(client.request("/docs/"), ("docs", ""))


def test_listing_and_fallback_answer_in_place_or_after_one_redirect(tree, client) -> None:
    listing = client.mount(tree, listing=True)
    assert client.ok(listing, "/nodir").status == 308
    assert client.ok(listing, "/nodir/").status == 200
    spa = client.mount(tree, fallback="index.html")
    # The SPA shell answers the folder in place: no redirect to a form it also answers.
    assert client.ok(spa, "/nodir", HTML).status == 200
    assert client.ok(spa, "/nodir/", HTML).status == 200
    assert client.get(spa, "/nodir") is None  # not a browser: a plain miss


def test_no_layout_redirects_to_a_form_that_is_not_answered(tmp_path, client) -> None:
    """Property: over random trees and mount options, whenever serve() redirects a folder,
    the location is that folder's slash form and serve() answers it with content."""
    rng = random.Random(9)
    for case in range(40):
        root = tmp_path / f"t{case}"
        folders = ["a", "a/b", "c", "c/d/e", "f"]
        for folder in folders:
            (root / folder).mkdir(parents=True, exist_ok=True)
            if rng.random() < 0.4:
                client.write(root / folder / "index.html", folder)
            if rng.random() < 0.3:
                client.write(root / folder / "x.txt", "x")
        if rng.random() < 0.5:
            client.write(root / "shell.html", "shell")
        options = {
            "listing": rng.random() < 0.3,
            "index": rng.choice([["index.html"], [], ["missing.html", "index.html"]]),
        }
        if (root / "shell.html").exists() and rng.random() < 0.5:
            options["fallback"] = "shell.html"
        mount = client.mount(root, **options)
        for folder in folders:
            for headers in (HTML, {}):
                response = client.get(mount, f"/{folder}", headers)
                if response is None or response.status != 308:
                    continue
                assert response.get_header("location") == f"/{folder}/"
                slash = client.get(mount, f"/{folder}/", headers)
                assert slash is not None and slash.status == 200, (case, folder, options)


# -- through a real server: the app's half ------------------------------------------------

TWO_MOUNTS = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"

    [[static]]
    prefix = "/"
    dir = "public"

    [[static]]
    prefix = "/docs"
    dir = "docsdir"
"""


def redirects_of(url: str, path: str) -> list[str]:
    """The Location of each redirect followed from `path`, stopping at a repeat."""
    seen: list[str] = []
    with httpx.Client(base_url=url) as client:
        while path not in seen and len(seen) < 5:
            seen.append(path)
            response = client.get(path, headers=HTML)
            if response.status_code not in (301, 302, 307, 308):
                return seen[1:]
            path = response.headers["location"]
    raise AssertionError(f"redirect loop: {' -> '.join([*seen, path])}")


def test_two_mounts_and_a_folder_without_index_give_404_not_a_loop(tmp_path) -> None:
    config = write_site(
        tmp_path, TWO_MOUNTS, {"public/index.html": "home", "docsdir/guide.txt": "guide"}
    )
    with running_server(config) as running:
        for path in ("/docs", "/docs/"):
            assert redirects_of(running.url, path) == []
            assert httpx.get(running.url + path).status_code == 404
        assert httpx.get(running.url + "/docs/guide.txt").text == "guide"


def test_two_mounts_and_a_folder_emptied_while_serving(tmp_path) -> None:
    config = write_site(
        tmp_path, TWO_MOUNTS, {"public/index.html": "home", "docsdir/index.html": "docs"}
    )
    with running_server(config) as running:
        assert redirects_of(running.url, "/docs") == ["/docs/"]
        assert httpx.get(running.url + "/docs/").text == "docs"
        (tmp_path / "docsdir" / "index.html").unlink()
        for path in ("/docs", "/docs/"):
            assert redirects_of(running.url, path) == []
            assert httpx.get(running.url + path).status_code == 404


def test_one_mount_and_a_folder_emptied_while_serving(tmp_path) -> None:
    config = write_site(
        tmp_path,
        TWO_MOUNTS.split('[[static]]\n    prefix = "/docs"')[0],
        {"public/index.html": "home", "public/docs/index.html": "docs"},
    )
    with running_server(config) as running:
        assert redirects_of(running.url, "/docs") == ["/docs/"]
        (tmp_path / "public" / "docs" / "index.html").unlink()
        for path in ("/docs", "/docs/"):
            assert redirects_of(running.url, path) == []
            assert httpx.get(running.url + path).status_code == 404
