"""Untrusted segments to paths: traversal vectors (as they arrive after the router's single
decode) and dotfile policies through lexical_join, and the same vectors and the symlink
policies through StaticMount.serve, which opens the file and checks what the fd really is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.static import opener
from gateway.static.paths import bad_segment, inside, lexical_join

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
def test_rejected_vectors(tree: Path, segments: tuple[str, ...]) -> None:
    for dotfiles in ("deny", "allow", "ignore"):
        assert lexical_join(str(tree), segments, dotfiles) is None


@pytest.mark.parametrize("segments", LITERAL, ids=repr)
def test_literal_names_stay_inside(tree: Path, segments: tuple[str, ...]) -> None:
    joined = lexical_join(str(tree), segments, "allow")
    assert joined == os.path.join(str(tree), *segments)
    assert inside(str(tree), joined)


@pytest.mark.parametrize("segments", LITERAL, ids=repr)
@pytest.mark.parametrize("symlinks", MODES)
def test_literal_names_are_served_as_named(
    tmp_path: Path, client, segments: tuple[str, ...], symlinks: str
) -> None:
    root = tmp_path / "odd"
    client.write(root.joinpath(*segments), "odd name")
    mount = client.mount(root, symlinks=symlinks, dotfiles="allow")
    assert client.body(client.ok(mount, "/x", rest=segments)) == b"odd name"


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
    assert lexical_join(root, ()) == root
    assert lexical_join(root, ("",)) == root
    assert lexical_join(root, ("docs", "")) == os.path.join(root, "docs")
    assert lexical_join(root, ("docs", "index.html")) == os.path.join(root, "docs", "index.html")
    assert lexical_join(root, ("missing.txt",)) == os.path.join(root, "missing.txt")


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
    assert lexical_join(root, segments, "deny") is None
    assert lexical_join(root, segments, "ignore") is None
    assert lexical_join(root, segments, "allow") == os.path.join(root, *segments)


@pytest.mark.parametrize("dotfiles", ["deny", "ignore", "allow"])
def test_well_known_always_allowed(tree: Path, dotfiles: str) -> None:
    segments = (".well-known", "security.txt")
    expected = os.path.join(str(tree), *segments)
    assert lexical_join(str(tree), segments, dotfiles) == expected
    # ...but only the folder itself: a dotfile inside it is still a dotfile.
    if dotfiles != "allow":
        assert lexical_join(str(tree), (".well-known", ".x"), dotfiles) is None


def test_dotted_root_is_not_a_dotfile(tmp_path: Path, client) -> None:
    root = tmp_path / ".tree"
    root.mkdir()
    (root / "a.txt").write_text("a")
    assert lexical_join(str(root), ("a.txt",)) == str(root / "a.txt")
    assert client.body(client.ok(client.mount(root), "/a.txt")) == b"a"


# -- symlinks ------------------------------------------------------------------------------


def _link(link: Path, target: Path | str) -> Path:
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, link)
    return link


def served(client, tree: Path, path: str, symlinks: str) -> bytes | None:
    """The bytes a mount with `symlinks` serves for `path`, or None for a miss."""
    response = client.get(client.mount(tree, symlinks=symlinks), path)
    return None if response is None else client.body(response)


def test_symlink_to_outside_file(tree: Path, client) -> None:
    _link(tree / "out.txt", tree.parent / "outside.txt")
    assert served(client, tree, "/out.txt", "inside") is None
    assert served(client, tree, "/out.txt", "deny") is None
    assert served(client, tree, "/out.txt", "follow") == b"outside"


def test_symlink_to_sibling_prefix_dir(tree: Path, client) -> None:
    # /public/priv -> /public_private: a string-prefix check would pass it.
    _link(tree / "priv", tree.parent / "public_private")
    assert served(client, tree, "/priv/secret.txt", "inside") is None
    assert served(client, tree, "/priv/secret.txt", "deny") is None
    assert served(client, tree, "/priv/secret.txt", "follow") == b"private"


def test_symlink_to_filesystem_root(tree: Path, client) -> None:
    _link(tree / "slash", "/")
    for mode in ("inside", "deny"):
        assert served(client, tree, "/slash/etc/passwd", mode) is None


def test_relative_symlink_escaping(tree: Path, client) -> None:
    _link(tree / "docs" / "up", "../../outside.txt")
    assert served(client, tree, "/docs/up", "inside") is None


def test_symlink_inside_root(tree: Path, client) -> None:
    _link(tree / "home.html", "index.html")
    _link(tree / "manual", tree / "docs")
    assert served(client, tree, "/home.html", "inside") == b"<h1>home</h1>"
    assert served(client, tree, "/home.html", "deny") is None
    assert served(client, tree, "/manual/guide.md", "inside") == b"# guide"
    assert served(client, tree, "/manual/guide.md", "deny") is None  # a symlink in the middle
    assert served(client, tree, "/manual/guide.md", "follow") == b"# guide"


def test_symlinked_root(tmp_path: Path, tree: Path, client) -> None:
    # The mount's dir may itself be a symlink: root is its realpath, and that is what counts.
    link = _link(tmp_path / "current", tree)
    assert served(client, link, "/about.txt", "deny") == b"about us"


# The same policies through serve(), with /proc/self/fd and with the realpath stand-in.


@pytest.fixture(params=[True, False], ids=["proc-fd", "realpath"])
def proc_fd(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setattr(opener, "_HAVE_PROC_FD", request.param and opener._HAVE_PROC_FD)
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
