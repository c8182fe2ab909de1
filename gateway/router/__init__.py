"""gateway.router: request paths to decoded segments (paths), route patterns (patterns) and
the compiled, immutable trie that matches them (trie). No I/O, no clock, no global state."""

from gateway.router.paths import join_path, split_path
from gateway.router.patterns import (
    Pattern,
    PatternError,
    Template,
    parse_host,
    parse_pattern,
    parse_template,
)
from gateway.router.trie import (
    Conflict,
    Match,
    MethodNotAllowed,
    NoMatch,
    NotFound,
    RouteConflicts,
    Router,
    RouterBuilder,
    TrailingSlashRedirect,
)

__all__ = [
    "Conflict",
    "Match",
    "MethodNotAllowed",
    "NoMatch",
    "NotFound",
    "Pattern",
    "PatternError",
    "RouteConflicts",
    "Router",
    "RouterBuilder",
    "Template",
    "TrailingSlashRedirect",
    "join_path",
    "parse_host",
    "parse_pattern",
    "parse_template",
    "split_path",
]
