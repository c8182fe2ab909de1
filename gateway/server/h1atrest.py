"""AtRest, a part of HttpProtocol: the short way. A connection at rest whose bytes are one
head seen before is answered without feeding its parser, and a head the response cache has
an answer for gets that answer's bytes (at once to the socket when nothing waits before it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.response import FileBody
from gateway.server.h1state import READING, RESTING
from gateway.server.responses import Cached, ResponseCache
from gateway.server.sockets import SocketTransport
from gateway.static.fdcache import CachedFile

if TYPE_CHECKING:  # the connection as its parts see it (h1state.Conn)
    from gateway.server.h1state import Conn as Part
else:
    Part = object


class AtRest(Part):
    """HttpProtocol's methods for heads at rest and cached answers; their `self` is the
    connection."""

    __slots__ = ()

    def _answer_at_rest(self, data: bytes) -> bool:
        """`data` is one whole head and nothing waits before it or for output: when the
        parser has parsed these very bytes before (under the server's limits) and they
        frame no body, answer the request without feeding the parser, as _process would
        have (a response-cache hit goes straight to the socket). False: the long way."""
        ctx = self.ctx
        cache = ctx.responses
        if cache is None or self._files or self._writing_paused:
            return False
        head = cache.heads.get(data[:-4])  # valid: a head that failed is never kept
        if head is None or head.content_length or head.chunked or head.expect_continue:
            return False
        self._started = ctx.loop.now  # its first byte (the header clock, metrics latency)
        self._answer(head, b"", False)
        if self.state is READING and ctx.crowded and self.parser is not RESTING:
            self._rest_parser(self.parser)  # as _process does at NEED_DATA
        return True

    def _send_cached(
        self, cache: ResponseCache, cached: Cached, keep_alive: bool, at_rest: bool = False
    ) -> bool:
        """Send a kept answer to a head seen before (see responses.py), as send_response
        would have sent it; False (nothing sent) when it no longer applies. At rest (one
        head, nothing before it) it goes to the socket at once; otherwise it is queued, so
        pipelined answers coalesce. The caller starts the parser's next request (if fed)."""
        ctx = self.ctx
        if not keep_alive or self._peer_done or ctx.shutting_down:
            return False  # the head would say "connection: close"
        transport = self.transport
        direct = at_rest and type(transport) is SocketTransport
        data = cached.data
        if self.hsts:  # as send_response adds it: this connection's, after the head
            data = data[: cached.head_length - 2] + self.hsts + data[cached.head_length :]
        found = None
        if cached.mount is not None:
            found = cached.mount.current(cached.path, cached.identity)  # one stat
            if found is None:  # the file changed or went: the long way finds out how
                cache.drop(cached)
                return False
        if cached.whole:  # a fixed body, or a small file's bytes: one send
            if cached.tail:  # a larger fixed body, kept by reference
                data += cached.tail
            sent = transport.send_now(data)[0] if direct else 0  # type: ignore[attr-defined]
            if sent < len(data):
                transport.write(data[sent:] if sent else data)
        elif found is not None:
            self._send_file_cached(data, found, cached.length, direct)
        self.deadline = ctx.loop.now + ctx.answer_wait
        self._answered = True
        cache.hits += 1
        cached.hits += 1  # metrics (when on) add these up as the entry goes or is scraped
        if ctx.access_log.enabled:  # a common/combined log (see ResponseCache.serve_app)
            ctx.access_log.hit(cached.head, cached.status, cached.length, self.client)
        return True

    def _send_file_cached(self, data: bytes, found: CachedFile, length: int, direct: bool) -> None:
        """A kept head, then the whole of a cached open file: at once when `direct`,
        what the socket does not take (or everything) queued behind earlier output."""
        transport = self.transport
        if direct:
            sent, done = transport.send_now(data, found.fd, length)  # type: ignore[attr-defined]
        else:
            sent = done = 0
        if done < length:  # the rest waits in the transport's queue
            if sent < len(data):
                transport.write(data[sent:] if sent else data)
            body = FileBody(found.fd, 0, length, found.acquire())
            if self._files is None:
                self._files = [body]
            else:
                self._files.append(body)
            transport.write_file(body.fd, done, length - done, self._file_done)
