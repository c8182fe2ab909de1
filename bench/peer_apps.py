"""The ASGI apps uvicorn serves as gateway's peers in the `json` scenario: a raw ASGI
callable (no framework) and a Starlette JSONResponse route. Both answer `BODY`, the
same 13 bytes gateway's handler serialises to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

BODY = b'{"hello":"w"}'
PAYLOAD = {"hello": "w"}

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", b"13")],
}
_BODY = {"type": "http.response.body", "body": BODY}


async def raw_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Every path answers BODY; lifespan is acknowledged so uvicorn logs nothing."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].rsplit(".", 1)[-1]  # startup | shutdown
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    await send(_START)
    await send(_BODY)


def make_starlette() -> Any:
    """A uvicorn `--factory`, so the raw app's process never imports Starlette."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def hello(request: Request) -> JSONResponse:
        return JSONResponse(PAYLOAD)

    return Starlette(routes=[Route("/json", hello)])
