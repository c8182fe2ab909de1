"""The WebSocket opening handshake on our HTTP core (RFC 6455 §4.2): a request checked
field by field (GET, Upgrade, Connection, Sec-WebSocket-Key/Version, Origin through the
route's policy) into a Handshake, or an HTTPError with the status and headers to answer."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from wsproto.utilities import generate_accept_token

from gateway.errors import HTTPError
from gateway.http.headers import Headers

VERSION = "13"

OriginCheck = Callable[[str | None], bool]  # the Origin header (None: absent) -> allowed?


def _tokens(headers: Headers, name: str) -> list[str]:
    return [t.strip().lower() for v in headers.get_all(name) for t in v.split(",") if t.strip()]


def _list(headers: Headers, name: str) -> list[str]:
    return [t.strip() for v in headers.get_all(name) for t in v.split(",") if t.strip()]


@dataclass(frozen=True, slots=True)
class Handshake:
    """A sound opening handshake: what the 101 answer needs and what the handler may see."""

    key: str
    accept: str  # Sec-WebSocket-Accept
    subprotocols: tuple[str, ...]  # offered by the client, in its order
    origin: str | None

    def choose_subprotocol(self, supported: Sequence[str]) -> str | None:
        """The first subprotocol the client offered that the route supports."""
        return next((p for p in self.subprotocols if p in supported), None)

    def response_headers(self, subprotocol: str | None = None) -> list[tuple[str, str]]:
        if subprotocol is not None and subprotocol not in self.subprotocols:
            raise ValueError(
                f"subprotocol {subprotocol!r} was not offered; the client offered "
                f"{list(self.subprotocols)!r}"
            )
        headers = [
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
            ("sec-websocket-accept", self.accept),
        ]
        if subprotocol is not None:
            headers.append(("sec-websocket-protocol", subprotocol))
        return headers

    def response_head(self, subprotocol: str | None = None) -> bytes:
        """The whole 101 head, ready to write."""
        lines = ["HTTP/1.1 101 Switching Protocols"]
        lines += [f"{name}: {value}" for name, value in self.response_headers(subprotocol)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _upgrade_required(detail: str) -> HTTPError:
    # RFC 9110 §15.5.22: a 426 names the protocol to switch to.
    return HTTPError(
        426,
        detail,
        [("upgrade", "websocket"), ("connection", "Upgrade"), ("sec-websocket-version", VERSION)],
    )


def check_handshake(
    method: str,
    http_version: str,
    headers: Headers,
    origin_allowed: OriginCheck | None = None,
) -> Handshake:
    """The Handshake of a WebSocket request, or HTTPError: 405 for a method other than GET,
    426 for a request that is not an upgrade to WebSocket version 13, 400 for a bad key or
    a body,
    403 for an origin the route's policy refuses."""
    if method != "GET":
        raise HTTPError(405, f"a websocket opens with GET, not {method!r}", [("allow", "GET")])
    if http_version in ("1.0", "0.9"):
        raise _upgrade_required(f"a websocket needs HTTP/1.1; got HTTP/{http_version}")
    if "websocket" not in _tokens(headers, "upgrade"):
        raise _upgrade_required("this is a websocket endpoint: send 'Upgrade: websocket'")
    if "upgrade" not in _tokens(headers, "connection"):
        raise _upgrade_required("a websocket request needs 'Connection: Upgrade'")
    versions = _tokens(headers, "sec-websocket-version")
    if versions != [VERSION]:
        shown = headers.get("sec-websocket-version")
        raise _upgrade_required(f"sec-websocket-version {shown!r} is not supported: use 13")
    length, chunked = headers.get("content-length"), headers.get("transfer-encoding")
    if chunked is not None or length not in (None, "0"):
        # The bytes after the head would be the body or the first frames: nobody can tell.
        framing = f"transfer-encoding {chunked!r}" if chunked else f"content-length {length!r}"
        raise HTTPError(400, f"a websocket upgrade has no body (got {framing}); send none")
    keys = headers.get_all("sec-websocket-key")
    key = keys[0].strip() if len(keys) == 1 else ""
    if not _valid_key(key):
        bad: object = keys[0] if len(keys) == 1 else keys
        raise HTTPError(
            400, f"sec-websocket-key {bad!r} is not 16 bytes in base64 (one header, 24 chars)"
        )
    origin = headers.get("origin")
    if origin_allowed is not None and not origin_allowed(origin):
        raise HTTPError(403, f"origin {origin!r} may not open this websocket")
    return Handshake(
        key=key,
        accept=generate_accept_token(key.encode("ascii")).decode("ascii"),
        subprotocols=tuple(_list(headers, "sec-websocket-protocol")),
        origin=origin,
    )


def _valid_key(key: str) -> bool:
    if len(key) != 24:
        return False
    try:
        return len(base64.b64decode(key.encode("ascii"), validate=True)) == 16
    except (binascii.Error, UnicodeEncodeError):
        return False


def origin_check(policy: object | None, same_origin_hosts: Sequence[str] = ()) -> OriginCheck:
    """An OriginCheck from a route's CORS policy (gateway.cors.CorsPolicy.allows_origin).
    Without a policy only same-origin pages may connect (the Origin's host is one of
    `same_origin_hosts`, the request's Host); clients that send no Origin (not browsers:
    scripts, servers) are let through, as browsers always send one (RFC 6455 §10.2)."""
    allows = getattr(policy, "allows_origin", None)

    def check(origin: str | None) -> bool:
        if origin is None:
            return True
        if allows is not None:
            return bool(allows(origin))
        host = origin.partition("://")[2]
        return bool(host) and host.lower() in {h.lower() for h in same_origin_hosts}

    return check
