"""ProxyCall: what a proxy route answers to App.handle. The App has no transport, so it hands
the call to the connection, which runs the exchange (gateway.proxy.serving.ProxyDriver)."""

from __future__ import annotations

from typing import Any


class ProxyCall:
    """`target` is the route's ProxyTarget, `request` the request to proxy."""

    __slots__ = ("request", "target")

    def __init__(self, target: Any, request: Any) -> None:
        self.target = target
        self.request = request
