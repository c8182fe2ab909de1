"""Fixtures the proxy's splice tests share: the BodySplices a gateway in this process makes
(all of them, or only the uploads'), and the byte counts os.splice moved."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from gateway.proxy import zerocopy


def record_splices(
    monkeypatch: pytest.MonkeyPatch, keep: Callable[[zerocopy.BodySplice], bool]
) -> list[zerocopy.BodySplice]:
    """Every BodySplice made from now on for which keep(splice) holds, in order."""
    made: list[zerocopy.BodySplice] = []

    class Recorded(zerocopy.BodySplice):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if keep(self):
                made.append(self)

    monkeypatch.setattr(zerocopy, "BodySplice", Recorded)
    return made


@pytest.fixture
def splices(monkeypatch: pytest.MonkeyPatch) -> list[zerocopy.BodySplice]:
    """Every BodySplice made, for a response body or a request body."""
    return record_splices(monkeypatch, lambda splice: True)


@pytest.fixture
def uploads(monkeypatch: pytest.MonkeyPatch) -> list[zerocopy.BodySplice]:
    """Every BodySplice made for a request body (the upload direction): upsplice passes an
    on_step, the response splice none."""
    return record_splices(monkeypatch, lambda splice: splice.on_step is not None)


@pytest.fixture
def splice_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The byte counts os.splice moved in this process (the server runs in a thread)."""
    if not hasattr(os, "splice"):
        pytest.skip("no os.splice on this platform")
    calls: list[int] = []
    real = os.splice

    def counted(*args: Any, **kwargs: Any) -> int:
        n = real(*args, **kwargs)
        calls.append(n)
        return n

    monkeypatch.setattr(os, "splice", counted)
    return calls
