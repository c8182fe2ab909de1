"""Multipart forms parsed from the body's pieces (issue 15, streamed bodies): the same fields
whole, byte by byte and in random splits; file parts over SPOOL_ABOVE go to a temporary file;
every malformed body is a 400 however it is split."""

from __future__ import annotations

import random

import pytest

from gateway import forms
from gateway.datastructures import UploadedFile
from gateway.errors import HTTPError
from gateway.forms import parse_form

CT = "multipart/form-data; boundary=XyZ"
BODY = (
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="title"\r\n\r\n'
    b"caf\xc3\xa9 --XyZ is not a boundary here\r\n"
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="file"; filename="a.bin"\r\n'
    b"Content-Type: application/x-thing\r\n\r\n"
    b"\r\n--Xy\r\r\n\x00bytes\r\n"
    b"--XyZ--\r\nepilogue"
)


def _splits(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    pieces, at = [], 0
    while at < len(data):
        step = rng.randint(1, 7)
        pieces.append(data[at : at + step])
        at += step
    return pieces


def _check(form) -> None:  # type: ignore[no-untyped-def]
    assert form.get("title") == "café --XyZ is not a boundary here"
    upload = form.get("file")
    assert isinstance(upload, UploadedFile)
    assert (upload.filename, upload.content_type) == ("a.bin", "application/x-thing")
    assert upload.data == b"\r\n--Xy\r\r\n\x00bytes" and len(upload) == 15
    assert upload.file.read() == upload.data


@pytest.mark.parametrize("seed", range(20))
def test_the_same_fields_however_the_body_is_split(seed: int) -> None:
    _check(parse_form(CT, BODY))
    _check(parse_form(CT, [bytes([b]) for b in BODY]))
    _check(parse_form(CT, _splits(BODY, seed)))


def test_a_large_file_part_goes_to_a_temporary_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forms, "SPOOL_ABOVE", 1000)
    content = bytes(range(256)) * 20  # 5120 bytes
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="f"; filename="big"\r\n\r\n'
        + content
        + b"\r\n--XyZ--\r\n"
    )
    upload = parse_form(CT, _splits(body, 1)).get("f")
    assert upload.file._rolled  # on disk, not in memory
    assert len(upload) == len(content) and upload.file.read() == content


@pytest.mark.parametrize(
    "body, detail",
    [
        (b"nope--XyZ--\r\n", "does not start with its boundary"),
        (b'--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue', "closing boundary"),
        (b'--XyZ\r\nContent-Disposition: form-data; name="a"\r\n--XyZ--\r\n', "blank line"),
        (b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nv\r\n--XyZ--\r\n", "without a name"),
        (b'--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n\xff\r\n--XyZ--', "utf-8"),
    ],
)
def test_malformed_bodies_are_400_however_split(body: bytes, detail: str) -> None:
    for pieces in ([body], [bytes([b]) for b in body], _splits(body, 7)):
        with pytest.raises(HTTPError) as error:
            parse_form(CT, pieces)
        assert error.value.status == 400 and detail in str(error.value)
