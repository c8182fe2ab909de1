"""Load balancing: which of an upstream's servers takes the next request. A Balancer picks
among the candidates it is given (the servers that are up and not yet tried for this
request), so health and retries stay the caller's business. Keyed policies (ip_hash,
header:, cookie:) use rendezvous hashing, so a server going down moves only its own keys."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence

from gateway.http.headers import Headers


class Balancer:
    """`pick(candidates, active, client_ip, headers)` -> a server index from `candidates`
    (indices into `names`), or None when there is none. `active` is each server's count
    of requests in flight (least_conn, random_two)."""

    def __init__(self, policy: str, names: Sequence[str], rng: random.Random | None = None) -> None:
        self.policy = policy
        self.names = tuple(names)
        self._next = 0
        self._rng = rng or random.Random()
        kind, _, self._key_name = policy.partition(":")
        pickers: dict[str, Callable[[Sequence[int], Sequence[int], str, Headers], int]] = {
            "round_robin": self._round_robin,
            "least_conn": self._least_conn,
            "random_two": self._random_two,
            "ip_hash": self._ip_hash,
            "header": self._header,
            "cookie": self._cookie,
        }
        self._pick = pickers[kind]

    def pick(
        self,
        candidates: Sequence[int],
        active: Sequence[int],
        client_ip: str = "",
        headers: Headers | None = None,
    ) -> int | None:
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0]
        return self._pick(candidates, active, client_ip, headers or _NO_HEADERS)

    def _round_robin(self, candidates: Sequence[int], *_: object) -> int:
        # The next server at or after the cursor in list order that is a candidate, so a
        # down server's turn passes to the one after it rather than doubling one server.
        count = len(self.names)
        chosen = set(candidates)
        for step in range(count):
            index = (self._next + step) % count
            if index in chosen:
                self._next = index + 1
                return index
        return candidates[0]  # pragma: no cover - candidates are indices into names

    def _least_conn(self, candidates: Sequence[int], active: Sequence[int], *_: object) -> int:
        fewest = min(active[i] for i in candidates)
        # Ties go round robin: otherwise an idle upstream sends everything to server 0.
        return self._round_robin([i for i in candidates if active[i] == fewest])

    def _random_two(self, candidates: Sequence[int], active: Sequence[int], *_: object) -> int:
        first, second = self._rng.sample(list(candidates), 2)
        return first if active[first] <= active[second] else second

    def _ip_hash(
        self, candidates: Sequence[int], active: Sequence[int], ip: str, _: Headers
    ) -> int:
        return self._rendezvous(candidates, ip)

    def _header(self, candidates: Sequence[int], active: Sequence[int], ip: str, h: Headers) -> int:
        value = h.get(self._key_name)
        return (
            self._round_robin(candidates) if value is None else self._rendezvous(candidates, value)
        )

    def _cookie(self, candidates: Sequence[int], active: Sequence[int], ip: str, h: Headers) -> int:
        value = cookie_value(h.get_all("cookie"), self._key_name)
        return (
            self._round_robin(candidates) if value is None else self._rendezvous(candidates, value)
        )

    def _rendezvous(self, candidates: Sequence[int], key: str) -> int:
        """The candidate whose (server, key) hash is highest: stable while servers come and go."""
        return max(candidates, key=lambda i: _weight(self.names[i], key))


_NO_HEADERS = Headers()


def _weight(server: str, key: str) -> bytes:
    return hashlib.blake2b(f"{server}\0{key}".encode(), digest_size=8).digest()


def cookie_value(cookie_headers: list[str], name: str) -> str | None:
    """The value of cookie `name` in Cookie header values, or None."""
    for header in cookie_headers:
        for pair in header.split(";"):
            key, eq, value = pair.strip().partition("=")
            if eq and key == name:
                return value.strip('"')
    return None
