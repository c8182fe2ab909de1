"""A seeded mutation fuzzer over valid configs (the demo's gateway.toml and every valid toml
example of the docs): thousands of broken files go through the loader `gateway check` uses,
in process. Each either loads and builds an app, or fails with the loader's own error whose
every line names the file, the line and the key, in lowercase prose, the same every time."""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
import tomllib
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import gateway.proxy.serving
from gateway.app import all_issues, build_app
from gateway.cli import main
from gateway.config.load import ConfigLoadError, load_config
from gateway.config.locate import format_key
from gateway.errors import ConfigError, ConfigIssue
from tests.config.mutations import Case, mutate
from tests.docs.markdown import REPO

pytest.importorskip("cryptography", reason="the docs' [tls] examples need the tls extra")
from tests.docs.test_examples import (
    TOML,
    environment,
    fake_lookup,
    missing_tables,
    substituted,
    write_files,
)
from tests.tls.certs import ScratchCA

# "cors.web: a cors policy is a named table: write [cors.NAME]": a shape, not a value.
NAMED = ("a cors policy is a named table", "an upstream is a named table")
# Messages that end with the source line and a caret under it, on lines of their own.
SNIPPETS = ("invalid toml", "importing ")
CASES_PER_SEED = 45  # x 65 seeds: about 3,000 files
SEED = 20261201


@dataclass
class Seed:
    name: str
    folder: Path  # where its gateway.toml is written, with the files it names
    text: str
    data: dict[str, Any]
    environ: dict[str, str]


def seeds(base: Path, ca: ScratchCA) -> Iterator[Seed]:
    demo = base / "demo"
    shutil.copytree(REPO / "sites", demo / "sites")
    text = (REPO / "gateway.toml").read_text()
    yield Seed("gateway.toml", demo, text, tomllib.loads(text), {})
    for number, block in enumerate(b for b in TOML if b.marker != "fails"):
        env = environment(block.text)
        data = tomllib.loads(substituted(block.text, env))
        text = block.text + missing_tables(data)
        data = tomllib.loads(substituted(text, env))
        folder = base / f"block{number}"
        folder.mkdir()
        write_files(folder, data, ca)
        environ = {name: value for name, value in env.items() if value is not None}
        yield Seed(block.where, folder, text, data, environ)


@pytest.fixture(scope="module")
def all_seeds(tmp_path_factory: pytest.TempPathFactory) -> list[Seed]:
    base = tmp_path_factory.mktemp("fuzz")
    return list(seeds(base, ScratchCA(base / "ca")))


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    original = gateway.proxy.serving.resolve
    monkeypatch.setattr(
        gateway.proxy.serving, "resolve", lambda spec: original(spec, lookup=fake_lookup)
    )


def outcome(seed: Seed, case: Case) -> list[str] | None:
    """Load the case as `gateway check` does (load, then build; on failure, the build of the
    part that loaded): None when it builds, else the issues. Any other exception escapes."""
    path = seed.folder / "gateway.toml"
    path.write_bytes(case.raw)
    try:
        config = load_config("gateway.toml", seed.environ)
    except ConfigLoadError as exc:
        issues = all_issues(exc)
        problems = [f"{i}: {bad}" for i in issues for bad in faults(i, seed, case)]
        assert not problems, "\n".join(problems)
        return [str(issue) for issue in issues]
    try:
        build_app(config).close()
    except ConfigError as exc:
        problems = [f"{i}: {bad}" for i in exc.issues for bad in faults(i, seed, case)]
        assert not problems, "\n".join(problems)
        return [str(issue) for issue in exc.issues]
    return None


