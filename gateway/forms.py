"""Form bodies: application/x-www-form-urlencoded and multipart/form-data into a MultiDict.
Files arrive as UploadedFile. Multipart is parsed from the body's pieces as they come, and a
file part larger than SPOOL_ABOVE goes to a SpooledTemporaryFile (Starlette's default size),
so a large upload is never held in memory whole."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from email.message import Message
from typing import IO
from urllib.parse import parse_qsl

from gateway.datastructures import MultiDict, UploadedFile
from gateway.errors import HTTPError

__all__ = ["MultiDict", "UploadedFile", "parse_form"]


SPOOL_ABOVE = 1024 * 1024  # a file part larger than this goes to a temporary file
MAX_PART_HEAD = 16384  # bytes of one part's header lines


def parse_form(content_type: str, body: bytes | Iterable[bytes]) -> MultiDict:
    """The fields of a form body, given whole or as an iterable of its pieces."""
    mime, params = _split_content_type(content_type)
    if mime == "application/x-www-form-urlencoded":
        data = body if isinstance(body, bytes) else b"".join(body)
        try:
            return MultiDict(parse_qsl(data.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise HTTPError(400, "form body is not valid utf-8") from None
    if mime == "multipart/form-data":
        boundary = params.get("boundary")
        if not boundary:
            raise HTTPError(400, "multipart/form-data without a boundary")
        pieces = [body] if isinstance(body, bytes) else body
        return MultiDict(_Multipart(boundary.encode("latin-1")).parse(pieces))
    raise HTTPError(
        415,
        f"cannot read a form from {mime or 'no content type'!r}: "
        "send application/x-www-form-urlencoded or multipart/form-data",
    )


def _split_content_type(value: str) -> tuple[str, dict[str, str]]:
    message = Message()
    message["content-type"] = value
    params = {k.lower(): v for k, v in message.get_params(header="content-type", failobj=[])[1:]}
    return message.get_content_type() if value else "", params


class _Multipart:
    """A multipart body read piece by piece: each part's content goes to its sink as it
    arrives, keeping back only what could be the start of the next delimiter."""

    def __init__(self, boundary: bytes) -> None:
        self.delimiter = b"--" + boundary
        self.separator = b"\r\n" + self.delimiter
        self.buf = bytearray()
        self.pieces: Iterator[bytes] = iter(())

    def _more(self) -> bool:
        for piece in self.pieces:
            if piece:
                self.buf += piece
                return True
        return False

    def _need(self, n: int) -> None:
        while len(self.buf) < n and self._more():
            pass

    def parse(self, pieces: Iterable[bytes]) -> list[tuple[str, str | UploadedFile]]:
        self.pieces = iter(pieces)
        buf = self.buf
        self._need(len(self.delimiter))
        if not buf.startswith(self.delimiter):
            raise HTTPError(400, "multipart body does not start with its boundary")
        del buf[: len(self.delimiter)]
        fields: list[tuple[str, str | UploadedFile]] = []
        while True:
            self._need(2)
            if buf.startswith(b"--"):
                return fields  # the closing delimiter (what follows it is ignored)
            if not buf:
                raise HTTPError(400, "multipart body is missing its closing boundary")
            if buf.startswith(b"\r\n"):
                del buf[:2]
            fields.append(self._part())

    def _part(self) -> tuple[str, str | UploadedFile]:
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        while end < 0:
            if len(buf) > MAX_PART_HEAD or self.separator in buf or not self._more():
                if self.separator in buf or len(buf) <= MAX_PART_HEAD:
                    raise HTTPError(400, "multipart part without a blank line after its headers")
                raise HTTPError(400, f"multipart part headers over {MAX_PART_HEAD} bytes")
            end = buf.find(b"\r\n\r\n")
        if 0 <= buf.find(self.separator, 0, end) < end:
            raise HTTPError(400, "multipart part without a blank line after its headers")
        name, filename, ctype = _part_head(bytes(buf[:end]).decode("utf-8", "replace"))
        del buf[: end + 4]
        if filename is None:
            sink: IO[bytes] | bytearray = bytearray()
        else:
            sink = tempfile.SpooledTemporaryFile(max_size=SPOOL_ABOVE, prefix="gateway-form-")  # noqa: SIM115
        self._content(sink)
        if filename is not None:
            assert not isinstance(sink, bytearray)
            return name, UploadedFile(filename, ctype, file=sink)
        try:
            return name, bytes(sink).decode("utf-8")  # type: ignore[arg-type]
        except UnicodeDecodeError:
            raise HTTPError(400, f"form field {name!r} is not valid utf-8") from None

    def _content(self, sink: IO[bytes] | bytearray) -> None:
        """Move the part's content to `sink`, up to and past the next separator."""
        buf = self.buf
        separator = self.separator
        keep = len(separator) - 1
        write = sink.extend if isinstance(sink, bytearray) else sink.write
        while True:
            found = buf.find(separator)
            if found >= 0:
                write(bytes(buf[:found]))
                del buf[: found + len(separator)]
                return
            if len(buf) > keep:
                write(bytes(buf[:-keep]))
                del buf[:-keep]
            if not self._more():
                raise HTTPError(400, "multipart body is missing its closing boundary")


def _part_head(head: str) -> tuple[str, str | None, str]:
    """A part's field name, filename (None for a plain field) and content type."""
    headers: dict[str, str] = {}
    for line in head.split("\r\n"):
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    disposition = Message()
    disposition["content-disposition"] = headers.get("content-disposition", "")
    params: dict[str, str] = dict(
        disposition.get_params(header="content-disposition", failobj=[])[1:]
    )
    name = params.get("name")
    if name is None:
        raise HTTPError(400, "multipart part without a name in content-disposition")
    return name, params.get("filename"), headers.get("content-type", "application/octet-stream")
