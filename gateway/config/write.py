"""Writing configs: `gateway init` (a starter gateway.toml, public/index.html, api/hello.py)
and dump_config for TOML output. The starter config is a dict written by tomli-w, so it is
valid TOML by construction; init never overwrites a file that is already there."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TypeGuard

import tomli_w

from gateway.config.locate import format_key

STARTER_CONFIG: dict[str, object] = {
    "server": {"listen": ["127.0.0.1:8000"]},
    "dev": {"reload": True, "live_reload": True},
    "static": [{"prefix": "/", "dir": "public"}],
    "route": [{"path": "/api/hello", "handler": "api.hello:hello"}],
}

CONFIG_HEADER = """\
# gateway.toml: what gateway serves. Written by `gateway init`.
# Run `gateway serve` here, then open http://127.0.0.1:8000/
# `gateway check` validates this file; `gateway --help` lists the commands.
# [dev] reloads on every save and refreshes open pages: drop it in production.

"""

INDEX_HTML = """\
<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>gateway</title>
  <style>
    body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 4rem auto;
           padding: 0 1rem; color: #222; }
    h1 { font-size: 1.6rem; }
    code, pre { font-family: ui-monospace, monospace; }
    pre { background: #f4f4f4; padding: 1rem; border-radius: 6px; }
  </style>
</head>
<body>
  <h1>It works</h1>
  <p>This page is <code>public/index.html</code>. Below, the answer of the
     <code>/api/hello</code> route, served by <code>api/hello.py</code>:</p>
  <pre id="hello">loading...</pre>
  <script>
    fetch("/api/hello")
      .then((response) => response.json())
      .then((data) => {
        document.getElementById("hello").textContent = JSON.stringify(data, null, 2);
      })
      .catch((error) => {
        document.getElementById("hello").textContent = "request failed: " + error;
      });
  </script>
</body>
</html>
"""

HELLO_PY = '''\
"""The handler behind /api/hello (see gateway.toml). Returning a dict answers with JSON."""


def hello(request):
    return {"message": "hello from gateway"}
'''


def dump_config(data: Mapping[str, object]) -> str:
    """`data` as TOML (tomli-w), keeping the order of its tables and writing a list of tables
    as [[name]] blocks (tomli-w alone folds short ones into one inline array)."""
    # Plain values first: after the first table header they would belong to that table.
    plain = {k: v for k, v in data.items() if not isinstance(v, Mapping) and not _is_tables(v)}
    chunks = [tomli_w.dumps(plain)] if plain else []
    for key, value in data.items():
        if isinstance(value, Mapping):
            chunks.append(tomli_w.dumps({key: value}))
        elif _is_tables(value):
            chunks.extend(_array_table(key, entry) for entry in value)
    return "\n".join(chunks)


def _is_tables(value: object) -> TypeGuard[list[Mapping[str, object]]]:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _array_table(key: str, entry: Mapping[str, object]) -> str:
    # tomli-w writes the entry's own sub-tables as [sub] / [[sub]]; they belong under the
    # entry, which TOML spells [key.sub] right after [[key]].
    name = format_key((key,))
    lines = []
    for line in tomli_w.dumps(entry).splitlines(keepends=True):
        if line.startswith("[["):
            line = f"[[{name}.{line[2:]}"
        elif line.startswith("["):
            line = f"[{name}.{line[1:]}"
        lines.append(line)
    return f"[[{name}]]\n" + "".join(lines)


def starter_files() -> dict[str, str]:
    """What `gateway init` writes: relative path -> text."""
    return {
        "gateway.toml": CONFIG_HEADER + dump_config(STARTER_CONFIG),
        "public/index.html": INDEX_HTML,
        "api/hello.py": HELLO_PY,
    }


def init_site(directory: Path) -> list[Path]:
    """Write a starter site into `directory` (created if needed) and return the files written.
    Raises FileExistsError naming every file already there, before writing anything."""
    directory = Path(directory)
    files = {directory / name: text for name, text in starter_files().items()}
    existing = [str(path) for path in files if path.exists()]
    if existing:
        raise FileExistsError(f"will not overwrite {', '.join(existing)}")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        # "x" so that a file appearing since the check above is still not overwritten.
        with path.open("x", encoding="utf-8") as out:
            out.write(text)
    return list(files)
