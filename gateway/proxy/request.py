"""The request side of a proxied exchange: what the exchange needs of the client's request,
and the body bytes kept for a replay (a retry on a fresh connection), bounded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from gateway.http.headers import Headers
from gateway.proxy.headers import Client

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
PENDING_LIMIT = 64 * 1024  # request body held while the upstream is not taking it
REPLAY_LIMIT = 64 * 1024  # request body kept for a retry on a fresh connection


class ProxyRequest(NamedTuple):
    """What the exchange needs of the client's request (the head; the body comes later
    through body() and end_body()). A NamedTuple: one is made per request."""

    method: str
    target: str  # as received: path and query, still percent-encoded
    headers: Headers
    client: Client
    content_length: int | None = None
    chunked: bool = False

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.content_length)


@dataclass(slots=True)
class Sent:
    """Request body written to the current connection, kept while a retry could replay it."""

    pieces: list[bytes] = field(default_factory=list)
    size: int = 0
    replayable: bool = True

    def add(self, data: bytes) -> None:
        if self.replayable:
            self.size += len(data)
            if self.size > REPLAY_LIMIT:
                self.pieces, self.replayable = [], False
            else:
                self.pieces.append(data)


SPENT = Sent(replayable=False)  # after the response began: nothing is kept (add() does nothing)
