"""Values from the environment: `${VAR}` and `${VAR:-default}` in gateway.toml's string values
(never in keys; `$${` writes a literal `${`), the 12-factor defaults GATEWAY_CONFIG and PORT,
and where each such value came from (`gateway check --show-env`), with secrets masked."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from gateway.config.fields import Issues
from gateway.config.locate import KeyPath
from gateway.config.schema import EnvUse

DEFAULT_CONFIG = "gateway.toml"
MASK = "****"
# Names that hold secrets: a value set from such a variable, or under such a key, is masked.
SECRET_WORDS = ("password", "passwd", "secret", "token", "key", "credential", "authorization")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# `$${` is an escaped `${`; `${...}` a reference; a `${` with no `}` on the line is an error.
_REFERENCE = re.compile(r"\$\$\{|\$\{([^}\n]*)\}|\$\{")


def default_config_path(environ: Mapping[str, str]) -> str:
    """The config file `gateway` reads without --config: $GATEWAY_CONFIG, else gateway.toml."""
    return environ.get("GATEWAY_CONFIG") or DEFAULT_CONFIG


def looks_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


def interpolate(
    data: dict[str, object], issues: Issues, environ: Mapping[str, str]
) -> list[EnvUse]:
    """Replace references in every string value of `data` (in place). An unset variable with
    no default, a bad name or an unclosed `${` is an issue at the value's line and key."""
    uses: list[EnvUse] = []

    def walk(node: object, path: KeyPath) -> object:
        if isinstance(node, dict):
            for key, value in node.items():
                node[key] = walk(value, (*path, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                node[index] = walk(value, (*path, index))
        elif isinstance(node, str) and "${" in node:
            return _substitute(node, path, issues, environ, uses)
        return node

    walk(data, ())
    return uses


def _substitute(
    text: str, path: KeyPath, issues: Issues, environ: Mapping[str, str], uses: list[EnvUse]
) -> str:
    sources: list[str] = []
    problems: list[str] = []

    def replace(match: re.Match[str]) -> str:
        whole, body = match.group(0), match.group(1)
        if whole == "$${":
            return "${"
        if body is None:
            problems.append("'${' is not closed: write ${NAME} (or $${ for a literal '${')")
            return whole
        name, sep, default = body.partition(":-")
        if not _NAME.fullmatch(name):
            problems.append(
                f"{whole!r} is not a variable reference: write ${{NAME}} or ${{NAME:-default}}"
            )
            return whole
        if "${" in default:
            problems.append(
                f"{whole!r} holds a reference in its default, which is not read: "
                f"write a plain default, as ${{{name}:-value}}"
            )
            return whole
        found = environ.get(name)
        if found is not None and (found or not sep):
            sources.append(f"${{{name}}}")
            return found
        if sep:  # like the shell's ${NAME:-default}: unset or empty takes the default
            sources.append(f"{whole} (default)")
            return default
        problems.append(
            f"environment variable {name!r} is not set: set it, "
            f"or give a default as ${{{name}:-default}}"
        )
        return whole

    value = _REFERENCE.sub(replace, text)
    for problem in problems:
        issues.add(path, problem)
    if problems:
        issues.silenced.add(path)
    if sources and not problems:
        uses.append(_use(issues, path, value, sources))
    return value


def _use(issues: Issues, path: KeyPath, value: object, sources: Sequence[str]) -> EnvUse:
    file, line, key = issues.place(path)
    names = [part for part in path if isinstance(part, str)]
    secret = any(looks_secret(part) for part in [*names[-1:], *sources])
    return EnvUse(file, line, key, value, tuple(sources), secret)


def port_override(
    listen: tuple[str, ...], environ: Mapping[str, str]
) -> tuple[tuple[str, ...], str | None]:
    """(listen with every port replaced by $PORT, None) when PORT is set and valid; (listen,
    None) when it is unset or empty; (listen, message) when it is not a port."""
    port = environ.get("PORT", "").strip()
    if not port:
        return listen, None
    if not (port.isascii() and port.isdigit() and int(port) <= 65535):
        return listen, (
            f"environment variable PORT is {port!r}, which is not a port: "
            "set it to a number from 0 to 65535, or unset it"
        )
    return tuple(f"{address.rpartition(':')[0]}:{int(port)}" for address in listen), None


def render_env(uses: Sequence[EnvUse]) -> str:
    """The `gateway check --show-env` listing: one line per value set from the environment,
    'file:line: key = value  <- sources', secrets shown as ****."""
    if not uses:
        return "no config value comes from the environment"
    lines = []
    for use in sorted(uses, key=lambda u: (u.file, u.line or 0, u.key)):
        where = f"{use.file}:{use.line}" if use.line else use.file
        value = MASK if use.secret else _show(use.value)
        lines.append(f"{where}: {use.key} = {value}  <- {', '.join(use.sources)}")
    return "\n".join(lines)


def _show(value: object) -> str:
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    return repr(value)
