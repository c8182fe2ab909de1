"""The containers a Request hands to handler code: MultiDict (query strings and form
fields, a key may repeat) and UploadedFile (a file from a multipart form). Their own module,
so request.py and forms.py both use them without importing each other."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO, Any


class MultiDict:
    """An ordered multi-map: `md["k"]` / `md.get("k")` give the first value, `getlist` all."""

    __slots__ = ("_items",)

    def __init__(self, items: list[tuple[str, Any]] | None = None) -> None:
        self._items: list[tuple[str, Any]] = items or []

    def get(self, key: str, default: Any = None) -> Any:
        for k, v in self._items:
            if k == key:
                return v
        return default

    def getlist(self, key: str) -> list[Any]:
        return [v for k, v in self._items if k == key]

    def __getitem__(self, key: str) -> Any:
        for k, v in self._items:
            if k == key:
                return v
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return any(k == key for k, _ in self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(k for k, _ in self._items))

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[tuple[str, Any]]:
        return list(self._items)

    def to_dict(self) -> dict[str, Any]:
        """First value of each key."""
        out: dict[str, Any] = {}
        for k, v in self._items:
            out.setdefault(k, v)
        return out

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MultiDict):
            return self._items == other._items
        if isinstance(other, dict):
            return self.to_dict() == other
        return NotImplemented

    def __repr__(self) -> str:
        return f"MultiDict({self._items!r})"


class UploadedFile:
    """A file part of a multipart form: `filename`, `content_type`, its bytes as `data`
    (read on first use when the part was spooled), `len(file)`, and `file`: a binary file
    object positioned at the start (a SpooledTemporaryFile past the spooling threshold,
    like Starlette's UploadFile), to read a large upload without loading it whole."""

    __slots__ = ("_data", "content_type", "file", "filename", "size")

    def __init__(
        self, filename: str, content_type: str, data: bytes = b"", file: IO[bytes] | None = None
    ) -> None:
        self.filename = filename
        self.content_type = content_type
        self._data: bytes | None = data if file is None else None
        self.file: IO[bytes] = file if file is not None else io.BytesIO(data)
        if file is not None:
            file.seek(0, io.SEEK_END)
            self.size = file.tell()
            file.seek(0)
        else:
            self.size = len(data)

    @property
    def data(self) -> bytes:
        if self._data is None:
            position = self.file.tell()
            self.file.seek(0)
            self._data = self.file.read()
            self.file.seek(position)
        return self._data

    def __len__(self) -> int:
        return self.size

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UploadedFile):
            return NotImplemented
        return (self.filename, self.content_type, self.data) == (
            other.filename,
            other.content_type,
            other.data,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"UploadedFile(filename={self.filename!r}, content_type={self.content_type!r}, "
            f"size={self.size})"
        )
