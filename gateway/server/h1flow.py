"""OutputFlow, a part of HttpProtocol: what happens as a connection's output drains. A
streamed body is pumped while the transport takes more, a queued file's end is heard, the
requests that waited for a backlog are taken again, and the last answer closes once sent."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from gateway.proxy.seams import abort_with_reset
from gateway.server.h1state import DRAINING, HELD, READING, STREAMING
from gateway.server.output import Stream, stream_of

log = logging.getLogger("gateway.server")


if TYPE_CHECKING:  # the connection as its parts see it (h1state.Conn)
    from gateway.server.h1state import Conn as Part
else:
    Part = object


class OutputFlow(Part):
    """HttpProtocol's methods for its output's flow; their `self` is the connection."""

    __slots__ = ()

    def _drain(self) -> None:
        """No more requests on this connection: close once the queued output is sent."""
        if self.state is STREAMING:
            self._last = True  # _end_stream drains
            return
        self.state = DRAINING
        self.transport.close()

    def _file_done(self, ok: bool) -> None:
        files = self._files
        assert files is not None
        files.pop(0).close()
        if ok and self.state is HELD:
            self._resume()

    def _resume(self) -> None:
        """Take requests again (after a backlog, or a streamed body): _process goes back
        to HELD at once if the output still has not drained enough."""
        self.state = READING
        transport = self.transport
        transport.cork()
        self._process()  # the pipelined requests that waited for the output to drain
        if self.state is READING:
            transport.resume_reading()
        transport.uncork()

    # -- streamed bodies ------------------------------------------------------------------

    def _start_stream(self, body: Any, chunked: bool) -> None:
        self._stream = stream_of(body, chunked)
        self.state = STREAMING
        self.transport.pause_reading()
        self._pump()

    def _pump(self) -> None:
        """Write what the stream has until the transport's buffer is full."""
        stream = self._stream
        transport = self.transport
        while stream is not None and not self._writing_paused:
            try:
                data = stream.pull()
            except Exception:
                log.exception("streamed response body failed; closing the connection")
                self._cut(stream)
                return
            if data is None:
                self._end_stream(stream)
                return
            if not data:  # a PushBody with nothing yet: it calls back on the next push
                stream.set_waiter(self._on_pushed)
                self.deadline = float("inf")
                return
            self.deadline = self.ctx.loop.now + self.ctx.timeouts.write
            transport.write(data)
            stream = self._stream

    def _cut(self, stream: Stream) -> None:
        """Close on a streamed answer that cannot be finished. A chunked body without its
        last chunk shows it was cut; one that ends at the close (HTTP/1.0, length unknown)
        would look whole after a plain close, so that close is a reset."""
        if stream.chunked:
            self.transport.abort()
        else:
            abort_with_reset(self.transport)

    def _on_pushed(self) -> None:
        if self.state is STREAMING:
            self._pump()

    def _end_stream(self, stream: Stream) -> None:
        self._stream = None
        stream.close()
        if stream.failed:
            self._cut(stream)
            return
        tail = stream.tail()
        if tail:
            self.transport.write(tail)
        self.state = READING
        if self._last or self.ctx.shutting_down:
            self._drain()  # (an event stream that ended at shutdown: nothing follows it)
            return
        self._resume()
