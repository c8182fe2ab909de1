"""Headers: an ordered, case-insensitive multi-map of header fields.
Names are stored lowercased (HTTP field names are case-insensitive); values as latin-1 str."""

from __future__ import annotations

from collections.abc import Iterable, Iterator


class Headers:
    """Request headers in the order they arrived. `get` gives the first value of a name,
    `get_all` every value; `"name" in headers` is case-insensitive."""

    __slots__ = ("_index", "_items")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = [(n.lower(), v) for n, v in items]
        index: dict[str, str] = {}
        for name, value in self._items:
            index.setdefault(name, value)
        self._index = index

    @classmethod
    def from_lowered(cls, items: list[tuple[str, str]], index: dict[str, str]) -> Headers:
        """Build from names already lowercased and a first-value index (the parser's fast path)."""
        headers = cls.__new__(cls)
        headers._items = items
        headers._index = index
        return headers

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._index.get(name.lower(), default)

    def get_all(self, name: str) -> list[str]:
        lowered = name.lower()
        if lowered not in self._index:
            return []  # the common case: most asked-for headers are absent
        return [v for n, v in self._items if n == lowered]

    def has_any(self, lowered_names: frozenset[str]) -> bool:
        """Whether any of these (lowercase) names is present: one set test, for hot paths
        that usually find none of them."""
        return not lowered_names.isdisjoint(self._index)

    def __getitem__(self, name: str) -> str:
        return self._index[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def keys(self) -> list[str]:
        return list(self._index)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._items == other._items
        return NotImplemented

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"
