"""Async handlers: the per-worker event loop thread (runner.py), async startup/shutdown hooks
(hooks.py), request bodies awaited as they arrive (body.py) and async generators streamed as
response bodies with backpressure (streams.py)."""

from gateway.aio.body import AsyncBody, AsyncRequest
from gateway.aio.hooks import run_hook, run_shutdown, run_startup
from gateway.aio.runner import AsyncRunner, Job
from gateway.aio.streams import AsyncGenBody

__all__ = [
    "AsyncBody",
    "AsyncGenBody",
    "AsyncRequest",
    "AsyncRunner",
    "Job",
    "run_hook",
    "run_shutdown",
    "run_startup",
]
