"""The dev error page: for an unhandled handler exception in dev mode, an HTML page with the
exception, each frame's source lines (the failing one marked), and the request with its
secrets masked. Everything escaped; no script, no console; never used in production."""

from __future__ import annotations

import html
import linecache
import os
import sysconfig
import traceback
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

from gateway.devaccess import DevAccess, strip_paths

CONTEXT_LINES = 3  # source lines shown each side of a frame's current line
MASK = "••••••"
# Headers and query fields that carry credentials: shown as present, never their value.
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token"}
)
_SECRET_WORDS = ("password", "passwd", "secret", "token", "apikey", "api_key", "session")
# A page that cannot run anything even if something slipped past the escaping.
HEADERS = (
    ("content-type", "text/html; charset=utf-8"),
    ("cache-control", "no-store"),
    ("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'"),
    ("x-content-type-options", "nosniff"),
)
_LIBRARY_DIRS = tuple(
    {
        os.path.realpath(p)
        for p in (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"])
    }
)
_GATEWAY_DIR = os.path.dirname(os.path.realpath(__file__))
_MAX_CHAIN = 5  # exception chain links shown (__cause__ / __context__)

_esc = html.escape


def wants_page(accept: str | None) -> bool:
    """Whether the request accepts HTML by name (a browser navigating); API clients and
    fetch() ("*/*") get the plain or problem+json 500 instead."""
    if not accept:
        return False
    for element in accept.split(","):
        media, *params = element.split(";")
        if media.strip().lower() != "text/html":
            continue
        q = next((p.split("=", 1)[1] for p in params if p.strip().lower().startswith("q=")), "1")
        try:
            return float(q) > 0.0
        except ValueError:
            return False
    return False


def render(exc: BaseException, request: Any) -> bytes:
    """The whole page for `exc` raised while answering `request` (a gateway Request, or
    anything with method/path/headers/query_string/id/client)."""
    title = f"{type(exc).__name__}: {exc}"
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{_esc(_shorten(title, 120))}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_esc(type(exc).__qualname__)}</h1>",
        f"<p class=msg>{_esc(str(exc))}</p>",
        f"<p class=meta>{_esc(getattr(request, 'method', '?'))} "
        f"{_esc(getattr(request, 'raw_path', getattr(request, 'path', '?')))}"
        f" · request id {_esc(str(getattr(request, 'id', '')))}"
        " · shown because <code>[dev] reload = true</code>; production answers a plain 500</p>",
    ]
    for link, how in _chain(exc):
        if how:
            parts.append(f"<p class=chain>{_esc(how)}</p>")
        parts.append(_exception_block(link))
    parts.append(_request_block(request))
    parts.append("</body></html>")
    return "".join(parts).encode("utf-8", "replace")


def response(exc: BaseException, request: Any, config: Any = None) -> Any:
    """The dev page as a gateway Response (500, no-store, a CSP that allows no script), for
    a client the dev endpoints answer (`config`'s [dev] allow and key; loopback only without
    it); absolute paths cut down for a remote one. Anyone else gets the plain 500."""
    from gateway.response import Response

    access = DevAccess.from_config(config) if config is not None else DevAccess()
    if not access.allowed(request):
        text = f"internal server error (request id {getattr(request, 'id', '')})\n"
        return Response(500, text.encode(), [("cache-control", "no-store")], "text/plain")
    page = render(exc, request)
    if not access.is_local(request):
        page = strip_paths(page.decode("utf-8", "replace"), access.root).encode()
    return Response(500, page, list(HEADERS))


def shown_to(request: Any, config: Any) -> bool:
    """Whether `request`'s client may see the dev page under `config` (app.py asks first,
    so everyone else gets the app's own 500: error pages, problem+json)."""
    return DevAccess.from_config(config).allowed(request)


def _chain(exc: BaseException) -> list[tuple[BaseException, str]]:
    """The exception and the ones behind it, oldest first as Python prints them; each with
    the sentence that links it to the one printed above it ("" for the first)."""
    links: list[list[Any]] = [[exc, ""]]
    seen = {id(exc)}
    current = exc
    while len(links) < _MAX_CHAIN:
        if current.__cause__ is not None:
            older, how = current.__cause__, "The above exception was the direct cause of:"
        elif current.__context__ is not None and not current.__suppress_context__:
            older, how = current.__context__, "During handling of the above exception:"
        else:
            break
        if id(older) in seen:
            break
        seen.add(id(older))
        links[-1][1] = how
        links.append([older, ""])
        current = older
    links.reverse()
    return [(link[0], link[1]) for link in links]


