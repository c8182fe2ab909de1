"""The header policy of the proxy, as pure functions over (lowercase name, value) lists:
hop-by-hop fields removed both ways (RFC 9110 §7.6.1), Via, X-Forwarded-* and Forwarded
(RFC 7239) set from the connection and trusted only from trusted_proxies, Host passed or
rewritten, and the route's own header rules applied last."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from gateway.http.headers import Headers
from gateway.proxy.seams import ResponseHeadLike
from gateway.proxy.spec import Network, ProxySpec, ServerAddress

Fields = list[tuple[str, str]]

# Always connection-specific, whether or not Connection names them. "proxy" is the httpoxy
# header (CGI would turn it into HTTP_PROXY); the Proxy-* family is checked by prefix.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "proxy"}
)
VIA = "1.1 gateway"
# Request fields this module writes itself (content-length: the framing does), and Expect:
# the server answers a client's 100-continue itself when it starts reading the body, so the
# upstream must not wait for a body it would never be asked for.
_REPLACED = frozenset(
    {
        "host",
        "via",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "forwarded",
        "content-length",
        "expect",
    }
)
# What a trailer section may not carry (RFC 9110 §6.5.1): fields that frame or route the
# message, authenticate, modify the request, control the response or describe the content,
# and the forwarding fields this module vouches for. After the content they mean nothing
# sound, and a recipient that merged them into the head would trust what no one checked.
_NOT_IN_TRAILERS = HOP_BY_HOP | frozenset(
    {
        "content-length", "content-encoding", "content-type", "content-range",
        "content-location", "host", "authorization", "www-authenticate", "proxy-authenticate",
        "cookie", "set-cookie", "expect", "max-forwards", "range", "if-match",
        "if-none-match", "if-modified-since", "if-unmodified-since", "if-range",
        "cache-control", "pragma", "age", "expires", "date", "location", "retry-after",
        "vary", "via", "forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
    }
)  # fmt: skip
UPSTREAM_HOST = "{upstream}"
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token: quoted if not one


class Client(NamedTuple):
    """What the proxy knows of the connection a request came in on (a NamedTuple: one is
    made per request)."""

    ip: str  # "" for a unix-socket client
    scheme: str = "http"  # "https" behind TLS
    trusted: bool = False  # the peer is in trusted_proxies: its X-Forwarded-* are kept


def is_trusted(ip: str, networks: Sequence[Network]) -> bool:
    if not ip or not networks:
        return False
    try:
        address = ipaddress.ip_address(ip.partition("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack listener shows IPv4 peers this way
    return any(address in network for network in networks)


def connection_options(fields: Iterable[tuple[str, str]]) -> set[str]:
    """The field names a Connection header lists (lowercase)."""
    found: set[str] = set()
    for name, value in fields:
        if name == "connection":
            found.update(token.strip().lower() for token in value.split(",") if token.strip())
    return found


def strip_hop_by_hop(fields: Iterable[tuple[str, str]], keep_upgrade: bool = False) -> Fields:
    fields = list(fields)
    drop = HOP_BY_HOP | connection_options(fields)
    if keep_upgrade:
        drop = drop - {"upgrade"}
    return [(n, v) for n, v in fields if n not in drop and not n.startswith("proxy-")]


def trailer_fields(fields: Iterable[tuple[str, str]] | None) -> Fields | None:
    """The trailer fields (lowercase names) a proxy passes on, either way; None for none."""
    if not fields:
        return None
    kept = [(n, v) for n, v in fields if n not in _NOT_IN_TRAILERS and n[:6] != "proxy-"]
    return kept or None


def requested_upgrade(fields: Iterable[tuple[str, str]], allowed: Sequence[str]) -> str | None:
    """The Upgrade value to pass on when the request asks for an upgrade the route allows
    (Connection: upgrade and an Upgrade whose first protocol is in `allowed`), else None."""
    fields = list(fields)
    if not allowed or "upgrade" not in connection_options(fields):
        return None
    value = next((v for n, v in fields if n == "upgrade"), "")
    first = value.split(",")[0].strip().split("/")[0].lower()
    return value if first and first in allowed else None


def request_fields(
    fields: Iterable[tuple[str, str]],
    client: Client,
    rules: ProxySpec,
    server: ServerAddress,
    upgrade: str | None = None,
) -> Fields:
    """The header fields of the request sent upstream, less the body framing
    (Content-Length, Transfer-Encoding): the caller adds what it will really send."""
    fields = list(fields)
    host = next((v for n, v in fields if n == "host"), None)
    out = [(n, v) for n, v in strip_hop_by_hop(fields) if n not in _REPLACED]
    out.insert(0, ("host", upstream_host(host, rules.host, server)))
    out.extend(forwarding(fields, client, host))
    out.append(("via", ", ".join([*_values(fields, "via"), VIA])))
    if upgrade is not None:
        out += [("connection", "upgrade"), ("upgrade", upgrade)]
    return apply_rules(out, rules.remove_headers, rules.headers)


_DROPPED = HOP_BY_HOP | _REPLACED
# With any of these in the request, or from a trusted peer, request_fields does the work.
INVOLVED = frozenset({"connection", "via"})


def upstream_fields(
    headers: Headers,
    client: Client,
    rules: ProxySpec,
    server: ServerAddress,
    upgrade: str | None = None,
) -> Fields:
    """request_fields for a parsed request's Headers, in one pass for the common request
    (no Connection or Via, an untrusted peer): the same fields in the same order."""
    if client.trusted or headers.has_any(INVOLVED):
        return request_fields(headers.items(), client, rules, server, upgrade)
    host = headers.get("host")
    out = [("host", upstream_host(host, rules.host, server))]
    out += [f for f in headers.items() if f[0] not in _DROPPED and f[0][:6] != "proxy-"]
    ip = client.ip
    if ip:
        out.append(("x-forwarded-for", ip))
    out.append(("x-forwarded-proto", client.scheme))
    if host:
        out.append(("x-forwarded-host", host))
    out.append(("forwarded", forwarded_element(client, host)))
    out.append(("via", VIA))
    if upgrade is not None:
        out += [("connection", "upgrade"), ("upgrade", upgrade)]
    return apply_rules(out, rules.remove_headers, rules.headers)


# upstream_head's forwarding fields and Via, by (client Host, Client): a connection's
# requests share them. Bounded: emptied when full.
_TAILS: dict[tuple[str | None, Client], str] = {}
_MAX_TAILS = 1024


def upstream_head(
    method: str,
    target: str,
    headers: Headers,
    client: Client,
    rules: ProxySpec,
    server: ServerAddress,
    involved: bool | None = None,
) -> bytes | None:
    """The whole upstream request head of a body-less request that asks for no upgrade, in
    one join (the forwarding fields of its Host and client kept from before): the bytes
    wire.request_head makes of upstream_fields. None where that path has more to do (a
    trusted peer, Connection or Via in the request, the route's header rules). `involved`:
    whether the request has Connection or Via, when the caller knows it already."""
    if involved is None:
        involved = headers.has_any(INVOLVED)
    if involved or client.trusted or rules.headers or rules.remove_headers:
        return None
    host = headers.get("host")
    tail = _TAILS.get((host, client))
    if tail is None:
        tail = _tail(host, client)
    lines = [f"{n}: {v}\r\n" for n, v in headers.items() if n not in _DROPPED and n[:6] != "proxy-"]
    upstream = host if host and rules.host is None else upstream_host(host, rules.host, server)
    text = f"{method} {target} HTTP/1.1\r\nhost: {upstream}\r\n{''.join(lines)}{tail}"
    return text.encode("latin-1")


def _tail(host: str | None, client: Client) -> str:
    fields = [("x-forwarded-for", client.ip)] if client.ip else []
    fields.append(("x-forwarded-proto", client.scheme))
    if host:
        fields.append(("x-forwarded-host", host))
    fields += [("forwarded", forwarded_element(client, host)), ("via", VIA)]
    tail = "".join(f"{n}: {v}\r\n" for n, v in fields) + "\r\n"
    if len(_TAILS) >= _MAX_TAILS:
        _TAILS.clear()
    _TAILS[(host, client)] = tail
    return tail


def upstream_host(client_host: str | None, rule: str | None, server: ServerAddress) -> str:
    if rule is None:
        return client_host or server.host_header
    return server.host_header if rule == UPSTREAM_HOST else rule


def forwarding(fields: Fields, client: Client, host: str | None) -> Fields:
    """X-Forwarded-For/-Proto/-Host and Forwarded: what came from a trusted proxy is kept
    (and extended with this hop); from anyone else it is replaced, never believed."""
    out: Fields = []
    chain = _values(fields, "x-forwarded-for") if client.trusted else []
    if client.ip:
        chain.append(client.ip)
    if chain:
        out.append(("x-forwarded-for", ", ".join(chain)))
    proto = _values(fields, "x-forwarded-proto") if client.trusted else []
    out.append(("x-forwarded-proto", proto[0] if proto else client.scheme))
    fwd_host = _values(fields, "x-forwarded-host") if client.trusted else []
    if fwd_host or host:
        out.append(("x-forwarded-host", fwd_host[0] if fwd_host else host or ""))
    elements = _values(fields, "forwarded") if client.trusted else []
    elements.append(forwarded_element(client, host))
    out.append(("forwarded", ", ".join(elements)))
    return out


def forwarded_element(client: Client, host: str | None) -> str:
    """One RFC 7239 element for this hop: for=...;host=...;proto=..."""
    if not client.ip:
        node = "unknown"
    elif ":" in client.ip:
        node = f'"[{client.ip}]"'  # IPv6 goes in brackets, and so in quotes (§6)
    else:
        node = client.ip
    parts = [f"for={node}"]
    if host:
        parts.append(f"host={_quote(host)}")
    parts.append(f"proto={client.scheme}")
    return ";".join(parts)


def response_fields(fields: Iterable[tuple[str, str]], rules: ProxySpec, upgraded: bool) -> Fields:
    """The header fields of the upstream's response as sent to the client. Content-Length
    stays (a HEAD or 304 answer carries it without a body); framing is the writer's."""
    out = strip_hop_by_hop(fields, keep_upgrade=upgraded)
    if upgraded:
        out.append(("connection", "upgrade"))
    return apply_rules(out, rules.remove_response_headers, rules.response_headers)


# client_fields' answers: per (parsed upstream head, route rules), both held (so their ids
# stay theirs). The response parser hands out one ResponseHead per distinct head (its cache),
# so a route answering the same head again reuses its fields. Bounded: emptied when full.
_CLIENT_FIELDS: dict[
    tuple[int, int], tuple[object, object, tuple[tuple[str, str], ...], int | None]
] = {}
_MAX_CLIENT_FIELDS = 256


def client_fields(
    head: ResponseHeadLike, rules: ProxySpec
) -> tuple[tuple[tuple[str, str], ...], int | None]:
    """response_fields of a final response head, as a tuple (never changed: shared), and
    the Content-Length among them (None without one): what Responder.start_response reads."""
    key = (id(head), id(rules))
    found = _CLIENT_FIELDS.get(key)
    if found is not None and found[0] is head and found[1] is rules:
        return found[2], found[3]
    # Made once per distinct head and rules (then kept): the general function serves.
    fields = tuple(response_fields(head.headers.items(), rules, upgraded=False))
    length = head.content_length  # (checked by the parser), unless a rule changed it, or
    rules_apply = rules.remove_response_headers or rules.response_headers
    if length is None or rules_apply:  # HEAD, 204, 304: the field says what GET would get
        length = next((int(v) for n, v in fields if n == "content-length"), None)
    if len(_CLIENT_FIELDS) >= _MAX_CLIENT_FIELDS:
        _CLIENT_FIELDS.clear()
    _CLIENT_FIELDS[key] = (head, rules, fields, length)
    return fields, length


def apply_rules(fields: Fields, remove: Sequence[str], put: Sequence[tuple[str, str]]) -> Fields:
    """Drop the `remove` names, then set each `put` field (replacing any of that name)."""
    if not remove and not put:
        return fields
    gone = set(remove) | {name.lower() for name, _ in put}
    kept = [(n, v) for n, v in fields if n not in gone]
    return kept + [(name.lower(), value) for name, value in put]


def _values(fields: Fields, name: str) -> list[str]:
    return [v.strip() for n, v in fields if n == name and v.strip()]


def _quote(value: str) -> str:
    if _TOKEN.fullmatch(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
