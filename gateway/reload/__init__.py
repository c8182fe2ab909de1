"""Reload on change: watch what the app is built from, rebuild it off the loop, swap it in
between requests, and tell browsers (live reload). `Reloader` is the front door; the CLI
starts one with `[dev] reload = true` or `gateway serve --reload`. See docs/reload.md."""

from gateway.reload.reloader import Reloader

__all__ = ["Reloader"]