def faults(issue: ConfigIssue, seed: Seed, case: Case) -> list[str]:
    """What is wrong with how an issue is told (empty when nothing)."""
    found = []
    if not (seed.folder / issue.file).is_file():
        found.append(f"names file {issue.file!r}, which is not the config or an included file")
    elif not on_its_line(issue, seed.folder / issue.file):
        found.append("the line it names does not hold the key")
    if case.path and issue.key == format_key(case.path) and not quotes(issue, case.value):
        found.append(f"does not quote the value {case.value!r}")
    whole_file = issue.message.startswith("is not UTF-8")
    if issue.line is None:
        found.append("names no line")
    if not issue.key and not (whole_file or issue.message.startswith("invalid toml")):
        found.append("names no key")
    if "\n" in issue.key or ("\n" in issue.message and not issue.message.startswith(SNIPPETS)):
        found.append("breaks over lines")
    first = issue.message[:1]
    if not first or (first.isupper() and not issue.message.startswith(("UTF", "TOML"))):
        found.append("message does not start in lowercase")
    for leak in ("Traceback", " object at 0x", "<class ", "Error(", "None"):
        if leak in issue.message:
            found.append(f"message shows {leak!r}")
    return found


def on_its_line(issue: ConfigIssue, file: Path) -> bool:
    """The line an issue names holds its key (or a table header, or an array's element)."""
    if not issue.line or not issue.key or issue.key.endswith("]"):
        return True
    lines = file.read_bytes().decode(errors="replace").splitlines()
    if issue.line > len(lines):
        return False
    text = lines[issue.line - 1].lstrip()
    last = issue.key.rpartition(".")[2].strip('"')
    return text.startswith("[") or last in text


def quotes(issue: ConfigIssue, value: object) -> bool:
    """The message quotes the scalar value that was set (repr, or inside a quoted path);
    values a reference or a secret changed or hides are not checked."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return True
    if isinstance(value, str) and ("${" in value or len(value) > 80):
        return True
    if issue.key.endswith("key") or issue.message.startswith(("invalid toml", *NAMED)):
        return True  # a secret ([dev] key) is never shown; a named table's shape is told
    if isinstance(value, str):
        # Quoted whole, or the bad part of it ('{x:nope}'), or as the path it resolves to
        # (file '/srv/etc/passwd' does not exist, for '../etc/passwd').
        parts = re.findall(r"'([^']+)'", issue.message)
        resolved = any(p.startswith("/") and "does not exist" in issue.message for p in parts)
        return repr(value)[1:-1] in issue.message or resolved or any(p in value for p in parts)
    return str(value) in issue.message


def escaped(exc: Exception) -> str:
    """'KeyError: 'api' (at gateway/proxy/spec.py:113)': what escaped, and from where."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/gateway/" in f.filename]
    place = ""
    if frames:
        file = frames[-1].filename.rpartition("/gateway/")[2]
        place = f" (at gateway/{file}:{frames[-1].lineno})"
    return f"{type(exc).__name__}: {exc}{place}"


def cases(seed: Seed, index: int) -> Iterator[Case]:
    for number in range(CASES_PER_SEED):
        rng = random.Random(f"{SEED}:{index}:{number}")
        yield mutate(seed.data, seed.text, rng, seed.folder)


def test_every_broken_config_gets_a_clear_error(
    all_seeds: list[Seed], monkeypatch: pytest.MonkeyPatch
) -> None:
    failures = []
    count = 0
    for index, seed in enumerate(all_seeds):
        monkeypatch.chdir(seed.folder)
        for case in cases(seed, index):
            count += 1
            try:
                first = outcome(seed, case)
                again = outcome(seed, case)
            except Exception as exc:  # the point is to see any of them
                failures.append(f"{seed.name}: {case.what}: {escaped(exc)}"[:600])
                continue
            if first != again:
                failures.append(f"{seed.name}: {case.what}: not deterministic:\n{first}\n{again}")
    assert count > 2500
    assert not failures, f"{len(failures)} of {count} cases:\n" + "\n".join(failures[:40])


