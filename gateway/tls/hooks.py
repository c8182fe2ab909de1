"""What HttpProtocol asks of [tls], kept out of the HTTP code: whether a connection came
over TLS (and the HSTS line its answers carry), and the plain-HTTP side's answers (an ACME
HTTP-01 challenge, the 308 to https). Called only when [tls] is configured."""

from __future__ import annotations

from typing import Any

from gateway.request import Request
from gateway.response import Response


def connection_facts(tls: Any, transport: Any) -> tuple[bool, bytes]:
    """(secure, the Strict-Transport-Security header line, b"" for none) of a connection."""
    if transport.get_extra_info("ssl_object") is None:
        return False, b""
    header = tls.hsts_header()
    if header is None:
        return True, b""
    return True, f"{header[0]}: {header[1]}\r\n\r\n".encode("latin-1")


def plain_answer(tls: Any, request: Request, head: Any) -> Response | None:
    """On a plain-HTTP connection: the ACME challenge's key authorization, the redirect to
    https, or None to let the app answer."""
    answer = tls.acme_answer(request.path)
    if answer is not None:
        return Response(200, answer, content_type="text/plain")
    location = tls.redirect_location(head.host, head.target)
    if location is None:
        return None
    return Response(308, b"", headers={"location": location})
