"""The HTML page for a directory without an index, when a mount turns `listing` on. Every name
is html.escape()d and every link percent-encoded and relative ("./name"), so a file called
`<script>` or `javascript:x` is shown as text and links to itself; the caller filters entries."""

from __future__ import annotations

import html
import os
import stat
from collections.abc import Callable
from email.utils import formatdate
from itertools import islice
from urllib.parse import quote

# A file name may be huge; the page should not be. Past this many entries, say so and stop.
MAX_ENTRIES = 10_000


def _row(entry: os.DirEntry[str]) -> tuple[bool, str, str]:
    try:
        st = entry.stat()
    except OSError:  # vanished, or a dangling symlink: list it without details
        return False, "", ""
    is_dir = stat.S_ISDIR(st.st_mode)
    size = "-" if is_dir else f"{st.st_size:,}"
    return is_dir, size, formatdate(st.st_mtime, usegmt=True)


def _link(name: str, is_dir: bool) -> str:
    # quote(safe="") encodes "/", "?", "#" and ":" too, so no name can become a scheme,
    # a query or another path; "./" keeps it relative even so.
    href = "./" + quote(name, safe="") + ("/" if is_dir else "")
    label = html.escape(name) + ("/" if is_dir else "")
    return f'<a href="{html.escape(href)}">{label}</a>'


def render_listing(
    real_dir: str,
    url_path: str,
    visible: Callable[[os.DirEntry[str]], bool],
    at_root: bool,
) -> bytes:
    """The listing of `real_dir` (entries passing `visible`, folders first, then by name) as
    UTF-8 HTML titled with `url_path`. Raises OSError if the folder cannot be read."""
    with os.scandir(real_dir) as scan:
        shown = (e for e in scan if _is_text(e.name) and visible(e))
        entries = list(islice(shown, MAX_ENTRIES + 1))
    truncated = len(entries) > MAX_ENTRIES
    table = sorted(((*_row(e), e.name) for e in entries[:MAX_ENTRIES]), key=_folders_first)
    rows = [] if at_root else ['<tr><td><a href="../">../</a></td><td></td><td></td></tr>']
    for is_dir, size, modified, name in table:
        rows.append(f"<tr><td>{_link(name, is_dir)}</td><td>{size}</td><td>{modified}</td></tr>")
    if truncated:
        rows.append(f"<tr><td>(only the first {MAX_ENTRIES:,} entries are listed)</td></tr>")
    title = html.escape(url_path)
    page = (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        f"<title>Index of {title}</title></head>\n<body><h1>Index of {title}</h1>\n"
        "<table><tr><th>Name</th><th>Size</th><th>Modified</th></tr>\n"
        + "\n".join(rows)
        + "\n</table></body></html>\n"
    )
    return page.encode("utf-8")


def _folders_first(row: tuple[bool, str, str, str]) -> tuple[bool, str]:
    return (not row[0], row[3])


def _is_text(name: str) -> bool:
    # A name that is not UTF-8 arrives with surrogate escapes: no URL the router decodes can
    # reach it, and it cannot go in a UTF-8 page.
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
