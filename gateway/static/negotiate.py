"""What a client accepts, for static files: which precompressed codings (Accept-Encoding,
RFC 9110 §12.5.3) and whether it asked for HTML by name (Accept, for the SPA fallback).
Pure functions over header values; a malformed element is skipped, never an error."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.compress.policy import parse_accept_encoding

# Content coding -> the suffix of its precompressed sibling file.
CODING_SUFFIX = {"br": ".br", "gzip": ".gz", "zstd": ".zst"}

# One q-value list parser for every weighted header (Accept-Encoding, Accept): the one the
# on-the-fly compressor negotiates with, so static and dynamic answers agree.
parse_weights = parse_accept_encoding


def accepted_codings(accept_encoding: str | None, offered: Sequence[str]) -> tuple[str, ...]:
    """The codings of `offered`, in the order given (the server's preference), that the
    client accepts: listed with q > 0, or not listed while "*" has q > 0.

    No Accept-Encoding header at all gets identity: the RFC would allow any coding, but
    clients that send none (curl, scripts) rarely decode one."""
    if not accept_encoding:
        return ()
    weights = parse_weights(accept_encoding)
    star = weights.get("*", 0.0)
    return tuple(coding for coding in offered if weights.get(coding, star) > 0.0)


def accepts_html(accept: str | None) -> bool:
    """True when Accept names text/html with q > 0. "*/*" and "text/*" do not count: fetch()
    and scripts send those, and they should get a 404 rather than the app's index page."""
    if not accept:
        return False
    return parse_weights(accept).get("text/html", 0.0) > 0.0
