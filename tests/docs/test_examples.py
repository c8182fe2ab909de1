"""Every ```toml block of README.md and docs/*.md is a config a user can paste: it goes
through `gateway check` (the loader, the app build, the TLS checks) in a fresh folder with
the files it names (folders, handler modules, real certificates). Markers, an HTML comment
on the line before a block:
- `<!-- fragment -->`: the block uses a [cors.NAME] or [upstream.NAME] defined elsewhere;
  those are added (and without them the block must fail, or it is no fragment);
- `<!-- fails -->`: the block shows a mistake; it must fail with each `gateway.toml:...`
  line of the next block.
Every `gateway ...` command the docs show is parsed by the real argument parser."""

from __future__ import annotations

import argparse
import re
import shlex
import socket
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import gateway.proxy.serving
from gateway.cli import _parser, main
from tests.docs.markdown import DOCS, REPO, Block, blocks

pytest.importorskip("cryptography", reason="the docs' [tls] examples need the tls extra")
from tests.tls.certs import ScratchCA

FILES = [REPO / "README.md", *sorted(p for p in DOCS.glob("*.md") if p.name != "benchmarks.md")]
TOML = [block for path in FILES for block in blocks(path) if block.lang == "toml"]
MARKERS = ("", "fragment", "fails")

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# Names a site's certificate is made for, beside the site's own hosts.
CERT_NAMES = ["localhost", "example.com", "www.example.com"]


def test_every_marker_is_known() -> None:
    wrong = [f"{b.where}: <!-- {b.marker} -->" for b in TOML if b.marker not in MARKERS]
    assert not wrong, f"unknown markers (known: {MARKERS[1:]}): {wrong}"


# -- the files a block names ----------------------------------------------------------------


def environment(text: str) -> dict[str, str | None]:
    """What each ${NAME} is set to: unset when it has a default, else a value of its own."""
    env: dict[str, str | None] = {}
    for match in _REFERENCE.finditer(text):
        name, default = match.groups()
        env[name] = None if default is not None else f"{name.lower()}-value"
    return env


def substituted(text: str, env: dict[str, str | None]) -> str:
    def one(match: re.Match[str]) -> str:
        value = env.get(match.group(1))
        return value if value is not None else match.group(2) or ""

    return _REFERENCE.sub(one, text.replace("$${", "$_{"))


def modules(data: dict[str, Any]) -> dict[str, dict[str, str]]:
    """module -> function -> kind, for every "module:function" the config names."""
    found: dict[str, dict[str, str]] = {}

    def add(ref: object, kind: str) -> None:
        if isinstance(ref, str) and ":" in ref:
            module, _, function = ref.partition(":")
            found.setdefault(module, {})[function] = kind

    for route in data.get("route", []):
        add(route.get("handler"), "handler")
        add(route.get("websocket"), "websocket")
    server = data.get("server", {})
    for hook in [*server.get("startup", []), *server.get("shutdown", [])]:
        add(hook, "hook")
    return found


SOURCES = {
    "handler": "def {name}(request, **params):\n    return {{}}\n",
    "websocket": "async def {name}(ws):\n    await ws.close()\n",
    "hook": "def {name}():\n    pass\n",
}


