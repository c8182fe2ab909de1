"""What kind of callable a handler is (sync, `async def`, async generator) and whether it can
take the request, for the app (how to run it) and `gateway check` (refuse it early)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Literal

Kind = Literal["sync", "async", "asyncgen"]


def _unwrapped(func: Callable[..., Any]) -> Any:
    while isinstance(func, functools.partial):
        func = func.func
    if not (inspect.isfunction(func) or inspect.ismethod(func)):
        call = getattr(func, "__call__", None)  # noqa: B004 - an object with __call__
        if call is not None and (inspect.isfunction(call) or inspect.ismethod(call)):
            return call
    return func


def handler_kind(func: Callable[..., Any]) -> Kind:
    """ "asyncgen" for `async def` with `yield` (a streamed body), "async" for `async def`
    (runs on the async loop), "sync" for everything else (inline or on the pool)."""
    target = _unwrapped(func)
    if inspect.isasyncgenfunction(target):
        return "asyncgen"
    if inspect.iscoroutinefunction(target):
        return "async"
    return "sync"


def signature_problem(func: Callable[..., Any], name: str) -> str | None:
    """Why `func` cannot be called as handler(request), or None when it can. The text
    follows gateway's error style (what is wrong, then what would be right)."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return None  # a builtin or C callable: nothing to check, let it run
    try:
        signature.bind(object())
    except TypeError:
        params = ", ".join(signature.parameters)
        prefix = "async def" if handler_kind(func) != "sync" else "def"
        return (
            f"handler {name!r} cannot take the request: its parameters are ({params}); "
            f"define it as `{prefix} {name.rpartition(':')[2]}(request)`"
        )
    return None


def is_async_iterable(value: object) -> bool:
    """Whether a handler's result (or a Response body) is to be streamed with AsyncGenBody."""
    return hasattr(value, "__anext__") or hasattr(value, "__aiter__")
