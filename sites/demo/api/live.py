"""Async handlers of the demo: GET /api/time (an `async def` that awaits), GET /api/ticks (an
async generator streamed as server-sent events) and the WebSocket echo at /ws/echo."""

import asyncio
import time


async def server_time(request):
    """An `async def` handler: it may await (here a short sleep) without holding a thread."""
    await asyncio.sleep(0.01)
    return {"time": time.strftime("%H:%M:%S"), "async": True}


async def ticks(request):
    """An async generator: each yield goes out as it is made (an event stream)."""
    for n in range(1, 6):
        yield f"data: tick {n} at {time.strftime('%H:%M:%S')}\n\n"
        await asyncio.sleep(1)


async def echo(ws):
    """WebSocket: say hello, then send each message back, upper-cased."""
    await ws.send("connected: type something")
    async for message in ws:
        await ws.send(message.upper() if isinstance(message, str) else message)
