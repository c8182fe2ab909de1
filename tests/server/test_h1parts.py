"""HttpProtocol's parts (gateway/server/h1*.py, mixins): h1state.Conn, the connection as mypy
lets the parts see it, declares exactly HttpProtocol's state; at run time the parts add no
state, and nothing but themselves stands between HttpProtocol and their methods."""

from __future__ import annotations

from gateway.server.h1answers import Answers
from gateway.server.h1atrest import AtRest
from gateway.server.h1calls import HandlerCalls
from gateway.server.h1flow import OutputFlow
from gateway.server.h1proxy import Proxying
from gateway.server.h1state import Conn
from gateway.server.http1 import HttpProtocol
from gateway.server.transport import Protocol

PARTS = (Answers, AtRest, HandlerCalls, Proxying, OutputFlow)


def test_conn_declares_the_protocols_state_slot_for_slot() -> None:
    assert sorted(Conn.__slots__) == sorted(HttpProtocol.__slots__)
    assert sorted(Conn.__annotations__) == sorted(HttpProtocol.__slots__)


def test_the_parts_add_no_state_and_conn_is_no_base_at_run_time() -> None:
    for part in PARTS:
        assert part.__slots__ == () and part.__bases__ == (object,), part
    assert HttpProtocol.__mro__ == (HttpProtocol, *PARTS, Protocol, object)


def test_every_method_conn_promises_is_defined() -> None:
    promised = [
        name for name, value in vars(Conn).items() if hasattr(value, "__isabstractmethod__")
    ]
    assert "_answer" in promised and "_drain" in promised
    for name in promised:
        method = getattr(HttpProtocol, name)
        assert not getattr(method, "__isabstractmethod__", False), name