def write_modules(root: Path, data: dict[str, Any]) -> None:
    for module, functions in modules(data).items():
        path = root.joinpath(*module.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        code = "".join(SOURCES[kind].format(name=name) for name, kind in functions.items())
        path.write_text(code)


def hosts(data: dict[str, Any]) -> list[str]:
    named = [entry.get("host") for entry in [*data.get("route", []), *data.get("static", [])]]
    return [name for name in named if isinstance(name, str)]


def write_files(folder: Path, data: dict[str, Any], ca: ScratchCA) -> None:
    """Make what `data` (the block as TOML) names, relative to the config's folder."""
    server = data.get("server", {})
    root = folder / server.get("root", ".")
    root.mkdir(parents=True, exist_ok=True)
    for mount in data.get("static", []):
        served = root / mount.get("dir", "public")
        served.mkdir(parents=True, exist_ok=True)
        (served / mount.get("fallback", "index.html")).write_text("<h1>hi</h1>")
    for page in data.get("errors", {}).values():
        (root / page).parent.mkdir(parents=True, exist_ok=True)
        (root / page).write_text("<h1>error</h1>")
    write_modules(root, data)
    for pattern in data.get("include", []):
        if not any(char in pattern for char in "*?["):
            (folder / pattern).parent.mkdir(parents=True, exist_ok=True)
            (folder / pattern).write_text("")
    tls = data.get("tls", {})
    certificates = tls.get("certificates", [])
    for index, pair in enumerate(certificates if isinstance(certificates, list) else []):
        made = ca.leaf(f"leaf{index}", [*CERT_NAMES, *hosts(data)])
        for made_file, wanted in ((made.cert, pair["cert"]), (made.key, pair["key"])):
            (root / wanted).parent.mkdir(parents=True, exist_ok=True)
            (root / wanted).write_bytes(made_file.read_bytes())
            (root / wanted).chmod(0o600)
    ca_files = [tls.get("acme", {}).get("ca_file")]
    ca_files += [upstream.get("ca") for upstream in data.get("upstream", {}).values()]
    for ca_file in filter(None, ca_files):
        (root / ca_file).parent.mkdir(parents=True, exist_ok=True)
        (root / ca_file).write_bytes(ca.path.read_bytes())


def missing_tables(data: dict[str, Any]) -> str:
    """[cors.NAME] and [upstream.NAME] tables for the names `data` uses and does not define."""
    used_cors = {data.get("server", {}).get("cors")}
    used_cors |= {entry.get("cors") for entry in [*data.get("route", []), *data.get("static", [])]}
    used_upstreams = set()
    for route in data.get("route", []):
        proxy = route.get("proxy")
        if isinstance(proxy, dict):
            used_upstreams.add(proxy.get("upstream"))
    text = ""
    for name in sorted(n for n in used_cors if isinstance(n, str)):
        if name not in data.get("cors", {}):
            text += f'\n[cors."{name}"]\nallow_origins = ["http://localhost:5173"]\n'
    for name in sorted(n for n in used_upstreams if isinstance(n, str)):
        if name not in data.get("upstream", {}):
            text += f'\n[upstream."{name}"]\nservers = ["127.0.0.1:9001"]\n'
    return text


# -- running gateway check ------------------------------------------------------------------


def fake_lookup(host: str, port: int, **_: object) -> list[tuple[Any, ...]]:
    """The docs' upstream names (billing.internal) resolve here: the test is not about DNS."""
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> ScratchCA:
    return ScratchCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def in_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    for name in ("PORT", "GATEWAY_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    original = gateway.proxy.serving.resolve
    monkeypatch.setattr(
        gateway.proxy.serving, "resolve", lambda spec: original(spec, lookup=fake_lookup)
    )
    yield tmp_path


def check(
    block: Block, text: str, folder: Path, ca: ScratchCA, monkeypatch: pytest.MonkeyPatch, capsys
) -> tuple[int, str]:
    """`gateway check` on `text` in `folder`: (exit status, what it printed)."""
    env = environment(text)
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    data = tomllib.loads(substituted(text, env))
    write_files(folder, data, ca)
    (folder / "gateway.toml").write_text(text)
    capsys.readouterr()
    status = main(["check", "--config", "gateway.toml"])
    out, err = capsys.readouterr()
    return status, out + err


def following(block: Block) -> Block:
    later = [b for b in blocks(block.file) if b.line > block.line]
    assert later, f"{block.where}: a <!-- fails --> block needs the error output after it"
    return later[0]


@pytest.mark.parametrize("block", TOML, ids=[b.where for b in TOML])
def test_toml_example_passes_gateway_check(block: Block, in_folder, ca, monkeypatch, capsys):
    try:
        data = tomllib.loads(substituted(block.text, environment(block.text)))
    except tomllib.TOMLDecodeError as error:
        pytest.fail(f"{block.where}: not TOML: {error}")
    extra = missing_tables(data)
    if block.marker == "fails":  # shown whole, mistakes included: nothing is added
        status, shown = check(block, block.text, in_folder, ca, monkeypatch, capsys)
        assert status == 1, f"{block.where}: shown as a mistake, but it passes"
        expected = [line for line in following(block).text.splitlines() if ".toml:" in line]
        assert expected, f"{block.where}: the block after it shows no error line"
        for line in expected:
            assert line in shown, f"{block.where}: expected {line!r}, got:\n{shown}"
        return
    if block.marker == "fragment":
        assert extra, f"{block.where}: marked fragment, but it names nothing defined elsewhere"
    else:
        assert not extra, (
            f"{block.where}: names {extra.strip()!r} it does not define: define it in the block"
            " or mark the block <!-- fragment -->"
        )
    status, shown = check(block, block.text + extra, in_folder, ca, monkeypatch, capsys)
    assert status == 0, f"{block.where}: gateway check fails:\n{block.text}\n{shown}"


# -- the gateway command lines ----------------------------------------------------------------

_COMMAND = re.compile(
    r"^(?:\$ )?(?:[A-Z_]+=\S* )*(?:\.venv/bin/)?gateway((?: (?:-|[a-z]+\b)[^&|;#]*)?)$"
)
# Log lines the docs quote in backticks, which read like commands.
NOT_COMMANDS = {"gateway stopped"}
# Placeholders the docs write for a value, and values for a flag named without one.
PLACEHOLDERS = {"N": "2", "DIR": "mysite", "FILE": "gateway.toml", "HOST:PORT": "127.0.0.1:8000"}
SAMPLES = {"--listen": "127.0.0.1:8000", "--workers": "2", "--config": "gateway.toml"}


def commands() -> Iterator[tuple[str, str]]:
    """(where, argument string) for each `gateway ...` in an inline span or a shell block."""
    for path in FILES:
        text = path.read_text()
        for number, line in enumerate(text.split("\n"), 1):
            for span in re.findall(r"`([^`\n]+)`", line):
                found = _COMMAND.match(span.strip())
                if found and span.strip() not in NOT_COMMANDS:
                    yield f"{path.name}:{number}", found.group(1)
        for block in blocks(path):
            if block.lang not in ("", "sh", "bash", "console"):
                continue
            for offset, line in enumerate(block.text.splitlines(), 1):
                line = re.split(r"\s(&&|\|\||;|#)\s", line.strip())[0].strip()
                found = _COMMAND.match(line)
                if found and (block.lang or line.startswith("$ ")):
                    yield f"{path.name}:{block.line + offset}", found.group(1)


def variants(arguments: str) -> list[list[str]]:
    """The argument lists a doc's notation stands for: `serve / check` as each,
    `[--config FILE]` with the option, `--reload/--no-reload` as each, a flag named without
    its value with a sample one."""
    if " / " in arguments:
        return [w for part in arguments.split(" / ") for w in variants(part)]
    arguments = re.sub(r"\[(--[^\]]*)\]", r"\1", arguments)
    words = [PLACEHOLDERS.get(w, w) for w in shlex.split(arguments)]
    if words and words[-1] in SAMPLES:
        words.append(SAMPLES[words[-1]])
    lists = [words]
    for index, word in enumerate(words):
        if word.startswith("--") and "/--" in word:
            lists = [
                [*w[:index], choice, *w[index + 1 :]] for w in lists for choice in word.split("/")
            ]
    return lists


COMMANDS = list(commands())


def test_the_docs_show_commands() -> None:
    shown = {args.split()[0] for _, args in COMMANDS if args.split()}
    assert {"serve", "check", "routes", "init"} <= shown


@pytest.mark.parametrize("where, arguments", COMMANDS, ids=[w for w, _ in COMMANDS])
def test_each_command_parses(where: str, arguments: str, capsys) -> None:
    parser = _parser()
    for argv in variants(arguments):
        try:
            parsed = parser.parse_args(argv)
        except SystemExit as exit_:
            if exit_.code == 0:  # --help, --version
                continue
            pytest.fail(f"{where}: `gateway {' '.join(argv)}`: {capsys.readouterr().err}")
        assert not argv or getattr(parsed, "command", None) or argv[0].startswith("-"), where


def test_ok_lines_are_in_the_words_gateway_check_uses() -> None:
    """`gateway check`'s ok line counts as cli_args.counted does: '2 routes and 1 mount'."""
    routes = [f"{n} route{'' if n == 1 else 's'}" for n in range(1, 100)]
    mounts = [f"{n} mount{'' if n == 1 else 's'}" for n in range(1, 100)]
    shapes = {"no routes", *routes, *mounts, *(f"{r} and {m}" for r in routes for m in mounts)}
    wrong = [
        f"{path.name}:{number}: {line}"
        for path in FILES
        for number, line in enumerate(path.read_text().split("\n"), 1)
        for counted in re.findall(r"\.toml: ok \(([^)]*)\)", line)
        if counted not in shapes
    ]
    assert not wrong, wrong


def test_every_command_and_long_flag_is_in_the_docs() -> None:
    """The other way round: what `gateway` takes is shown somewhere, so a new command or
    flag comes with its docs."""
    text = "\n".join(path.read_text() for path in FILES)
    parser = _parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = []
    for name, sub in commands.choices.items():
        if not re.search(rf"`(?:\.venv/bin/)?gateway {name}\b", text):
            missing.append(name)
        for action in sub._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help" and flag not in text:
                    missing.append(f"{name} {flag}")
    assert not missing, f"not shown in README.md or docs/: {missing}"
