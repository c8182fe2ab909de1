"""Async handlers: the per-worker event loop thread (runner.py), async startup/shutdown hooks
(hooks.py), sync vs async handlers told apart (kinds.py), request bodies awaited as they
arrive (body.py), async generators streamed as response bodies with backpressure (streams.py)."""

from gateway.aio.body import AsyncBody, AsyncRequest
from gateway.aio.hooks import run_hook, run_shutdown, run_startup
from gateway.aio.kinds import handler_kind, is_async_iterable, signature_problem
from gateway.aio.runner import AsyncRunner, Job
from gateway.aio.streams import AsyncGenBody

__all__ = [
    "AsyncBody",
    "AsyncGenBody",
    "AsyncRequest",
    "AsyncRunner",
    "Job",
    "handler_kind",
    "is_async_iterable",
    "run_hook",
    "run_shutdown",
    "run_startup",
    "signature_problem",
]
