"""A look at the server name of a TLS ClientHello before OpenSSL sees it (RFC 8446 4.1.2,
RFC 6066 3): CPython decodes the SNI as ASCII before it calls an sni_callback and reports a
name that is not as an unraisable traceback on stderr, so TlsLayer refuses such a hello
when its context has a callback (two or more certificates)."""

from __future__ import annotations

HANDSHAKE = 0x16
CLIENT_HELLO = 1
SERVER_NAME = 0
MAX_HELLO = 64 * 1024  # bytes looked at; past them OpenSSL judges the hello alone
MAX_RECORD = (1 << 14) + 256  # the largest record a peer may send (RFC 8446 5.2)


class _Short(Exception):
    """The hello ends before a field it announced: malformed, OpenSSL's to refuse."""


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise _Short
        piece = self.data[self.pos : self.pos + size]
        self.pos += size
        return piece

    def number(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def vector(self, length_size: int) -> bytes:
        return self.take(self.number(length_size))


class HelloSniffer:
    """Fed the first bytes of a connection as they come: reassembles the handshake records
    (each byte is looked at once, however the client cuts them) until the ClientHello is
    whole, then judges its server names once."""

    __slots__ = ("_payload", "_records", "_seen")

    def __init__(self) -> None:
        self._records = bytearray()  # bytes of the record not yet complete
        self._payload = bytearray()  # handshake bytes of the complete records
        self._seen = 0

    def feed(self, data: bytes) -> bool | None:
        """None while the ClientHello is incomplete, False when it names a server that is
        not ASCII, else True (a malformed hello too: OpenSSL answers that with an alert)."""
        self._seen += len(data)
        self._records += data
        ended = False  # a record of another type: the hello has no more bytes coming
        while len(self._records) >= 5:
            if self._records[0] != HANDSHAKE:
                ended = True
                break
            size = int.from_bytes(self._records[3:5], "big")
            if size > MAX_RECORD:
                return True  # OpenSSL refuses that at once (record_overflow)
            end = 5 + size
            if len(self._records) < end:
                break
            self._payload += self._records[5:end]
            del self._records[:end]
        payload = self._payload
        if len(payload) >= 4 and payload[0] != CLIENT_HELLO:
            return True
        size = int.from_bytes(payload[1:4], "big") if len(payload) >= 4 else -1
        if size < 0 or len(payload) < 4 + size:
            return None if self._seen < MAX_HELLO and not ended else True
        try:
            hello = _Reader(bytes(payload[4 : 4 + size]))
            return all(name.isascii() for name in _server_names(hello))
        except _Short:
            return True


def _server_names(hello: _Reader) -> list[bytes]:
    hello.take(2 + 32)  # legacy_version, random
    hello.vector(1)  # legacy_session_id
    hello.vector(2)  # cipher_suites
    hello.vector(1)  # legacy_compression_methods
    if hello.pos == len(hello.data):
        return []  # no extensions at all
    extensions = _Reader(hello.vector(2))
    names = []
    while extensions.pos < len(extensions.data):
        kind = extensions.number(2)
        body = extensions.vector(2)
        if kind != SERVER_NAME:
            continue
        entries = _Reader(_Reader(body).vector(2))
        while entries.pos < len(entries.data):
            entries.take(1)  # name_type (0: host_name)
            names.append(entries.vector(2))
    return names
