"""Compression applied to a Response on its way out: the rules for when (never for ranges,
204/304, HEAD, already-encoded bodies, no-transform, tiny or incompressible bodies), the
headers it changes (Content-Encoding, a merged Vary, the ETag), and the 304 that a client
holding the compressed representation's ETag is owed."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from gateway.compress.codecs import StreamCompressor
from gateway.compress.memo import MEMO
from gateway.compress.policy import DEFAULT_POLICY, Policy
from gateway.cors import merge_vary as cors_merge_vary
from gateway.response import FileBody, PushBody, Response

# Headers a 304 keeps (RFC 9110 §15.4.5): the validators and what a cache must update.
_NOT_MODIFIED_KEEP = frozenset(
    {"etag", "vary", "cache-control", "content-location", "date", "expires", "last-modified"}
)
_ENTITY_TAG = re.compile(r'(W/)?"([^"]*)"')
_NO_BODY = frozenset({204, 206, 304})


def coded_etag(etag: str, coding: str) -> str:
    """The ETag of the `coding` representation. A strong tag gets the coding inside the
    quotes ('"abc"' -> '"abc-br"'), the form gateway.static uses for precompressed files:
    each representation keeps its own strong validator, as RFC 9110 §8.8.3 asks (Caddy
    #5849 was one tag shared by every encoding). A weak tag is left alone: a weak validator
    may be shared by representations that mean the same (§8.8.1)."""
    text = etag.strip()
    if text.startswith("W/") or not (len(text) >= 2 and text[0] == text[-1] == '"'):
        return etag
    return f'{text[:-1]}-{coding}"'


def etag_matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match's weak comparison (RFC 9110 §13.1.2): "*" or any listed tag equal to
    `etag`, W/ ignored on both sides."""
    if if_none_match.strip() == "*":
        return True
    want = _ENTITY_TAG.fullmatch(etag.strip())
    if want is None:
        return False
    return any(tag == want.group(2) for _, tag in _ENTITY_TAG.findall(if_none_match))


def merge_vary(response: Response, name: str = "Accept-Encoding") -> None:
    """Add `name` to the response's one Vary field (gateway.cors's merge: no second field,
    nothing added to "*", a token already listed kept as is)."""
    cors_merge_vary(response.headers, name)


def _values(response: Response, name: str) -> list[str]:
    return [v for n, v in response.headers if n.lower() == name]


def _no_transform(response: Response) -> bool:
    return any(
        token.strip().lower() == "no-transform"
        for value in _values(response, "cache-control")
        for token in value.split(",")
    )


def _already_encoded(response: Response) -> bool:
    codings = _values(response, "content-encoding")
    return any(v.strip().lower() not in ("", "identity") for v in codings)


def eligible(response: Response, method: str, policy: Policy = DEFAULT_POLICY) -> bool:
    """Whether this response's representation depends on Accept-Encoding at all (so gets
    Vary). Size is decided later: a bytes body under min_size is never compressed."""
    body = response.body
    if type(body) is bytes and len(body) < policy.min_size:
        return False  # first: most JSON answers stop here, before any header is looked at
    if not policy.enabled or response.status < 200 or response.status in _NO_BODY:
        return False
    if response.has_header("content-range") or _already_encoded(response):
        return False
    if _no_transform(response) or not policy.compressible(response.get_header("content-type")):
        return False
    if isinstance(body, FileBody):
        return False  # a handler's file: static files get cached variants instead
    return not (isinstance(body, bytes) and len(body) < policy.min_size)


def compress_response(
    response: Response,
    accept_encoding: str | None,
    method: str,
    policy: Policy = DEFAULT_POLICY,
    if_none_match: str | None = None,
) -> Response:
    """Compress `response` in place if the client accepts a coding and the rules allow, and
    return it. With `if_none_match` (the request's header), a 200 whose final ETag the
    client already holds becomes a 304. Runs on whichever thread made the response (a pool
    thread for pooled handlers, so the loop never compresses large bodies itself)."""
    if not eligible(response, method, policy):
        return _maybe_not_modified(response, method, if_none_match)
    merge_vary(response)
    coding = policy.choose(accept_encoding)
    if coding is not None and method != "HEAD":
        _encode(response, coding, policy.level(coding))
    return _maybe_not_modified(response, method, if_none_match)


def _encode(response: Response, coding: str, level: int) -> None:
    body = response.body
    if isinstance(body, bytes):
        encoded = MEMO.compress(coding, level, body)  # a body seen before: from memory
        if len(encoded) >= len(body):
            return  # incompressible after all: identity is smaller
        response.body = encoded
    elif isinstance(body, PushBody):
        response.body = CompressedPush(body, StreamCompressor(coding, level))  # type: ignore[assignment]
    elif not isinstance(body, FileBody):
        response.body = compress_chunks(body, StreamCompressor(coding, level))
    response.headers = [
        (n, v) for n, v in response.headers if n.lower() not in ("accept-ranges", "content-md5")
    ]
    response.headers.append(("content-encoding", coding))
    for i, (name, value) in enumerate(response.headers):
        if name.lower() == "etag":
            response.headers[i] = (name, coded_etag(value, coding))


def _maybe_not_modified(response: Response, method: str, if_none_match: str | None) -> Response:
    if if_none_match is None or response.status != 200 or method not in ("GET", "HEAD"):
        return response
    etag = response.get_header("etag")
    if etag is None or not etag_matches(if_none_match, etag):
        return response
    response.close()
    response.status = 304
    response.body = b""
    response.headers = [(n, v) for n, v in response.headers if n.lower() in _NOT_MODIFIED_KEEP]
    return response


def compress_chunks(chunks: Iterable[bytes], compressor: StreamCompressor) -> Iterator[bytes]:
    """A streamed body, compressed with a flush per chunk; never yields b"" (a writer may
    read an empty chunk as the end). Closes the source when done or dropped."""
    try:
        for chunk in chunks:
            out = compressor.compress(chunk)
            if out:
                yield out
        tail = compressor.finish()
        if tail:
            yield tail
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


class CompressedPush(PushBody):
    """A PushBody seen through a compressor: the producer keeps pushing into `inner`; the
    connection takes compressed, flushed bytes from here. Waiters and close pass through."""

    __slots__ = ("_compressor", "_inner", "_tail_sent")

    def __init__(self, inner: PushBody, compressor: StreamCompressor) -> None:
        # No super().__init__(): every field it would set lives on `inner` and is reached
        # through the properties below.
        self._inner = inner
        self._compressor = compressor
        self._tail_sent = False

    @property
    def waiter(self) -> Callable[[], None] | None:
        return self._inner.waiter

    @waiter.setter
    def waiter(self, callback: Callable[[], None] | None) -> None:
        self._inner.waiter = callback

    @property
    def chunked(self) -> bool:
        return self._inner.chunked

    @chunked.setter
    def chunked(self, value: bool) -> None:
        self._inner.chunked = value

    @property
    def failed(self) -> bool:
        return self._inner.failed

    @failed.setter
    def failed(self, value: bool) -> None:
        self._inner.failed = value

    def push(self, data: bytes) -> None:
        self._inner.push(data)

    def end(self) -> None:
        self._inner.end()

    def take(self) -> bytes | None:
        data = self._inner.take()
        if data is None:
            if self._tail_sent:
                return None
            self._tail_sent = True
            return self._compressor.finish() or None
        return self._compressor.compress(data) if data else b""

    def close(self) -> None:
        self._inner.close()


def compress_for(request: Any, response: Response, policy: Policy = DEFAULT_POLICY) -> Response:
    """compress_response with what it needs read from a gateway Request's headers."""
    headers = request.headers
    return compress_response(
        response,
        headers.get("accept-encoding"),
        request.method,
        policy,
        if_none_match=headers.get("if-none-match"),
    )
