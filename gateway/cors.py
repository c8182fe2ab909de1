"""CORS policies: `CorsPolicy.from_spec` checks a [cors.NAME] table (every mistake at once) and
compiles it; `preflight` answers OPTIONS preflights, `decorate` adds headers to actual answers.
Header tuples are built once here, so a request costs a set lookup and at most one regex."""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import re
from collections.abc import Callable, Iterable

from gateway.config.schema import CorsSpec
from gateway.errors import ConfigError, ConfigIssue
from gateway.http.grammar import TOKEN
from gateway.http.headers import Headers
from gateway.response import Response
from gateway.router.patterns import HOST_LABEL

log = logging.getLogger("gateway.cors")

Header = tuple[str, str]
DEFAULT_PORTS = {"http": "80", "https": "443"}
TAIL_PARTS = {"/": "path", "?": "query", "#": "fragment"}
# What the "*" of "*.example.com" stands for: one or more whole labels, so never an empty
# name, a dot-less prefix ("evil-example.com") or a port.
WILDCARD_LABELS = r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*"
WILDCARD_RULE = "'*' may only be the whole leftmost label, as in 'https://*.example.com'"
PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
PNA_VARY = ", Access-Control-Request-Private-Network"
PNA_REQUEST = "access-control-request-private-network"
CREDENTIALS = ("access-control-allow-credentials", "true")