# A few whole runs of the command, as a user types it: the exit status and what it prints.
COMMAND_CASES = [
    (b"\xef\xbb\xbf[server]\nworkers = 2\n", 0, "gateway.toml: ok (no routes)"),
    (b'[server]\nroot = "caf\xe9"\n', 1, "gateway.toml:2: is not UTF-8 text: byte"),
    (b'[server]\nworkers = "2"\n', 1, "gateway.toml:2: server.workers: expected an integer"),
    (b'[server]\nroot = "a\\u0000b"\n', 1, "gateway.toml:2: server.root: 'a\\x00b' contains"),
    (
        b'[upstream.api]\nservers = false\n[[route]]\npath = "/a"\nproxy = { upstream = "api" }\n',
        1,
        "gateway.toml:2: upstream.api.servers: expected a list of server addresses",
    ),
]


@pytest.mark.parametrize("raw, status, first", COMMAND_CASES)
def test_gateway_check_prints_errors_not_tracebacks(
    tmp_path: Path, raw: bytes, status: int, first: str
) -> None:
    (tmp_path / "gateway.toml").write_bytes(raw)
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "GATEWAY_CONFIG")}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    shown = done.stdout + done.stderr
    assert done.returncode == status, shown
    assert shown.startswith(first), shown
    assert "Traceback" not in shown


# -- broken handler modules ---------------------------------------------------------------

_ERROR_LINE = re.compile(r"gateway\.toml:\d+: [\w.\[\]]+: \S.*|\d+ errors?")


def broken_module(source: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One way to break a handler module's source."""
    at = rng.randrange(len(source) + 1)
    lines = source.split(b"\n")
    index = rng.randrange(len(lines))
    kind, made = rng.choice(
        [
            ("cut", source[:at]),
            ("line gone", b"\n".join(lines[:index] + lines[index + 1 :])),
            ("nul", source[:at] + b"\x00" + source[at:]),
            ("latin-1", source[:at] + b"\xe9" + source[at:]),
            ("raises", b"raise RuntimeError('db down')\n" + source),
            ("indent", b"\n".join([*lines[:index], b" " + lines[index], *lines[index + 1 :]])),
            ("renamed", source.replace(b"def ", b"def x_", 1)),
            ("not callable", source + b"\nstatus = 5\nhello = None\n"),
        ]
    )
    return f"{kind} at {at}/line {index + 1}", made


def test_broken_handler_modules_get_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo with one of its handler modules broken (a fresh copy each time: a site's
    modules are imported once per root): `gateway check` prints one error line per problem,
    each naming gateway.toml, a line and the key, and never a traceback."""
    demo = REPO / "sites" / "demo"
    modules = sorted((demo / "api").glob("*.py"))
    wrong = []
    failed = 0
    for number in range(40):
        rng = random.Random(f"{SEED}:module:{number}")
        module = rng.choice([m for m in modules if m.name != "__init__.py"])
        what, made = broken_module(module.read_bytes(), rng)
        folder = tmp_path / str(number)
        shutil.copytree(demo, folder / "sites" / "demo")
        (folder / "sites" / "demo" / "api" / module.name).write_bytes(made)
        (folder / "gateway.toml").write_bytes((REPO / "gateway.toml").read_bytes())
        monkeypatch.chdir(folder)
        capsys.readouterr()
        try:
            status = main(["check"])
        except Exception as exc:  # the point is to see any of them
            wrong.append(f"{module.name}: {what}: {escaped(exc)}")
            continue
        _, err = capsys.readouterr()
        failed += status == 1
        heads = [line for line in err.splitlines() if not line.startswith("    ")]
        bad = [line for line in heads if not _ERROR_LINE.fullmatch(line)]
        if bad or "Traceback" in err or (status == 0) != (err == ""):
            wrong.append(f"{module.name}: {what}: status {status}:\n{err}")
    assert not wrong, "\n".join(wrong[:10])
    assert failed >= 20  # most ways to break a module are errors
