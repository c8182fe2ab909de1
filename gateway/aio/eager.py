"""Eager async handlers: an `async def` whose code can neither suspend nor reach an object of
the async loop runs on the server loop's thread (one coro.send(None)), with no hop to the
async loop's thread and back; `proves_eager` decides from the bytecode, `Eager` times calls."""

from __future__ import annotations

import builtins
import dis
import functools
import logging
import types
from collections.abc import Callable
from typing import Any

log = logging.getLogger("gateway.handlers")

# Any of these and the coroutine may suspend (await, async for / with): it needs a Task.
_SUSPENDS = frozenset(
    [
        "YIELD_VALUE",
        "SEND",
        "GET_AWAITABLE",
        "GET_AITER",
        "GET_ANEXT",
        "BEFORE_ASYNC_WITH",
        "END_ASYNC_FOR",
        "ASYNC_GEN_WRAP",
        "IMPORT_NAME",
        "IMPORT_FROM",
        "IMPORT_STAR",
    ]
)
_GLOBAL_LOADS = frozenset(("LOAD_GLOBAL", "LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS"))
_CELL_LOADS = frozenset(("LOAD_DEREF", "LOAD_CLASSDEREF", "LOAD_FROM_DICT_OR_DEREF"))
# Builtins that only compute on their arguments: none reaches an event loop by itself.
_PURE_BUILTINS = frozenset(
    [
        "abs",
        "all",
        "any",
        "ascii",
        "bin",
        "bool",
        "bytearray",
        "bytes",
        "chr",
        "dict",
        "divmod",
        "enumerate",
        "filter",
        "float",
        "format",
        "frozenset",
        "hash",
        "hex",
        "int",
        "isinstance",
        "issubclass",
        "iter",
        "len",
        "list",
        "map",
        "max",
        "min",
        "next",
        "oct",
        "ord",
        "pow",
        "range",
        "repr",
        "reversed",
        "round",
        "set",
        "slice",
        "sorted",
        "str",
        "sum",
        "tuple",
        "zip",
        "ValueError",
        "KeyError",
        "TypeError",
        "LookupError",
    ]
)
_DATA = (type(None), bool, int, float, complex, str, bytes, tuple, frozenset, dict, list, set)


def _safe_values() -> tuple[int, ...]:
    """The ids of the objects a global may name in an eager handler: pure builtins and the
    handler API's own classes (gateway.response and gateway.errors never touch a loop)."""
    from gateway.errors import HTTPError
    from gateway.response import Response

    values = [getattr(builtins, name) for name in _PURE_BUILTINS] + [Response, HTTPError]
    return tuple(id(value) for value in values)


@functools.cache
def _safe_ids() -> frozenset[int]:
    return frozenset(_safe_values())


def _safe_value(value: Any) -> bool:
    return id(value) in _safe_ids() or type(value) in _DATA


def _code_is_eager(
    code: types.CodeType, scope: dict[str, Any], cells: dict[str, Any], request: bool = True
) -> bool:
    """Whether `code` never suspends, loads only safe globals, and reads attributes only of
    its first argument (the request, when `request`) and of constants ("-".join)."""
    request_slot = 0 if request and code.co_argcount > 0 else -1
    rooted = False  # the value on top of the stack comes from the request or a constant
    for instr in dis.get_instructions(code):
        name = instr.opname
        if name in _SUSPENDS:
            return False
        if name in _GLOBAL_LOADS:
            if instr.argval in scope:
                if not _safe_value(scope[instr.argval]):
                    return False
            elif not _safe_value(getattr(builtins, instr.argval, None)):
                return False
        elif name in _CELL_LOADS and instr.argval in cells:
            if not _safe_value(cells[instr.argval]):
                return False
        elif name in ("LOAD_ATTR", "LOAD_METHOD") and not rooted:
            return False  # an attribute of something that is not the request
        elif isinstance(instr.argval, types.CodeType) and not _code_is_eager(
            instr.argval, scope, {}, request=False
        ):  # a comprehension, lambda or def in it
            return False
        rooted = name in ("LOAD_ATTR", "LOAD_METHOD", "LOAD_CONST") or (
            name == "LOAD_FAST" and instr.arg == request_slot
        )
    return True


def proves_eager(func: Callable[..., Any]) -> bool:
    """Whether an `async def` handler may run eagerly on the server loop: it can never
    suspend (no await, async for or async with), imports nothing, names only pure builtins,
    plain data, Response and HTTPError, and calls methods of the request only. Anything
    else (a helper, a module, an asyncio.Event) might reach the async loop's objects, which
    only the async loop's thread may touch: such a handler runs there."""
    while isinstance(func, functools.partial):
        func = func.func
    if isinstance(func, types.MethodType):
        return False  # its first argument is not the request
    code = getattr(func, "__code__", None)
    if not isinstance(code, types.CodeType) or not code.co_flags & 0x80:  # CO_COROUTINE
        return False
    closure = getattr(func, "__closure__", None) or ()
    cells = {}
    for cell_name, cell in zip(code.co_freevars, closure, strict=False):
        try:
            cells[cell_name] = cell.cell_contents
        except ValueError:  # an empty cell
            return False
    return _code_is_eager(code, getattr(func, "__globals__", {}), cells)


class Eager:
    """Whether one async route runs eagerly now. A call that holds the server loop longer
    than `[server] inline_limit` counts a strike; the second sends the route to the async
    loop for good (logged), as a sync route's Placement does."""

    __slots__ = ("label", "on", "strikes")

    STRIKES = 2

    def __init__(self, label: str, func: Callable[..., Any], kind: str) -> None:
        self.label = label
        self.on = kind == "async" and proves_eager(func)
        self.strikes = 0

    def ran(self, elapsed: float, limit: float) -> None:
        if elapsed <= limit:
            return
        self.strikes += 1
        if self.strikes >= self.STRIKES and self.on:
            self.on = False
            log.warning(
                "handler %s took %.1f ms on the server loop (inline_limit %.1f ms): "
                "it runs on the async loop from now on",
                self.label,
                elapsed * 1000,
                limit * 1000,
            )
