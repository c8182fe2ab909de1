"""The RFC 9110 / 9112 grammar gateway.http needs, as named compiled regexes.
Patterns over str work on latin-1-decoded heads; patterns over bytes on the raw buffer.
Every pattern is meant for fullmatch, so none needs ^ or $ anchors."""

from __future__ import annotations

import re

# tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
#       / DIGIT / ALPHA                                              (RFC 9110 §5.6.2)
_TCHAR = r"[-!#$%&'*+.^_`|~0-9A-Za-z]"
TOKEN = re.compile(f"{_TCHAR}+")
"""The one RFC 9110 token pattern of gateway (methods, field names, codings): import it,
or is_token, rather than writing another copy."""


def is_token(text: str) -> bool:
    """Whether `text` is an RFC 9110 token (one or more tchar)."""
    return TOKEN.fullmatch(text) is not None


# One label of a lowercased DNS host name (RFC 1123 §2.1, plus "_" which real names carry):
# letters, digits, "-" and "_", never starting or ending with "-". Callers lowercase first.
HOST_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?")

# method SP request-target SP HTTP-version; exactly one SP each (RFC 9112 §3).
# The target may hold any visible ASCII except "#" (fragments never reach a server).
REQUEST_LINE = re.compile(rf"({_TCHAR}+) ([!-\"$-~]+) ([!-~]+)")
HTTP_VERSION = re.compile(r"HTTP/([0-9])\.([0-9])")

# status-line = HTTP-version SP status-code SP [ reason-phrase ]   (RFC 9112 §4); the SP
# before an empty reason is often left out, and RFC 9112 §4 asks clients to be lenient there.
STATUS_LINE = re.compile(r"(HTTP/[0-9]\.[0-9]) ([1-5][0-9][0-9])(?: ([\t -~\x80-\xff]*))?")

# Controls forbidden anywhere in a head: all C0 but HTAB, and DEL. CR and LF are checked
# apart, by counting, since they are legal as CRLF pairs.
CTL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Every CTL but HTAB, CR and LF included: what bytes.translate deletes to count them at once.
CTL_BYTES = bytes([*range(0x09), *range(0x0A, 0x20), 0x7F])

# absolute-form: scheme "://" authority path-abempty [ "?" query ]   (RFC 9112 §3.2.2)
ABSOLUTE_FORM = re.compile(r"([A-Za-z][-+.A-Za-z0-9]*)://([^/?]*)([^?]*)(?:\?(.*))?", re.DOTALL)

# uri-host [ ":" port ], where uri-host = IP-literal / IPv4address / reg-name (RFC 3986 §3.2.2).
# No userinfo: "@" is not allowed, nor "/", spaces or anything outside these sets.
HOST = re.compile(
    r"(?:\[[0-9A-Fa-f:.]+\]|\[v[0-9A-Fa-f]+\.[-._~!$&'()*+,;=:A-Za-z0-9]+\]"
    r"|(?:[-._~!$&'()*+,;=A-Za-z0-9]|%[0-9A-Fa-f]{2})*)"
    r"(?::[0-9]*)?"
)

# chunk = chunk-size [ chunk-ext ] CRLF, chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS
# ext-val ] ), ext-val = token / quoted-string (RFC 9112 §7.1.1). At most 16 hex digits, so a
# size always fits in 64 bits; no sign, no "0x", no leading space.
_BTCHAR = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]"
_QUOTED = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
_EXT_VALUE = rb"(?:" + _BTCHAR + rb"+|" + _QUOTED + rb")"
_CHUNK_EXT = rb"[ \t]*;[ \t]*" + _BTCHAR + rb"+(?:[ \t]*=[ \t]*" + _EXT_VALUE + rb")?"
CHUNK_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})(?:" + _CHUNK_EXT + rb")*")

# While a head is still arriving: a LF without its CR, or a CR followed by anything but LF
# (a CR at the very end of the buffer may yet get its LF).
BARE_EOL = re.compile(rb"\r(?=[^\n])|(?<!\r)\n")
