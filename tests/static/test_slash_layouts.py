"""Property (issue 9, "Redirect loop /docs <-> /docs/"): over random layouts of routes and
static mounts, with and without index files, no path redirects to a path that redirects
back, and following redirects never comes back to where it started. Fixed seed, in
process (gateway.testing), a few seconds at most."""

from __future__ import annotations

import random
from pathlib import Path

import httpx

from gateway.testing import Transport
from tests.support import write_site

WORDS = ("a", "docs", "api", "x")
FOLDERS = ("a", "docs", "docs/a", "api", "x/docs")
REDIRECTS = (301, 302, 303, 307, 308)


def layout(rng: random.Random, root: Path) -> Path:
    """A gateway.toml with 0-3 routes and 1-3 mounts, their folders filled at random."""
    mode = rng.choice(["redirect", "redirect", "strict"])
    lines = [f'[server]\nlisten = ["127.0.0.1:0"]\ntrailing_slash = "{mode}"\n']
    files: dict[str, str] = {}
    for n, prefix in enumerate(rng.sample(["/", "/docs", "/a", "/docs/a"], rng.randint(1, 3))):
        lines.append(f'[[static]]\nprefix = "{prefix}"\ndir = "m{n}"')
        home = rng.random() < 0.5
        if home:
            files[f"m{n}/index.html"] = "home"
        if home and rng.random() < 0.4:
            lines.append('fallback = "index.html"')
        if rng.random() < 0.2:
            lines.append("listing = true")
        files[f"m{n}/.keep"] = ""
        for folder in rng.sample(FOLDERS, rng.randint(0, len(FOLDERS))):
            files[f"m{n}/{folder}/.keep"] = ""
            if rng.random() < 0.5:
                files[f"m{n}/{folder}/index.html"] = folder
    taken: set[tuple[str, str]] = set()
    for _ in range(rng.randint(0, 3)):
        path = "/" + "/".join(rng.sample(WORDS, rng.randint(1, 2))) + rng.choice(["", "/"])
        method = rng.choice(["GET", "POST"])
        if (path, method) in taken or (method == "GET" and any(p == path for p, _ in taken)):
            continue
        taken.add((path, method))
        lines.append(
            f'[[route]]\npath = "{path}"\nmethods = ["{method}"]\n'
            'respond = { status = 200, body = "route" }'
        )
    return write_site(root, "\n".join(lines) + "\n", files)


def location(http: httpx.Client, method: str, accept: str, path: str) -> str | None:
    """Where `path` redirects to (without its query), or None when it is no redirect."""
    response = http.request(method, path, headers={"accept": accept})
    if response.status_code not in REDIRECTS:
        return None
    return str(response.headers["location"]).split("?")[0]


def candidates() -> list[str]:
    paths = {"/"}
    for first in WORDS:
        for second in ("", *WORDS):
            base = f"/{first}" + (f"/{second}" if second else "")
            paths |= {base, base + "/"}
    return sorted(paths)


def test_no_path_redirects_to_a_path_that_redirects_back(tmp_path: Path) -> None:
    rng = random.Random(9)
    paths = candidates()
    followed = 0
    for case in range(30):
        config = layout(rng, tmp_path / f"layout{case}")
        transport = Transport(config)
        with httpx.Client(transport=transport, base_url="http://test") as http:
            for method in ("GET", "POST"):
                for accept in ("text/html", "*/*"):
                    for path in paths:
                        seen = [path]
                        while (target := location(http, method, accept, seen[-1])) is not None:
                            where = (case, method, accept, config.read_text())
                            assert target not in seen, (" -> ".join([*seen, target]), where)
                            seen.append(target)
                            followed += 1
                            assert len(seen) < 5, (seen, where)
    assert followed > 100  # the layouts do redirect: the property is not empty
