"""The demo site's API handlers (see gateway.toml)."""
