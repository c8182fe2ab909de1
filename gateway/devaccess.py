"""Who may use the dev endpoints (the live-reload events and script, the dev error page):
loopback clients, plus the networks in `[dev] allow` and browsers that present `[dev] key`
(as the `gateway_dev_key` query parameter once, then a cookie). What a non-loopback client
gets has absolute filesystem paths cut down: relative to the project root, or elided."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from gateway.metrics.access import Allow

LOOPBACK = ("127.0.0.0/8", "::1/128")
KEY_PARAM = "gateway_dev_key"  # in a page's query string: the browser gets the cookie
KEY_COOKIE = "gateway_dev_key"
REFUSED = (
    "the dev endpoints answer loopback clients only: open the site on this machine, or "
    "widen it with [dev] allow (networks) or [dev] key (docs/operations.md#dev-endpoints)"
)

_NO_PEER = frozenset({"", "testclient"})
# An absolute POSIX path of two or more parts, not inside a URL or a word.
_ABSOLUTE = re.compile(r"(?<![\w.:/~-])/(?:[\w.@+~-]+/)+[\w.@+~-]+")


class DevAccess:
    """Built once per config; `allowed(request)` on any thread."""

    __slots__ = ("_allow", "_key", "_loopback", "_root")

    def __init__(self, allow: Iterable[str] = (), key: str | None = None, root: Any = None):
        self._loopback = Allow(LOOPBACK)
        self._allow = Allow(tuple(allow)) if allow else None
        self._key = key
        self._root = str(Path(root).resolve()) if root is not None else None

    @classmethod
    def from_config(cls, config: Any) -> DevAccess:
        dev = config.dev
        return cls(getattr(dev, "allow", ()), getattr(dev, "key", None), config.server.root)

    @property
    def root(self) -> str | None:
        return self._root

    def is_local(self, request: Any) -> bool:
        """Loopback, or no network peer at all: a unix socket or an in-process request
        (gateway.testing names its client "testclient", as Starlette's does)."""
        host = _host(request)
        return host in _NO_PEER or self._loopback(host)

    def allowed(self, request: Any) -> bool:
        if self.is_local(request):
            return True
        if self._allow is not None and self._allow(_host(request)):
            return True
        return self.presented_key(request) is not None

    def presented_key(self, request: Any) -> str | None:
        """The configured key when the request carries it (query or cookie), else None."""
        if not self._key:
            return None
        for given in (_query_key(request), _cookie_key(request)):
            if _matches(given, self._key):
                return self._key
        return None

    def key_cookie(self, request: Any) -> tuple[str, str] | None:
        """A Set-Cookie header that keeps the key a page was opened with (query string)."""
        if not _matches(_query_key(request), self._key):
            return None
        cookie = f"{KEY_COOKIE}={self._key}; Path=/; HttpOnly; SameSite=Strict"
        return ("set-cookie", cookie)

    def scrub(self, request: Any, text: str) -> str:
        """`text` as this client may see it: unchanged on loopback, else paths cut down."""
        return text if self.is_local(request) else strip_paths(text, self._root)


def strip_paths(text: str, root: str | None) -> str:
    """Absolute paths made relative to `root` when under it, else elided to their last
    part ('…/name'), so a remote browser never learns the server's directory layout."""

    def replace(match: re.Match[str]) -> str:
        path = match.group(0)
        if root and (path == root or path.startswith(root.rstrip("/") + "/")):
            return path[len(root.rstrip("/")) + 1 :] or "."
        return "…/" + path.rsplit("/", 1)[1]

    return _ABSOLUTE.sub(replace, text)


def _matches(given: str | None, key: str | None) -> bool:
    return bool(given and key and secrets.compare_digest(given.encode(), key.encode()))


def _host(request: Any) -> str:
    client = getattr(request, "client", None)
    return str(client[0]) if client else ""


def _query_key(request: Any) -> str | None:
    query = getattr(request, "query_string", "") or ""
    if KEY_PARAM not in query:
        return None
    values = [value for name, value in parse_qsl(query) if name == KEY_PARAM]
    return str(values[0]) if values else None


def _cookie_key(request: Any) -> str | None:
    headers = getattr(request, "headers", None)
    raw = headers.get("cookie") if headers is not None else None
    if not raw or KEY_COOKIE not in raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:
        return None
    morsel = jar.get(KEY_COOKIE)
    return str(morsel.value) if morsel is not None else None


def exposed(addresses: Iterable[str]) -> list[str]:
    """The listen addresses ('host:port', '[v6]:port') other machines can reach."""
    found = []
    for address in addresses:
        host = address.rpartition(":")[0].strip("[]")
        if host == "localhost" or Allow(LOOPBACK)(host):
            continue
        found.append(address)
    return found


def startup_warning(config: Any, listen: Iterable[str], reload: bool) -> str | None:
    """What `gateway serve` warns when dev features run on an address others can reach."""
    features = [
        name
        for name, on in (("live_reload", reload and config.dev.live_reload), ("reload", reload))
        if on
    ]
    tls = config.tls.listen if getattr(config, "tls", None) is not None else ()
    reachable = exposed([*listen, *tls])
    if not features or not reachable:
        return None
    widened = " (and [dev] allow/key clients)" if config.dev.allow or config.dev.key else ""
    return (
        f"gateway: warning: [dev] {' and '.join(features)} on while listening on "
        f"{', '.join(reachable)}: the dev endpoints (live-reload events, the dev error page) "
        f"answer loopback clients only{widened}; turn [dev] off in production"
    )
