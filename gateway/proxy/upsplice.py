"""The upload splice: the rest of a large Content-Length request body moved from the client's
socket to the upstream's by zerocopy.BodySplice (os.splice through a pipe), once the request
head and the body bytes already read are written upstream. The client's HTTP protocol hands
its socket over through a ClientSide (gateway.server.proxybody) and takes it back after."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from gateway.proxy import zerocopy
from gateway.proxy.request import SPENT
from gateway.proxy.seams import TransportLike

log = logging.getLogger("gateway.proxy")

# Less than this left to come when the upstream path clears: the copy path finishes it
# (cheaper than a pipe and a hand-over).
MIN_LEFT = 64 * 1024


class ClientSide(Protocol):
    """The client connection's side of one proxied upload (gateway.server.proxybody)."""

    transport: TransportLike  # the client's, plain TCP
    splice: bool  # the route allows it (else only ready() is used: 100 Continue)

    def ready(self) -> None:
        """The upstream has the request head: send a 100 Continue the client waits for."""

    def left(self) -> int:
        """Body bytes still to come that may go around the parser now (0: not now)."""
        ...

    def take(self) -> None:
        """The splice starts: stop reading the client; its deadlines are moved by step()."""

    def step(self, received: int, waits_on_client: bool) -> None:
        """`received` body bytes spliced so far; whether the splice waits for the client
        (its body timeout runs) or the upstream (the exchange's timeout runs)."""

    def give_back(self, count: int) -> None:
        """`count` bytes went around the parser: it skips them and reads on."""

    def lost(self, detail: str) -> None:
        """The client failed mid-body (closed, reset): log `detail`, close the connection."""


def begin(ex: Any) -> None:  # a ProxyExchange (upload.RequestUpload is its base)
    """Splice the rest of the body if the upstream path is clear now: connected, the head
    and every byte read so far written, and most of the body still to come."""
    side = ex.client_body
    conn = ex.conn
    selector = getattr(ex.loop, "selector", None)
    if (
        side is None
        or not side.splice
        or ex.done
        or ex.started
        or ex.body_done
        or ex.upload_splice is not None
        or not ex.connected
        or ex.pending
        or ex.upstream_full
        or ex.encoder is not None
        or ex.upgrade is not None
        or selector is None
        or conn is None
    ):
        return
    if zerocopy.plain_socket(conn.transport) is None:
        side.splice = False  # TLS to the upstream (every server of it): copied, not offered again
        return
    left = side.left()
    if left < MIN_LEFT:
        return
    assert conn.transport is not None
    side.take()
    ex.sent = SPENT  # bytes that go around us cannot be replayed on another connection

    def done(error: BaseException | None, moved: int) -> None:
        _finished(ex, side, conn, splice, error, moved)

    def step() -> None:
        if splice.moved != seen[0]:  # the upstream takes bytes: its timeout starts again
            seen[0] = splice.moved
            ex.deadline = ex.loop.now + ex.timeout
        side.step(splice.relay.received, splice.waits_on_source)

    seen = [0]
    splice = zerocopy.BodySplice(selector, conn.transport, side.transport, left, done, None, step)
    ex.upload_splice = splice
    splice.start()


def _finished(
    ex: Any,  # the ProxyExchange: cancel() and on_broken() are its
    side: ClientSide,
    conn: Any,
    splice: zerocopy.BodySplice,
    error: BaseException | None,
    moved: int,
) -> None:
    if ex.upload_splice is splice:
        ex.upload_splice = None
    if ex.done:
        return
    if error is None:
        ex.deadline = ex.loop.now + ex.timeout  # now the response is awaited
        side.give_back(moved)
        return
    received = splice.relay.received
    if splice.broken == "src":  # the client closed or reset mid-body: nothing to retry
        what = "closed the connection" if isinstance(error, EOFError) else f"failed ({error})"
        ex.cancel()
        side.lost(f"the client {what} after {received} of {splice.count} spliced body bytes")
        return
    reason = getattr(error, "strerror", None) or str(error)
    conn.close()
    ex.on_broken(f"closed the connection during the request body ({reason.lower()})")