class CorsPolicy:
    """One compiled [cors.NAME] policy. Build it with `CorsPolicy.from_spec`."""

    __slots__ = (
        "_actual",
        "_any_header",
        "_any_method",
        "_any_origin",
        "_headers",
        "_methods",
        "_methods_value",
        "_origins",
        "_patterns",
        "_preflight_tail",
        "_preflight_vary",
        "_private_network",
        "name",
    )

    def __init__(self, spec: CorsSpec) -> None:
        """Compile a spec that `from_spec` has already checked and normalised."""
        self.name = spec.name
        origins = spec.allow_origins
        self._any_origin = "*" in origins  # from_spec refuses it with credentials
        self._origins = frozenset(o for o in origins if "*" not in o)
        self._patterns = _compile_patterns(o for o in origins if "://*." in o)
        self._methods = frozenset(spec.allow_methods)
        self._any_method = "*" in self._methods
        self._methods_value = ", ".join(spec.allow_methods)
        self._headers = frozenset(spec.allow_headers)
        self._any_header = "*" in self._headers
        self._private_network = spec.allow_private_network
        vary = PREFLIGHT_VARY + (PNA_VARY if self._private_network else "")
        self._preflight_vary: Header = ("vary", vary)
        tail: list[Header] = []
        actual: list[Header] = [("access-control-allow-origin", "*")] if self._any_origin else []
        if spec.max_age is not None:
            tail.append(("access-control-max-age", str(int(spec.max_age))))
        if spec.allow_credentials:
            tail.append(CREDENTIALS)
            actual.append(CREDENTIALS)
        if spec.expose_headers:
            actual.append(("access-control-expose-headers", ", ".join(spec.expose_headers)))
        self._preflight_tail = tuple(tail)
        self._actual = tuple(actual)

    @classmethod
    def from_spec(cls, spec: CorsSpec) -> CorsPolicy:
        """Check and normalise `spec`, raising ConfigError with every mistake in it."""
        issues: list[ConfigIssue] = []
        origins = _check_origins(spec, issues)
        methods = _check_names(spec, "allow_methods", str.upper, "method", issues)
        allow_headers = _check_names(spec, "allow_headers", str.lower, "header name", issues)
        expose = _check_names(spec, "expose_headers", str.lower, "header name", issues)
        if spec.allow_credentials and "*" in expose:
            # With credentials a browser reads "*" as a header literally named "*".
            message = "'*' cannot be used with allow_credentials = true: list the headers instead"
            issues.append(spec.where.issue(message, "expose_headers"))
        if spec.max_age is not None and spec.max_age < 0:
            message = f"{spec.max_age!r} is negative: use 0 (no caching) or more"
            issues.append(spec.where.issue(message, "max_age"))
        if issues:
            raise ConfigError(issues)
        return cls(
            dataclasses.replace(
                spec,
                allow_origins=origins,
                allow_methods=methods,
                allow_headers=allow_headers,
                expose_headers=expose,
            )
        )

    def allows_origin(self, origin: str) -> bool:
        """Whether `origin` (as the browser sent it) may call under this policy."""
        if self._any_origin or origin in self._origins:
            return True
        # Browsers serialise origins in lowercase, as the compiled patterns are: no re.I.
        return self._patterns is not None and self._patterns.fullmatch(origin) is not None

    def preflight(self, method: str, headers: Headers) -> Response | None:
        """The answer to a CORS preflight (OPTIONS with Origin and Access-Control-Request-
        Method): 204 with the CORS headers, or a bare 403. None when it is no preflight."""
        if method != "OPTIONS":
            return None
        origin = headers.get("origin")
        requested = headers.get("access-control-request-method")
        if origin is None or requested is None:
            return None
        names = _requested_headers(headers)
        refused = self._refusal(origin, requested, names)
        if refused is not None:
            part, why = refused
            log.info("cors preflight refused: %s", why)
            return Response.text(f"cors preflight refused: {part} not allowed\n", 403)
        methods = requested if self._any_method else self._methods_value
        out = [
            ("access-control-allow-origin", "*" if self._any_origin else origin),
            ("access-control-allow-methods", methods),
        ]
        if names:
            out.append(("access-control-allow-headers", ", ".join(names)))
        out += self._preflight_tail
        if self._private_network and (headers.get(PNA_REQUEST) or "").lower() == "true":
            out.append(("access-control-allow-private-network", "true"))
        out.append(self._preflight_vary)
        return Response(204, b"", out)

    def _refusal(self, origin: str, method: str, names: list[str]) -> tuple[str, str] | None:
        """The part of a preflight the policy refuses and why, for the log; None if none."""
        if not self.allows_origin(origin):
            return "origin", f"origin {origin!r} not allowed by policy {self.name!r}"
        # Reflected values go back into headers, so they must at least be tokens.
        if not TOKEN.fullmatch(method) or not (self._any_method or method in self._methods):
            allowed = self._methods_value or "nothing"
            return (
                "method",
                f"method {method!r} not in allow_methods ({allowed}) of policy {self.name!r}",
            )
        for name in names:
            if not TOKEN.fullmatch(name) or not (self._any_header or name in self._headers):
                allowed = ", ".join(sorted(self._headers)) or "nothing"
                return (
                    "header",
                    f"header {name!r} not in allow_headers ({allowed}) of policy {self.name!r}",
                )
        return None

    def decorate(self, headers: Headers, response: Response) -> None:
        """Add CORS headers to the answer to an actual (non-preflight) request with these
        request `headers`, error answers included. Safe to call twice."""
        if not self._any_origin:
            # The answer differs per Origin (present or not), so caches must key on it.
            merge_vary(response.headers, "Origin")
        if response.has_header("access-control-allow-origin"):
            return
        if self._any_origin:
            # Identical for every request, with or without Origin: cacheable without Vary.
            response.headers += self._actual
            return
        origin = headers.get("origin")
        if origin is not None and self.allows_origin(origin):
            response.headers.append(("access-control-allow-origin", origin))
            response.headers += self._actual


def merge_vary(headers: list[Header], token: str) -> None:
    """Add `token` to the response's one Vary header: existing values kept, tokens compared
    case-insensitively, several Vary fields folded into the first."""
    at = [i for i, (name, _) in enumerate(headers) if name.lower() == "vary"]
    if not at:
        headers.append(("vary", token))
        return
    tokens: dict[str, str] = {}
    for i in at:
        for part in headers[i][1].split(","):
            if part.strip():
                tokens.setdefault(part.strip().lower(), part.strip())
    if "*" not in tokens:  # "Vary: *" already says everything
        tokens.setdefault(token.lower(), token)
    headers[at[0]] = (headers[at[0]][0], ", ".join(tokens.values()))
    for i in reversed(at[1:]):
        del headers[i]


