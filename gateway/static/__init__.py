"""gateway.static: files under a mount's dir. paths (safe_join: segments -> a path or None),
mime (MimeTypes), files (StaticMount.serve), with conditional, ranges, negotiate, rules and
listing as its parts. Nothing here raises for a bad request: it answers or returns None."""
