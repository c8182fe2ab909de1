"""safe_join: traversal vectors (as they arrive after the router's single decode), symlink
policies, dotfile policies; and the same vectors through StaticMount.serve, which must agree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.static import files
from gateway.static.paths import bad_segment, inside, safe_join

MODES = ("inside", "follow", "deny")

# Each is a tuple of already-decoded segments; every one must give None in every mode.
REJECTED: list[tuple[str, ...]] = [
    ("..",),
    ("..", "etc", "passwd"),
    ("a", "..", ".."),
    ("docs", "..", "..", "outside.txt"),
    (".",),
    ("a", ".", "b"),
    ("../etc/passwd",),  # %2E%2E%2Fetc%2Fpasswd decoded in one segment
    ("..", "public_private", "secret.txt"),
    ("../public_private/secret.txt",),
    ("..\\..\\etc\\passwd",),  # %5C
    ("docs\\..\\..\\outside.txt",),
    ("a\\b",),
    ("\\etc\\passwd",),
    ("\\\\server\\share",),
    ("..\\",),
    ("/etc/passwd",),  # an absolute path in one segment (%2Fetc%2Fpasswd)
    ("/",),
    ("docs", "/etc"),
    ("docs", "/"),
    ("index.html\x00.png",),
    ("\x00",),
    ("..\x00",),
    ("docs", "index.html\x00"),
    ("C:",),
    ("C:\\Windows\\win.ini",),
    ("c:foo",),
    ("a:b",),
    ("Z:..",),
    ("docs", "D:"),
    ("", "etc"),  # an empty segment that is not the last
    ("docs", "", "index.html"),
    ("a/../../outside.txt",),
    (".well-known", ".."),
    ("docs/../../outside.txt",),
]

# Odd names that are still plain names inside root: never decoded a second time.
LITERAL: list[tuple[str, ...]] = [
    ("%2e%2e",),
    ("%2e%2e%2fetc%2fpasswd",),
    ("..%2f..",),
    ("%252e%252e",),
    ("~root",),
    ("$HOME",),
    ("ab:c",),
    ("a b",),
    ("é",),
    ("docs", "%00"),
]


@pytest.mark.parametrize("segments", REJECTED, ids=repr)
@pytest.mark.parametrize("symlinks", MODES)
def test_rejected_vectors(tree: Path, segments: tuple[str, ...], symlinks: str) -> None:
    for dotfiles in ("deny", "allow", "ignore"):
        assert safe_join(str(tree), segments, symlinks=symlinks, dotfiles=dotfiles) is None


@pytest.mark.parametrize("segments", LITERAL, ids=repr)
@pytest.mark.parametrize("symlinks", MODES)
def test_literal_names_stay_inside(tree: Path, segments: tuple[str, ...], symlinks: str) -> None:
    joined = safe_join(str(tree), segments, symlinks=symlinks, dotfiles="allow")
    assert joined == os.path.join(str(tree), *segments)
    assert inside(str(tree), joined)


@pytest.mark.parametrize("segments", REJECTED, ids=repr)
def test_rejected_vectors_through_serve(tree: Path, client, segments: tuple[str, ...]) -> None:
    # A fallback and an HTML Accept: an unsafe path must not even get the SPA page.
    mount = client.mount(tree, fallback="index.html", listing=True)
    assert client.get(mount, "/x", {"accept": "text/html"}, rest=segments) is None


def test_bad_segment_table() -> None:
    assert not bad_segment("index.html")
    assert not bad_segment("...")  # a name on POSIX; the dotfile policy decides about it
    for segment in ("", ".", "..", "a/b", "a\\b", "a\x00", "C:", "c:x"):
        assert bad_segment(segment), segment


def test_plain_join(tree: Path) -> None:
    root = str(tree)
    assert safe_join(root, ()) == root
    assert safe_join(root, ("",)) == root
    assert safe_join(root, ("docs", "")) == os.path.join(root, "docs")
    assert safe_join(root, ("docs", "index.html")) == os.path.join(root, "docs", "index.html")
    assert safe_join(root, ("missing.txt",)) == os.path.join(root, "missing.txt")


def test_commonpath_not_string_prefix(tree: Path) -> None:
    root = str(tree)
    private = str(tree.parent / "public_private" / "secret.txt")
    assert private.startswith(root)  # the GHSA-v5gw-mw7f-84px trap
    assert not inside(root, private)
    assert inside(root, root)
    assert not inside(root, "relative/path")


# -- dotfiles ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "segments",
    [(".env",), (".hidden", "x.txt"), ("docs", ".git", "config"), ("...",), ("..;",)],
    ids=repr,
)
def test_dotfiles_hidden_unless_allowed(tree: Path, segments: tuple[str, ...]) -> None:
    root = str(tree)
    assert safe_join(root, segments, dotfiles="deny") is None
    assert safe_join(root, segments, dotfiles="ignore") is None
    assert safe_join(root, segments, dotfiles="allow") == os.path.join(root, *segments)


@pytest.mark.parametrize("dotfiles", ["deny", "ignore", "allow"])
def test_well_known_always_allowed(tree: Path, dotfiles: str) -> None:
    segments = (".well-known", "security.txt")
    expected = os.path.join(str(tree), *segments)
    assert safe_join(str(tree), segments, dotfiles=dotfiles) == expected
    # ...but only the folder itself: a dotfile inside it is still a dotfile.
    if dotfiles != "allow":
        assert safe_join(str(tree), (".well-known", ".x"), dotfiles=dotfiles) is None


def test_dotted_root_is_not_a_dotfile(tmp_path: Path) -> None:
    root = tmp_path / ".tree"
    root.mkdir()
    (root / "a.txt").write_text("a")
    assert safe_join(str(root), ("a.txt",)) == str(root / "a.txt")


# -- symlinks ------------------------------------------------------------------------------


def _link(link: Path, target: Path | str) -> Path:
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, link)
    return link


def test_symlink_to_outside_file(tree: Path) -> None:
    _link(tree / "out.txt", tree.parent / "outside.txt")
    root = str(tree)
    assert safe_join(root, ("out.txt",), symlinks="inside") is None
    assert safe_join(root, ("out.txt",), symlinks="deny") is None
    assert safe_join(root, ("out.txt",), symlinks="follow") == os.path.join(root, "out.txt")


def test_symlink_to_sibling_prefix_dir(tree: Path) -> None:
    # /public/priv -> /public_private: a string-prefix check would pass it.
    _link(tree / "priv", tree.parent / "public_private")
    root = str(tree)
    assert safe_join(root, ("priv", "secret.txt"), symlinks="inside") is None
    assert safe_join(root, ("priv", "secret.txt"), symlinks="deny") is None
    assert safe_join(root, ("priv", "secret.txt"), symlinks="follow") is not None


def test_symlink_to_filesystem_root(tree: Path) -> None:
    _link(tree / "slash", "/")
    for mode in ("inside", "deny"):
        assert safe_join(str(tree), ("slash", "etc", "passwd"), symlinks=mode) is None


def test_relative_symlink_escaping(tree: Path) -> None:
    _link(tree / "docs" / "up", "../../outside.txt")
    assert safe_join(str(tree), ("docs", "up"), symlinks="inside") is None


def test_symlink_inside_root(tree: Path) -> None:
    _link(tree / "home.html", "index.html")
    _link(tree / "manual", tree / "docs")
    root = str(tree)
    assert safe_join(root, ("home.html",), symlinks="inside") == os.path.join(root, "index.html")
    assert safe_join(root, ("home.html",), symlinks="deny") is None
    inner = ("manual", "guide.md")
    assert safe_join(root, inner, symlinks="inside") == os.path.join(root, "docs", "guide.md")
    assert safe_join(root, inner, symlinks="deny") is None  # a symlink in the middle counts
    assert safe_join(root, inner, symlinks="follow") == os.path.join(root, *inner)


def test_symlinked_root(tmp_path: Path, tree: Path) -> None:
    # The mount's dir may itself be a symlink: root is its realpath, and that is what counts.
    link = _link(tmp_path / "current", tree)
    root = os.path.realpath(link)
    assert safe_join(root, ("about.txt",), symlinks="deny") == os.path.join(root, "about.txt")


# The same policies through serve(), with /proc/self/fd and with the realpath stand-in.


@pytest.fixture(params=[True, False], ids=["proc-fd", "realpath"])
def proc_fd(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setattr(files, "_HAVE_PROC_FD", request.param and files._HAVE_PROC_FD)
    return bool(request.param)


@pytest.mark.parametrize("mode", MODES)
def test_serve_symlink_policies(tree: Path, client, proc_fd: bool, mode: str) -> None:
    _link(tree / "out.txt", tree.parent / "outside.txt")
    _link(tree / "priv", tree.parent / "public_private")
    _link(tree / "home.html", "index.html")
    mount = client.mount(tree, symlinks=mode)
    out = client.get(mount, "/out.txt")
    priv = client.get(mount, "/priv/secret.txt")
    home = client.get(mount, "/home.html")
    if mode == "follow":
        assert client.body(out) == b"outside"
        assert client.body(priv) == b"private"
    else:
        assert out is None and priv is None
    if mode == "deny":
        assert home is None
    else:
        assert client.body(home) == b"<h1>home</h1>"


@pytest.mark.parametrize("mode", ["inside", "deny"])
def test_symlinked_variant_pointing_outside(tree: Path, client, proc_fd: bool, mode: str) -> None:
    (tree / "app.js.br").unlink()
    _link(tree / "app.js.br", tree.parent / "outside.txt")
    mount = client.mount(tree, symlinks=mode, precompressed=["br", "gzip"])
    response = client.ok(mount, "/app.js", {"accept-encoding": "br"})
    assert response.get_header("content-encoding") is None
    assert client.body(response) == client.JS


@pytest.mark.parametrize("mode", ["inside", "deny"])
def test_symlinked_index_pointing_outside(tree: Path, client, proc_fd: bool, mode: str) -> None:
    _link(tree / "trap" / "index.html", tree.parent / "outside.txt")
    mount = client.mount(tree, symlinks=mode)
    assert client.get(mount, "/trap/") is None
    assert client.get(mount, "/trap") is None  # no redirect to a folder that cannot answer
    follow = client.mount(tree, symlinks="follow")
    assert client.body(client.ok(follow, "/trap/")) == b"outside"


def test_symlinked_fallback_pointing_outside(tree: Path, client) -> None:
    _link(tree / "spa.html", tree.parent / "outside.txt")
    mount = client.mount(tree, fallback="spa.html")
    assert client.get(mount, "/app/settings", {"accept": "text/html"}) is None


def test_symlink_loop_is_not_found(tree: Path, client) -> None:
    _link(tree / "loop1", "loop2")
    _link(tree / "loop2", "loop1")
    for mode in MODES:
        assert client.get(client.mount(tree, symlinks=mode), "/loop1") is None