def _frames(tb: TracebackType | None) -> Iterator[tuple[str, int, str, dict[str, Any]]]:
    while tb is not None:
        frame = tb.tb_frame
        yield frame.f_code.co_filename, tb.tb_lineno, frame.f_code.co_qualname, frame.f_globals
        tb = tb.tb_next


def _exception_block(exc: BaseException) -> str:
    frames = list(_frames(exc.__traceback__))
    out = [f"<h2>{_esc(type(exc).__qualname__)}: {_esc(str(exc))}</h2><div class=frames>"]
    for index, (filename, lineno, name, module_globals) in enumerate(frames):
        last = index == len(frames) - 1
        library = _is_library(filename)
        is_open = " open" if (last or not library) else ""
        kind = " lib" if library else ""
        out.append(
            f"<details class='frame{kind}'{is_open}><summary><b>{_esc(name)}</b> in "
            f"<code>{_esc(_display(filename))}</code>, line {lineno}</summary>"
            f"{_source(filename, lineno, module_globals)}</details>"
        )
    if not frames:
        out.append("<p>(no traceback)</p>")
    formatted = "".join(traceback.format_exception_only(type(exc), exc))
    out.append(f"</div><pre class=final>{_esc(formatted)}</pre>")
    return "".join(out)


def _source(filename: str, lineno: int, module_globals: dict[str, Any]) -> str:
    linecache.checkcache(filename)  # a reload may have changed the file under the cache
    lines = linecache.getlines(filename, module_globals)
    if not lines:
        return "<pre class=src>(source not available)</pre>"
    first = max(1, lineno - CONTEXT_LINES)
    rows = []
    for number in range(first, min(len(lines), lineno + CONTEXT_LINES) + 1):
        text = _esc(lines[number - 1].rstrip("\r\n"))
        mark = " class=cur" if number == lineno else ""
        arrow = "&rarr;" if number == lineno else "&nbsp;"
        rows.append(f"<span{mark}>{arrow} {number:>5}  {text}</span>")
    return "<pre class=src>" + "".join(rows) + "</pre>"  # spans are blocks: no newlines


def _request_block(request: Any) -> str:
    headers = getattr(request, "headers", None)
    items: Iterable[tuple[str, str]] = headers.items() if headers is not None else ()
    header_rows = [
        (name, MASK if name.lower() in _SECRET_HEADERS else value) for name, value in items
    ]
    query_string = getattr(request, "query_string", "") or ""
    query = [
        (key, MASK if _secret_name(key) else value)
        for key, value in parse_qsl(query_string, keep_blank_values=True)
    ]
    client = getattr(request, "client", None)
    summary = [
        ("method", str(getattr(request, "method", ""))),
        ("path", str(getattr(request, "path", ""))),
        ("http version", str(getattr(request, "http_version", ""))),
        ("client", f"{client[0]}:{client[1]}" if client else ""),
        ("request id", str(getattr(request, "id", ""))),
    ]
    return (
        "<h2>Request</h2>"
        + _table(summary)
        + "<h3>Query</h3>"
        + (_table(query) if query else "<p>(none)</p>")
        + "<h3>Headers</h3>"
        + _table(header_rows)
    )


def _secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def _table(rows: Iterable[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _is_library(filename: str) -> bool:
    path = os.path.realpath(filename)
    return path.startswith((*_LIBRARY_DIRS, _GATEWAY_DIR)) or filename.startswith("<frozen")


def _display(filename: str) -> str:
    try:
        relative = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if relative.startswith("../..") else relative


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_CSS = (
    "body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222;max-width:70em}"
    "h1{color:#b00;margin:0}.msg{font-size:1.2em;white-space:pre-wrap}.meta{color:#666}"
    ".frame{border:1px solid #ddd;border-radius:4px;margin:.4em 0;background:#fafafa}"
    ".frame summary{padding:.3em .6em;cursor:pointer}.frame.lib{opacity:.7}"
    "pre{margin:0;padding:.5em;overflow-x:auto;font:12px/1.4 ui-monospace,monospace}"
    ".src span{display:block}.src .cur{background:#fdd;font-weight:bold}"
    ".final{background:#fee;border-left:4px solid #b00}.chain{font-style:italic;color:#555}"
    "table{border-collapse:collapse}th,td{text-align:left;padding:.15em .6em;vertical-align:top;"
    "border-bottom:1px solid #eee;font:12px ui-monospace,monospace;word-break:break-all}"
)
