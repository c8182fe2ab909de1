"""The layers of docs/architecture.md, checked from the source: every import in gateway/
(top-level, under TYPE_CHECKING or inside a function) is an edge, and there is no cycle;
http/ imports only errors of the rest of gateway; router/ imports neither config/ nor
server/; app.py and the targets import nothing of server/."""

from __future__ import annotations

import ast
from pathlib import Path

import gateway

ROOT = Path(gateway.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The gateway modules `path` imports, anywhere in it (a package import counts as
    its __init__; `from pkg import mod` as the module)."""
    found: set[str] = set()
    tree = ast.parse(path.read_text(), str(path))
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import mod` depends on the module only; `from mod import name` on mod.
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != this:
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    paths = sorted(ROOT.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) for p in paths}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_there_is_no_import_cycle_in_gateway() -> None:
    assert find_cycle(graph()) is None


def test_the_cycle_finder_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def outside(prefix: str, edges: dict[str, set[str]]) -> dict[str, set[str]]:
    return {
        module: {dep for dep in deps if not dep.startswith(prefix)}
        for module, deps in edges.items()
        if module.startswith(prefix)
    }


def test_http_imports_nothing_of_gateway_but_errors() -> None:
    deps = outside("gateway.http", graph())
    assert {dep for found in deps.values() for dep in found} <= {"gateway.errors"}


def test_router_imports_neither_config_nor_server() -> None:
    deps = outside("gateway.router", graph())
    banned = ("gateway.config", "gateway.server", "gateway.app", "gateway.static")
    assert not {d for found in deps.values() for d in found if d.startswith(banned)}


def test_the_app_and_its_targets_import_nothing_of_server() -> None:
    edges = graph()
    for module in ("gateway.app", "gateway.targets", "gateway.livereload", "gateway.handlers"):
        assert not {d for d in edges[module] if d.startswith("gateway.server")}, module
