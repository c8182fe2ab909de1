"""Response compression (zstd, br, gzip): negotiation and policy (policy.py), codecs with
per-chunk flushing (codecs.py), applying it to a Response (apply.py), and the cache of
compressed static-file variants made once per file version (variants.py)."""

from gateway.compress.apply import (
    CompressedPush,
    coded_etag,
    compress_chunks,
    compress_for,
    compress_response,
    eligible,
    etag_matches,
    merge_vary,
)
from gateway.compress.codecs import (
    BEST_LEVELS,
    FAST_LEVELS,
    PREFERENCE,
    StreamCompressor,
    compress_body,
    decompress_body,
    installed,
)
from gateway.compress.policy import (
    DEFAULT_POLICY,
    DEFAULT_TYPES,
    Policy,
    negotiate,
    parse_accept_encoding,
)
from gateway.compress.variants import Variant, VariantCache, version_key

__all__ = [
    "BEST_LEVELS",
    "DEFAULT_POLICY",
    "DEFAULT_TYPES",
    "FAST_LEVELS",
    "PREFERENCE",
    "CompressedPush",
    "Policy",
    "StreamCompressor",
    "Variant",
    "VariantCache",
    "coded_etag",
    "compress_body",
    "compress_chunks",
    "compress_for",
    "compress_response",
    "decompress_body",
    "eligible",
    "etag_matches",
    "installed",
    "merge_vary",
    "negotiate",
    "parse_accept_encoding",
    "version_key",
]
