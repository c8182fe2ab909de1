"""MimeTypes: the curated web table, the stdlib fallback, charsets and overrides."""

from __future__ import annotations

import pytest

from gateway.static.mime import DEFAULT_TYPE, MimeTypes, with_charset

UTF8 = "; charset=utf-8"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("index.html", "text/html" + UTF8),
        ("INDEX.HTM", "text/html" + UTF8),
        ("site.css", "text/css" + UTF8),
        ("app.js", "text/javascript" + UTF8),
        ("mod.mjs", "text/javascript" + UTF8),
        ("common.cjs", "text/javascript" + UTF8),
        ("data.json", "application/json" + UTF8),
        ("app.js.map", "application/json" + UTF8),
        ("module.wasm", "application/wasm"),
        ("site.webmanifest", "application/manifest+json" + UTF8),
        ("logo.svg", "image/svg+xml"),
        ("photo.avif", "image/avif"),
        ("photo.webp", "image/webp"),
        ("photo.png", "image/png"),
        ("photo.jpg", "image/jpeg"),
        ("photo.JPEG", "image/jpeg"),
        ("anim.gif", "image/gif"),
        ("favicon.ico", "image/x-icon"),
        ("font.woff", "font/woff"),
        ("font.woff2", "font/woff2"),
        ("font.ttf", "font/ttf"),
        ("font.otf", "font/otf"),
        ("robots.txt", "text/plain" + UTF8),
        ("sitemap.xml", "application/xml" + UTF8),
        ("feed.rss", "application/rss+xml" + UTF8),
        ("paper.pdf", "application/pdf"),
        ("clip.mp4", "video/mp4"),
        ("clip.webm", "video/webm"),
        ("song.mp3", "audio/mpeg"),
        ("song.ogg", "audio/ogg"),
        ("bundle.zip", "application/zip"),
        ("backup.tar.gz", "application/gzip"),  # bytes as stored: no Content-Encoding
        ("README.md", "text/markdown" + UTF8),
        ("table.csv", "text/csv" + UTF8),
        ("config.yaml", "application/yaml" + UTF8),
        ("cal.ics", "text/calendar" + UTF8),
        ("a/b/c/deep.css", "text/css" + UTF8),
    ],
)
def test_web_table(name: str, expected: str) -> None:
    assert MimeTypes().guess(name) == expected


@pytest.mark.parametrize(
    "name", ["LICENSE", "Makefile", ".env", ".htaccess", "file.unknownext", "dir/noext", "x."]
)
def test_unknown_is_octet_stream(name: str) -> None:
    assert MimeTypes().guess(name) == DEFAULT_TYPE


def test_stdlib_fills_the_gaps() -> None:
    # Not in the web table: comes from the stdlib's built-in map, same on every machine.
    assert MimeTypes().guess("archive.tar") == "application/x-tar"
    assert MimeTypes().guess("tool.py") == "text/x-python" + UTF8


def test_overrides_win() -> None:
    mime = MimeTypes(
        {".js": "application/javascript", "wasm": "application/x-wasm", ".MD": "text/plain"}
    )
    assert mime.guess("a.js") == "application/javascript" + UTF8
    assert mime.guess("a.wasm") == "application/x-wasm"  # key without a dot is accepted
    assert mime.guess("a.md") == "text/plain" + UTF8  # keys are case-insensitive
    assert MimeTypes().guess("a.js") == "text/javascript" + UTF8  # one mount's overrides stay there


def test_override_with_parameters_is_verbatim() -> None:
    mime = MimeTypes({".txt": "text/plain; charset=iso-8859-1", ".dat": "application/x-thing"})
    assert mime.guess("old.txt") == "text/plain; charset=iso-8859-1"
    assert mime.guess("a.dat") == "application/x-thing"


@pytest.mark.parametrize(
    ("ctype", "expected"),
    [
        ("text/anything", "text/anything" + UTF8),
        ("application/json", "application/json" + UTF8),
        ("application/javascript", "application/javascript" + UTF8),
        ("application/xml", "application/xml" + UTF8),
        ("application/ld+json", "application/ld+json" + UTF8),
        ("application/atom+xml", "application/atom+xml" + UTF8),
        ("image/svg+xml", "image/svg+xml"),
        ("application/octet-stream", "application/octet-stream"),
        ("image/png", "image/png"),
        ("text/html; charset=shift_jis", "text/html; charset=shift_jis"),
    ],
)
def test_charset_rule(ctype: str, expected: str) -> None:
    assert with_charset(ctype) == expected
