"""build_request: the Request the server builds from a parsed head is the one
Request.__init__ would make (it sets the slots itself, once per request), and a raw path
decoded once is decoded the same way every time (request._DECODED); one that cannot be
is a 400 each time, never kept."""

from __future__ import annotations

import pytest

from gateway.errors import HTTPError
from gateway.http.parser import RequestParser
from gateway.request import Request, build_request


def _head(target: str):
    method = "OPTIONS" if target == "*" else "GET"
    parser = RequestParser()
    parser.feed(f"{method} {target} HTTP/1.1\r\nHost: h.example\r\n\r\n".encode())
    return parser.next_event()


def _slots(request: Request) -> dict:
    return {name: getattr(request, name) for name in Request.__slots__}


@pytest.mark.parametrize("target", ["/a/b?x=1", "/a%20b/", "*", "/"])
def test_the_same_request_as_its_constructor_makes(target):
    head = _head(target)
    for _ in range(2):  # the second time from the decoded-path table
        built = build_request(head, b"body", ("1.2.3.4", 5), "id-1")
        segments = () if target == "*" else built.segments
        made = Request(
            head.method,
            built.path,
            head.headers,
            b"body",
            query_string=head.query,
            raw_path=head.path,
            segments=segments,
            client=("1.2.3.4", 5),
            id="id-1",
            http_version="1.1",
            host=head.host,
        )
        assert _slots(built) == _slots(made)
    assert build_request(_head("/a%20b/"), b"", ("", 0), "i").segments == ("a b", "")


def test_a_path_that_cannot_be_decoded_is_a_400_every_time():
    head = _head("/a%zz")
    for _ in range(2):
        with pytest.raises(HTTPError) as raised:
            build_request(head, b"", ("", 0), "i")
        assert raised.value.status == 400
