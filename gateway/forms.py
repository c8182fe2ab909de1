"""Form bodies: application/x-www-form-urlencoded and multipart/form-data into a MultiDict.
Files arrive as UploadedFile (name, content type, bytes); the body is already bounded by
max_body_bytes, so everything here works in memory."""

from __future__ import annotations

from email.message import Message
from urllib.parse import parse_qsl

from gateway.datastructures import MultiDict, UploadedFile
from gateway.errors import HTTPError

__all__ = ["MultiDict", "UploadedFile", "parse_form"]


def parse_form(content_type: str, body: bytes) -> MultiDict:
    mime, params = _split_content_type(content_type)
    if mime == "application/x-www-form-urlencoded":
        try:
            return MultiDict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise HTTPError(400, "form body is not valid utf-8") from None
    if mime == "multipart/form-data":
        boundary = params.get("boundary")
        if not boundary:
            raise HTTPError(400, "multipart/form-data without a boundary")
        return MultiDict(_parse_multipart(body, boundary.encode("latin-1")))
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


def _parse_multipart(body: bytes, boundary: bytes) -> list[tuple[str, str | UploadedFile]]:
    delimiter = b"--" + boundary
    if not body.startswith(delimiter):
        raise HTTPError(400, "multipart body does not start with its boundary")
    fields: list[tuple[str, str | UploadedFile]] = []
    for part in body.split(b"\r\n" + delimiter)[0:]:
        part = part.removeprefix(delimiter)
        if part.startswith(b"--"):
            break  # the closing delimiter
        head, sep, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            raise HTTPError(400, "multipart part without a blank line after its headers")
        fields.append(_field(head.decode("utf-8", "replace"), content))
    else:
        raise HTTPError(400, "multipart body is missing its closing boundary")
    return fields


def _field(head: str, content: bytes) -> tuple[str, str | UploadedFile]:
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
    filename = params.get("filename")
    if filename is not None:
        ctype = headers.get("content-type", "application/octet-stream")
        return name, UploadedFile(filename, ctype, content)
    try:
        return name, content.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPError(400, f"form field {name!r} is not valid utf-8") from None
