"""Codecs: whole bodies round-trip, and a streamed body can be decoded after every chunk
(what lets an event stream arrive at once through compression)."""

from __future__ import annotations

import zlib

import pytest

from gateway.compress import StreamCompressor, compress_body, decompress_body, installed

TEXT = b"".join(b'{"id": %d, "name": "user %d", "tags": ["a", "b"]}\n' % (i, i) for i in range(500))


def _stream_decoder(coding: str):  # type: ignore[no-untyped-def]
    if coding == "gzip":
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return d.decompress
    if coding == "br":
        brotli = pytest.importorskip("brotli", reason="br needs the compress extra")
        return brotli.Decompressor().process
    zstandard = pytest.importorskip("zstandard", reason="zstd needs the compress extra")
    return zstandard.ZstdDecompressor().decompressobj().decompress


CODINGS = ["gzip", "br", "zstd"]


def _need(coding: str) -> None:
    if coding not in installed():
        pytest.skip(f"{coding} library not installed (compress extra)")


@pytest.mark.parametrize("coding", CODINGS)
def test_whole_body_round_trip(coding: str) -> None:
    _need(coding)
    encoded = compress_body(coding, TEXT)
    assert len(encoded) < len(TEXT) // 5
    assert decompress_body(coding, encoded) == TEXT
    assert decompress_body(coding, compress_body(coding, b"")) == b""


@pytest.mark.parametrize("coding", CODINGS)
def test_each_chunk_is_decodable_as_soon_as_it_is_sent(coding: str) -> None:
    _need(coding)
    compressor = StreamCompressor(coding)
    decode = _stream_decoder(coding)
    events = [b"data: tick %d\n\n" % i for i in range(20)]
    for event in events:
        out = compressor.compress(event)
        assert out, "a flushed chunk is never empty"
        assert decode(out) == event  # nothing held back inside the compressor
    assert compressor.compress(b"") == b""
    tail = compressor.finish()
    assert decode(tail) == b""
    with pytest.raises(ValueError, match="after finish"):
        compressor.compress(b"late")
    assert compressor.finish() == b""


@pytest.mark.parametrize("coding", CODINGS)
def test_stream_equals_whole_body(coding: str) -> None:
    _need(coding)
    compressor = StreamCompressor(coding)
    pieces = [compressor.compress(TEXT[i : i + 1000]) for i in range(0, len(TEXT), 1000)]
    pieces.append(compressor.finish())
    assert decompress_body(coding, b"".join(pieces)) == TEXT


def test_unknown_coding_is_named() -> None:
    with pytest.raises(ValueError, match="unknown content coding 'lzma'"):
        StreamCompressor("lzma")
