from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.aio import AsyncRunner

try:
    import uvloop  # noqa: F401

    KINDS = [False, True]
except ImportError:
    KINDS = [False]


@pytest.fixture(params=KINDS, ids=lambda uv: "uvloop" if uv else "asyncio")
def runner(request: pytest.FixtureRequest) -> Iterator[AsyncRunner]:
    r = AsyncRunner(use_uvloop=request.param)
    r.start()
    yield r
    r.stop(grace=2.0)
    assert not r.running
