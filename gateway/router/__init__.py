"""gateway.router: request paths to decoded segments (paths), route patterns (patterns) and
the compiled, immutable trie that matches them (trie). No I/O, no clock, no global state."""

from gateway.router.paths import join_path, split_path
from gateway.router.patterns import Pattern, PatternError, parse_host, parse_pattern
from gateway.router.trie import (
    Match,
    MethodNotAllowed,
    NoMatch,
    NotFound,
    Router,
    RouterBuilder,
    TrailingSlashRedirect,
)

__all__ = [
    "Match",
    "MethodNotAllowed",
    "NoMatch",
    "NotFound",
    "Pattern",
    "PatternError",
    "Router",
    "RouterBuilder",
    "TrailingSlashRedirect",
    "join_path",
    "parse_host",
    "parse_pattern",
    "split_path",
]
