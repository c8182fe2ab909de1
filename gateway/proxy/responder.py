"""The Downstream the HTTP server protocol hands an exchange: ClientSide writes the proxied
response to the client's transport with the server's ResponseWriter (framing by the writer:
length, chunked or close; 1xx only to HTTP/1.1 clients; trailers only when chunked) and calls
its hooks for what only the protocol can do: errors, the end, a switch. Responder is one whose
hooks are callbacks; the server's ProxyDriver is one whose hooks are its own methods."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gateway.http.writer import LAST_CHUNK, Framing, ResponseWriter, chunk
from gateway.proxy.headers import trailer_fields
from gateway.proxy.seams import Failure, Fields, TransportLike, abort_with_reset


class ClientSide:
    """One response. The hooks, for a subclass: `decorate(fields)` adds the route's headers
    and CORS headers (called only when `decorates`); `on_error(failure)` answers a failure
    before the head (the app's error rendering); `on_done(keep_alive)` runs once the response
    is complete or the connection is given up (keep_alive False); `on_switch()` detaches the
    protocol from the transport after a 101 and returns the bytes its parser still holds."""

    __slots__ = (
        "_head_at",
        "_held",
        "decorates",
        "framing",
        "http_version",
        "keep_alive",
        "method",
        "sent",
        "status",
        "transport",
        "writer",
    )

    def __init__(
        self,
        transport: TransportLike,
        writer: ResponseWriter,
        http_version: str,
        method: str,
        keep_alive: bool,
        decorates: bool,
    ) -> None:
        self.transport = transport
        self.writer = writer
        self.http_version = http_version
        self.method = method
        self.keep_alive = keep_alive
        self.decorates = decorates
        self.framing = Framing.NONE
        self.status = 0
        self.sent = 0  # body bytes written (the access log's size)
        # Between cork() and uncork() (one read from the upstream), writes are held and go
        # to the transport as one: a small response's head, body and end in one send.
        self._held: list[bytes] | None = None
        self._head_at = -1  # where in _held the final head is (-1: not held)

    # -- the hooks ------------------------------------------------------------------------

    def decorate(self, fields: Fields) -> Fields:
        return fields

    def on_error(self, failure: Failure) -> None:
        raise NotImplementedError

    def on_done(self, keep_alive: bool) -> None:
        raise NotImplementedError

    def on_switch(self) -> bytes:
        raise NotImplementedError

    # -- the exchange's calls -------------------------------------------------------------

    def cork(self) -> None:
        self._held = []
        self._head_at = -1

    def uncork(self) -> None:
        held, self._held = self._held, None
        if held:
            self.transport.write(held[0] if len(held) == 1 else b"".join(held))

    def _write(self, data: bytes) -> None:
        held = self._held
        if held is None:
            self.transport.write(data)
        else:
            held.append(data)

    def pause_body(self) -> None:
        self.transport.pause_reading()

    def resume_body(self) -> None:
        self.transport.resume_reading()

    def informational(self, status: int, fields: Fields) -> None:
        if self.http_version != "1.1":
            return  # an HTTP/1.0 client cannot read interim responses (RFC 9110 §15.2)
        head, _ = self.writer.head(status, fields, content_length=None, keep_alive=True)
        self._write(head)

    def start_response(self, status: int, reason: str, fields: Fields) -> None:
        length = None
        for name, value in fields:
            if name == "content-length":
                length = int(value)  # our parser checked it: digits only
                break
        self.status = status
        head, framing = self.writer.head(
            status,
            self.decorate(fields) if self.decorates else fields,
            content_length=length,
            keep_alive=self.keep_alive,
            http_version=self.http_version,
            head_request=self.method == "HEAD",
        )
        self.framing = framing
        if framing is Framing.CLOSE:
            self.keep_alive = False
        if self._held is not None:
            self._head_at = len(self._held)
        self._write(head)

    def whole_response(
        self, status: int, fields: Sequence[tuple[str, str]], length: int | None, body: bytes
    ) -> None:
        """start_response, response_data and end_response in one, for a response that came
        whole: `length` is the Content-Length among `fields` (None: none). Head and body
        leave in one write, before on_done."""
        head, framing = self.writer.head(
            status,
            self.decorate(list(fields)) if self.decorates else fields,
            content_length=length,
            keep_alive=self.keep_alive,
            http_version=self.http_version,
            head_request=self.method == "HEAD",
        )
        self.status = status
        self.framing = framing
        if framing is Framing.LENGTH:
            self.sent = len(body)
            self.transport.write(head + body if body else head)
        elif framing is Framing.NONE:
            self.transport.write(head)
        else:  # a length-less answer with a body: chunked, or until the close (HTTP/1.0)
            if framing is Framing.CLOSE:
                self.keep_alive = False
            self.cork()
            self._write(head)
            self.response_data(body)
            self.end_response(None)
            return
        self.on_done(self.keep_alive)

    def response_data(self, data: bytes) -> None:
        framing = self.framing
        if framing is Framing.NONE:
            return  # the upstream sent a body where none may be: not passed on
        self.sent += len(data)
        self._write(chunk(data) if framing is Framing.CHUNKED else data)

    def end_response(self, trailers: Fields | None) -> None:
        if self.framing is Framing.CHUNKED:
            trailers = trailer_fields(trailers)
            if trailers:
                lines = "".join(f"{name}: {value}\r\n" for name, value in trailers)
                self._write(b"0\r\n" + lines.encode("latin-1") + b"\r\n")
            else:
                self._write(LAST_CHUNK)
        # Out before on_done: the server may answer a pipelined request at once, after it.
        self.uncork()
        self.on_done(self.keep_alive)

    def fail(self, failure: Failure) -> None:
        self.uncork()  # a 100 or 103 that came before it
        self.on_error(failure)

    def abort(self, failure: Failure) -> None:
        held, self._held = self._held, None
        if held is not None and self._head_at >= 0:
            # The head is still held (it came in the same read as what broke): nothing of
            # this response has left, so the client can still get a clear answer. 1xx
            # heads held before it go first, as in fail().
            interim = held[: self._head_at]
            self._head_at = -1
            self.framing, self.status, self.sent = Framing.NONE, 0, 0
            if interim:
                self.transport.write(b"".join(interim))
            self.on_error(failure)
            return
        if self.framing is Framing.CLOSE:  # a body that ends at the close: reset, not FIN
            abort_with_reset(self.transport)
        else:
            self.transport.abort()  # no last chunk, no more bytes: the client sees a cut body
        self.on_done(False)

    def switch(self, status: int, reason: str, fields: Fields) -> tuple[TransportLike, bytes]:
        # Written here, not by the writer: a 101 must carry Connection and Upgrade, which
        # the writer owns for every other response. The fields come from our parser.
        lines = "".join(f"{name}: {value}\r\n" for name, value in fields)
        self.uncork()
        self.transport.write(
            f"HTTP/1.1 101 {reason or 'Switching Protocols'}\r\n{lines}\r\n".encode("latin-1")
        )
        self.status = status
        return self.transport, self.on_switch()


class Responder(ClientSide):
    """A ClientSide whose hooks are the callbacks given (`decorate` None: nothing to add)."""

    __slots__ = ("_decorate", "_on_done", "_on_error", "_on_switch")

    def __init__(
        self,
        transport: TransportLike,
        writer: ResponseWriter,
        *,
        http_version: str,
        method: str,
        keep_alive: bool,
        decorate: Callable[[Fields], Fields] | None,
        on_error: Callable[[Failure], None],
        on_done: Callable[[bool], None],
        on_switch: Callable[[], bytes],
    ) -> None:
        super().__init__(transport, writer, http_version, method, keep_alive, decorate is not None)
        self._decorate = decorate
        self._on_error = on_error
        self._on_done = on_done
        self._on_switch = on_switch

    def decorate(self, fields: Fields) -> Fields:
        return fields if self._decorate is None else self._decorate(fields)

    def on_error(self, failure: Failure) -> None:
        self._on_error(failure)

    def on_done(self, keep_alive: bool) -> None:
        self._on_done(keep_alive)

    def on_switch(self) -> bytes:
        return self._on_switch()
