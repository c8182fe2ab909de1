"""What an idle keep-alive connection holds (issue 10, item 8): no parser once it has been
idle past its first deadline, or at once after each request while the worker holds many
connections; no output queue, file list or body while nothing waits."""

from __future__ import annotations

from gateway.server import http1
from gateway.server.http1 import RESTING
from tests.server.test_http1 import answers, conn  # noqa: F401 (the fixture)

REQUEST = b"GET /fixed HTTP/1.1\r\nHost: t\r\n\r\n"


def test_a_crowded_worker_takes_the_parser_back_after_each_request(conn) -> None:  # noqa: F811
    protocol, transport, _ = conn
    protocol.ctx.crowded = True
    assert protocol.parser is RESTING  # none before its first byte
    protocol.data_received(REQUEST)
    assert len(answers(bytes(transport.out))) == 1
    assert protocol.parser is RESTING and len(protocol.ctx.parsers) == 1
    spare = protocol.ctx.parsers[0]
    protocol.data_received(REQUEST[:10])  # a request arriving holds a parser: the spare
    assert protocol.parser is spare and not protocol.ctx.parsers
    protocol.data_received(REQUEST[10:])
    assert len(answers(bytes(transport.out))) == 2 and protocol.parser is RESTING


def test_otherwise_the_parser_goes_back_at_the_idle_deadline(conn) -> None:  # noqa: F811
    protocol, transport, _ = conn
    transport.progress_at = protocol.ctx.loop.now  # the answer went out now
    protocol.data_received(REQUEST)
    assert protocol.parser is not RESTING  # kept between requests: no work per request
    protocol.ctx.loop.now = protocol.deadline  # the answer's deadline: now idle
    protocol.on_timeout()
    assert protocol.parser is RESTING and not transport.closing
    assert protocol._files is None and protocol._body is None
    assert http1.SPARE_PARSERS >= len(protocol.ctx.parsers) == 1
