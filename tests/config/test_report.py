"""format_issues: a module message shared by several routes comes out once, naming the other
places; the module's offending line is shown with a caret; other issues pass unchanged."""

from __future__ import annotations

from pathlib import Path

from gateway.config.report import format_issues, source_snippet
from gateway.errors import ConfigIssue


def test_a_shared_module_message_is_merged_and_others_are_kept(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "api/app.py").write_text("import os\n\nvalue = missing_name + 1\n")
    message = (
        "importing 'api.app' failed: api/app.py:3: NameError: name 'missing_name' is not defined"
    )
    issues = [
        ConfigIssue("gateway.toml", 9, "route[1].handler", message),
        ConfigIssue("gateway.toml", 2, "server.workers", "must be at least 1, got 0"),
        ConfigIssue("gateway.toml", 5, "route[0].handler", message),
        ConfigIssue("routes/b.toml", 3, "route[0].handler", message),
    ]
    assert format_issues(issues, tmp_path) == [
        "gateway.toml:2: server.workers: must be at least 1, got 0",
        f"gateway.toml:5: route[0].handler: {message} (also used by route[1].handler at "
        "gateway.toml:9, route[0].handler at routes/b.toml:3)\n"
        "    value = missing_name + 1\n"
        "    ^^^^^^^^^^^^^^^^^^^^^^^^",
    ]


def test_a_syntax_error_caret_sits_at_the_column_python_gives(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def f():\n    return (1,\n        2]\n")
    snippet = source_snippet("importing 'm' failed: m.py:3: SyntaxError: closing", tmp_path)
    assert snippet == "\n    2]\n     ^"
    assert source_snippet("importing 'm' failed: gone.py:3: SyntaxError: x", tmp_path) == ""
    assert source_snippet("module 'm' not found", tmp_path) == ""
