"""Content codings as objects: gzip (stdlib zlib), br (brotli) and zstd (zstandard), each only
when its library imports. One-shot compress_body for whole bodies, and StreamCompressor that
flushes after every chunk so a streamed body (SSE) can be decoded as it arrives."""

from __future__ import annotations

import importlib
import zlib
from typing import Any


def _optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:  # the `compress` extra is not installed
        return None


_brotli: Any = _optional("brotli")
_zstd: Any = _optional("zstandard")
# gzip is stdlib zlib's format; zlib-ng (the `compress` extra) writes it 1.6x faster at the
# same level (100 KiB HTML at 5: 0.36 ms vs 0.59 ms, 3% more bytes). Decoding stays stdlib.
_deflate: Any = _optional("zlib_ng.zlib_ng") or zlib

# The server's preference when the client weighs several codings the same: zstd and br
# beat gzip on size for text at a similar speed; gzip is the one every client has.
PREFERENCE = ("zstd", "br", "gzip")

# Levels for compressing per response (fast) and for static variants made once per file
# version (as small as the library makes them, as a build step would). The fast levels are
# Caddy's `encode` defaults for gzip (5) and zstd (3, zstd's own default): on 100 KiB HTML
# and JSON gzip 6 costs 1.3-1.6x the CPU of 5 for 1% fewer bytes, zstd 9 5-8x that of 3 for
# 3-15% fewer, and zstd 3 stays smaller than gzip at a sixth of its CPU. br 5 stays smaller
# than gzip 5 at about its CPU (see the handlers3 report).
FAST_LEVELS = {"gzip": 5, "br": 5, "zstd": 3}
BEST_LEVELS = {"gzip": 9, "br": 11, "zstd": 19}

_GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around deflate

# A streamed body may stay open for hours (SSE) beside thousands of others, so its
# compressor keeps a small window: brotli's default 4 MiB ring buffer and zstd's multi-MiB
# tables at these levels would cost more memory per connection than the text they save.
_BROTLI_STREAM_LGWIN = 18  # 256 KiB
_ZSTD_STREAM_LOGS = {"window_log": 17, "hash_log": 16, "chain_log": 16}


def installed() -> tuple[str, ...]:
    """The codings this process can produce, in PREFERENCE order."""
    have = {"gzip": True, "br": _brotli is not None, "zstd": _zstd is not None}
    return tuple(coding for coding in PREFERENCE if have[coding])


def check_coding(coding: str) -> None:
    if coding not in PREFERENCE:
        raise ValueError(f"unknown content coding {coding!r}: use one of zstd, br, gzip")
    if coding not in installed():
        extra = {"br": "brotli", "zstd": "zstandard"}[coding]
        raise ValueError(
            f"content coding {coding!r} needs the {extra!r} package: "
            f"pip install {extra} (the 'compress' extra)"
        )


def compress_body(coding: str, data: bytes, level: int | None = None) -> bytes:
    """`data` encoded whole with `coding` at `level` (FAST_LEVELS when None)."""
    check_coding(coding)
    level = FAST_LEVELS[coding] if level is None else level
    if coding == "gzip":
        compressor = _deflate.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)
        return bytes(compressor.compress(data) + compressor.flush())
    if coding == "br":
        assert _brotli is not None
        return bytes(_brotli.compress(data, quality=level))
    assert _zstd is not None
    return bytes(_zstd.ZstdCompressor(level=level).compress(data))


def decompress_body(coding: str, data: bytes) -> bytes:
    """The inverse of compress_body (tests and the variant cache's self-check use it)."""
    check_coding(coding)
    if coding == "gzip":
        return zlib.decompress(data, _GZIP_WBITS)
    if coding == "br":
        assert _brotli is not None
        return bytes(_brotli.decompress(data))
    assert _zstd is not None
    return bytes(_zstd.ZstdDecompressor().decompressobj().decompress(data))


class StreamCompressor:
    """Compress a body that arrives in pieces. compress(chunk) returns bytes the client can
    decode up to the end of `chunk` (a sync flush, so each SSE event shows at once);
    finish() returns the coding's trailer. Either may return b"" only for empty input."""

    __slots__ = ("_obj", "coding", "finished")

    def __init__(self, coding: str, level: int | None = None) -> None:
        check_coding(coding)
        self.coding = coding
        self.finished = False
        level = FAST_LEVELS[coding] if level is None else level
        self._obj: Any
        if coding == "gzip":
            self._obj = _deflate.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)
        elif coding == "br":
            assert _brotli is not None
            self._obj = _brotli.Compressor(quality=level, lgwin=_BROTLI_STREAM_LGWIN)
        else:
            assert _zstd is not None
            params = _zstd.ZstdCompressionParameters.from_level(level, **_ZSTD_STREAM_LOGS)
            self._obj = _zstd.ZstdCompressor(compression_params=params).compressobj()

    def compress(self, chunk: bytes) -> bytes:
        if self.finished:
            raise ValueError("compress() after finish(): the stream is already ended")
        if not chunk:
            return b""
        obj = self._obj
        if self.coding == "gzip":
            return bytes(obj.compress(chunk)) + bytes(obj.flush(_deflate.Z_SYNC_FLUSH))
        if self.coding == "br":
            return bytes(obj.process(chunk)) + bytes(obj.flush())
        return bytes(obj.compress(chunk)) + bytes(obj.flush(_zstd.COMPRESSOBJ_FLUSH_BLOCK))

    def finish(self) -> bytes:
        if self.finished:
            return b""
        self.finished = True
        obj = self._obj
        if self.coding == "gzip":
            return bytes(obj.flush(_deflate.Z_FINISH))
        if self.coding == "br":
            return bytes(obj.finish())
        return bytes(obj.flush())
