"""File extension -> Content-Type. One dict, built once per mount: the stdlib's built-in table,
then a curated web table over it, then the mount's overrides; text types already carry their
charset. Never reads /etc/mime.types, so a file gets the same type on every machine."""

from __future__ import annotations

import functools
import mimetypes
import os
from collections.abc import Mapping
from types import MappingProxyType

DEFAULT_TYPE = "application/octet-stream"

# What browsers and CDNs expect today; where the stdlib (or a distro's mime.types) disagrees
# this wins: text/javascript per RFC 9239, image/x-icon, font/*, application/wasm, ...
WEB_TYPES: Mapping[str, str] = MappingProxyType(
    {
        ".html": "text/html",
        ".htm": "text/html",
        ".css": "text/css",
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".cjs": "text/javascript",
        ".json": "application/json",
        ".map": "application/json",
        ".jsonld": "application/ld+json",
        ".wasm": "application/wasm",
        ".webmanifest": "application/manifest+json",
        ".svg": "image/svg+xml",
        ".avif": "image/avif",
        ".webp": "image/webp",
        ".png": "image/png",
        ".apng": "image/apng",
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".gif": "image/gif",
        ".ico": "image/x-icon",
        ".bmp": "image/bmp",
        ".woff": "font/woff",
        ".woff2": "font/woff2",
        ".ttf": "font/ttf",
        ".otf": "font/otf",
        ".txt": "text/plain",
        ".xml": "application/xml",
        ".rss": "application/rss+xml",
        ".atom": "application/atom+xml",
        ".pdf": "application/pdf",
        ".mp4": "video/mp4",
        ".webm": "video/webm",
        ".mp3": "audio/mpeg",
        ".ogg": "audio/ogg",
        ".wav": "audio/wav",
        ".zip": "application/zip",
        ".gz": "application/gzip",
        ".tgz": "application/gzip",
        ".zst": "application/zstd",
        ".md": "text/markdown",
        ".csv": "text/csv",
        ".yaml": "application/yaml",
        ".yml": "application/yaml",
        ".toml": "application/toml",
        ".ics": "text/calendar",
        ".vtt": "text/vtt",
    }
)

# application/ types that are text, so a charset means something to the browser. JSON
# (RFC 8259) defines no charset parameter but is UTF-8 by law, and saying so costs nothing.
_TEXTUAL_APPLICATION = frozenset(
    {
        "application/javascript",
        "application/json",
        "application/xml",
        "application/yaml",
        "application/toml",
    }
)


def with_charset(content_type: str) -> str:
    """`content_type` plus "; charset=utf-8" when it is text: text/*, the textual application/
    types above and any application/*+json or application/*+xml. A type that already has
    parameters is returned as it is."""
    if ";" in content_type:
        return content_type
    if (
        content_type.startswith("text/")
        or content_type in _TEXTUAL_APPLICATION
        or (content_type.startswith("application/") and content_type.endswith(("+json", "+xml")))
    ):
        return f"{content_type}; charset=utf-8"
    return content_type


def _stdlib_types() -> dict[str, str]:
    # A MimeTypes instance starts from the module's built-in table only; the system files
    # that mimetypes.init() reads populate the module globals, never this instance.
    return dict(mimetypes.MimeTypes().types_map[True])


@functools.cache
def _base_table() -> Mapping[str, str]:
    table = _stdlib_types()
    table.update(WEB_TYPES)
    return MappingProxyType({ext.lower(): with_charset(ctype) for ext, ctype in table.items()})


def _normalise_ext(ext: str) -> str:
    ext = ext.strip().lower()
    return ext if ext.startswith(".") else "." + ext


class MimeTypes:
    """`MimeTypes({".ext": "type"}).guess("a/b.ext")`. Overrides win over both tables; an
    override without parameters gets the same charset rule as the tables."""

    __slots__ = ("_table",)

    def __init__(self, overrides: Mapping[str, str] = MappingProxyType({})) -> None:
        table = dict(_base_table())
        for ext, ctype in overrides.items():
            table[_normalise_ext(ext)] = with_charset(ctype.strip())
        self._table = table

    def guess(self, path: str) -> str:
        """The Content-Type for `path` by its last extension, case-insensitively;
        application/octet-stream for no extension, an unknown one, or a dotfile name."""
        ext = os.path.splitext(path)[1]
        if not ext:
            return DEFAULT_TYPE
        return self._table.get(ext.lower(), DEFAULT_TYPE)
