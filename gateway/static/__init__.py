"""gateway.static: files under a mount's dir. paths (lexical_join: segments -> a path or None),
mime (MimeTypes), files (StaticMount.serve), with conditional, ranges, negotiate, rules and
listing as its parts, fdcache (the open-file cache and its fd budget). Nothing here raises
for a bad request: it answers or returns None (HTTPError 503 only when out of fds)."""
