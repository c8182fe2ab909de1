"""Startup and shutdown hooks that may be `async def`: a sync hook runs where it is called,
an async one on the worker's async loop (so what it opens, a client session or a database
pool, belongs to the loop the handlers use)."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Any

from gateway.aio.runner import AsyncRunner

log = logging.getLogger("gateway.aio")

Hook = Callable[[], Any]


def run_hook(hook: Hook, runner: AsyncRunner | None, timeout: float | None = None) -> Any:
    """Call `hook`; if it is a coroutine function (or returns an awaitable), await it on
    `runner`'s loop, at most `timeout` seconds."""
    if inspect.iscoroutinefunction(hook) or inspect.iscoroutinefunction(
        getattr(hook, "__call__", None)  # noqa: B004 - an object with an async __call__
    ):
        if runner is None:
            raise RuntimeError(f"async hook {_name(hook)} needs the async runner")
        return runner.run(hook, timeout)
    result = hook()
    if inspect.isawaitable(result):
        if runner is None:
            raise RuntimeError(f"hook {_name(hook)} returned an awaitable but no runner is up")
        return runner.run(lambda: result, timeout)
    return result


def run_startup(hooks: Sequence[Hook], runner: AsyncRunner | None, timeout: float | None) -> None:
    """Every startup hook in order; the first that fails stops the start (raises)."""
    for hook in hooks:
        run_hook(hook, runner, timeout)


def run_shutdown(
    hooks: Sequence[Hook], runner: AsyncRunner | None, timeout: float | None
) -> list[BaseException]:
    """Every shutdown hook in reverse order, all of them even when some fail: each failure
    is logged and returned, so one broken hook does not leak what the others would close."""
    failures: list[BaseException] = []
    for hook in reversed(hooks):
        try:
            run_hook(hook, runner, timeout)
        except BaseException as exc:
            log.error("shutdown hook %s failed: %s: %s", _name(hook), type(exc).__name__, exc)
            failures.append(exc)
    return failures


def _name(hook: Hook) -> str:
    return f"{getattr(hook, '__module__', '?')}:{getattr(hook, '__qualname__', repr(hook))}"
