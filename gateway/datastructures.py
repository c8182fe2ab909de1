"""The containers a Request hands to handler code: MultiDict (query strings and form
fields, a key may repeat) and UploadedFile (a file from a multipart form). Their own module,
so request.py and forms.py both use them without importing each other."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


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


@dataclass(frozen=True, slots=True)
class UploadedFile:
    filename: str
    content_type: str
    data: bytes

    def __len__(self) -> int:
        return len(self.data)