def _requested_headers(headers: Headers) -> list[str]:
    """Access-Control-Request-Headers as lowercased names, in order, without duplicates."""
    names: dict[str, None] = {}
    for value in headers.get_all("access-control-request-headers"):
        for part in value.split(","):
            if part.strip():
                names[part.strip().lower()] = None
    return list(names)


def _compile_patterns(patterns: Iterable[str]) -> re.Pattern[str] | None:
    """One alternation for every "scheme://*.suffix[:port]" pattern, or None without any."""
    parts = []
    for pattern in patterns:
        scheme, _, rest = pattern.partition("://*.")
        parts.append(re.escape(f"{scheme}://") + WILDCARD_LABELS + r"\." + re.escape(rest))
    return re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None


def _check_origins(spec: CorsSpec, issues: list[ConfigIssue]) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for raw in spec.allow_origins:
        if raw == "*":
            if spec.allow_credentials and "*" not in out:
                message = (
                    "'*' cannot be used with allow_credentials = true: list the origins instead"
                )
                issues.append(spec.where.issue(message, "allow_origins"))
            out["*"] = None
            continue
        try:
            out[normalise_origin(raw)] = None
        except ValueError as e:
            issues.append(spec.where.issue(f"{raw!r} is not an origin: {e}", "allow_origins"))
    return tuple(out)


def _check_names(
    spec: CorsSpec,
    key: str,
    normalise: Callable[[str], str],
    what: str,
    issues: list[ConfigIssue],
) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for raw in getattr(spec, key):
        name = normalise(raw)
        if TOKEN.fullmatch(name):
            out[name] = None
        else:
            issues.append(
                spec.where.issue(f"{raw!r} is not a {what}: use letters, digits and '-'", key)
            )
    return tuple(out)


def normalise_origin(raw: str) -> str:
    """`raw` as a browser serialises an origin ("null", or scheme://host[:port] in lowercase,
    default port left out), keeping a leading "*." label; ValueError says what is wrong."""
    if raw.lower() == "null":
        return "null"
    scheme, sep, rest = raw.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ValueError("write it as scheme://host[:port], as in 'https://example.com'")
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"the scheme must be http or https, not {scheme!r}")
    cut = min((i for i in map(rest.find, TAIL_PARTS) if i >= 0), default=len(rest))
    if cut < len(rest):
        raise ValueError(f"remove the {TAIL_PARTS[rest[cut]]} {rest[cut:]!r}")
    if "@" in rest:
        raise ValueError(f"remove the userinfo {rest[: rest.rindex('@') + 1]!r}")
    host, port = _split_port(rest)
    return f"{scheme}://{_check_host(host)}{_check_port(port, scheme)}"


def _split_port(authority: str) -> tuple[str, str | None]:
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise ValueError("close the IPv6 address with ']'")
        host, after = authority[: end + 1], authority[end + 1 :]
        if after and not after.startswith(":"):
            raise ValueError(f"remove {after!r} after the host")
        return host, after[1:] if after else None
    host, sep, port = authority.rpartition(":")
    return (host, port) if sep else (authority, None)


def _check_port(port: str | None, scheme: str) -> str:
    if port is None:
        return ""
    if not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise ValueError(f"the port must be a number from 1 to 65535, not {port!r}")
    # Browsers leave the default port out of Origin; so do we, or it could never match.
    port = str(int(port))
    return "" if port == DEFAULT_PORTS[scheme] else f":{port}"


def _check_host(host: str) -> str:
    host = host.lower()
    if not host:
        raise ValueError("the host is missing")
    if host.startswith("["):
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv6 address") from None
    if not host.isascii():
        raise ValueError(f"write the host {host!r} in ASCII, as punycode ('xn--...')")
    labels = host.split(".")
    wild = labels[0] == "*"
    named = labels[1:] if wild else labels
    if not named or any("*" in label for label in named):
        raise ValueError(WILDCARD_RULE)
    if not all(HOST_LABEL.fullmatch(label) for label in named):
        raise ValueError(f"{host!r} is not a host name")
    if named[-1].isdigit():  # URL parsers read a name whose last label is digits as IPv4
        if wild:
            raise ValueError("'*' cannot stand for part of an IP address")
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv4 address") from None
    return host
