"""Request ids from the client: `[server] request_id_header` (X-Request-ID by default) names
a header whose value, when it looks like an id, replaces the id gateway made for the
request (access log, error log, 500 pages) and is echoed on the response, so one id
follows a request through a proxy chain. Anything else in it is ignored, never logged."""

from __future__ import annotations

import re

from gateway.request import Request
from gateway.response import Response

# Letters, digits and the punctuation of UUIDs, trace ids and base64: nothing that could
# forge a log line or a header (no spaces, quotes, CR/LF), and not long enough to bloat one.
VALID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,200}")


def adopt(request: Request, header: str) -> None:
    """Take the client's id when the request carries a valid one."""
    given = request.headers.get(header)
    if given is not None and VALID.fullmatch(given):
        request.id = given


def echo(request: Request, response: Response, header: str) -> None:
    """On the answer to a request whose id came from the client, send it back."""
    if request.headers.get(header) == request.id:
        response.headers.append((header, request.id))
