"""The answer to plain HTTP sent to a TLS port: a readable 400 in clear text, naming the
https:// URL the client meant when its Host header and target are sound (as nginx does)."""

from __future__ import annotations

import re

PLAIN_HEAD_LIMIT = 8192  # bytes of the plain request read before answering anyway

_METHOD = re.compile(rb"[A-Z]{1,16}( |$)")
_TARGET = re.compile(rb"[A-Z]{1,16} (/[!-~]{0,200}) HTTP/1\.[01]\r\n")
_HOST = re.compile(
    rb"\r\nhost:[ \t]*([A-Za-z0-9.\-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(:\d{1,5})?[ \t]*\r\n", re.I
)


def looks_like_http(start: bytes | bytearray) -> bool:
    """True while the bytes so far could begin an HTTP/1.x request line."""
    return bool(_METHOD.match(bytes(start[:17])))


def plain_http_answer(head: bytes) -> bytes:
    """The whole clear-text response; `head` is what the client sent (maybe cut short)."""
    body = "this port speaks https, but the request came as plain http"
    target = _TARGET.match(head)
    host = _HOST.search(head)
    if target and host:
        url = f"https://{host.group(1).decode()}{(host.group(2) or b'').decode()}"
        body += f": use {url}{target.group(1).decode()}"
    data = (body + "\n").encode()
    return (
        b"HTTP/1.1 400 Bad Request\r\n"
        b"content-type: text/plain; charset=utf-8\r\n"
        b"content-length: %d\r\n"
        b"connection: close\r\n\r\n%s" % (len(data), data)
    )
