"""The prefork master's listening sockets. Each worker slot has its own SO_REUSEPORT socket
per address, made and held by the master, so a slot's accept queue outlives its worker (a
respawn, an upgrade); how they are named when handed to a new gateway (SIGUSR2, LISTEN_FDS)
and how the new one regroups what it is handed."""

from __future__ import annotations

import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.activation import Inherited
from gateway.server.listeners import address_of, bind

# LISTEN_FDNAMES of a hand-over: "gateway-slot-<n>-<http|https>" for a prefork master's
# slot sockets, "gateway-shared-<http|https>" for sockets every worker serves (one process).
_NAME = re.compile(r"gateway-(?:slot-(\d+)|shared)-(https?)")


@dataclass
class Slots:
    """`groups[i]`: worker slot i's sockets, the plain addresses' first, then the secure
    ([tls] listen) ones. `shared`: one group that every worker serves (socket activation,
    or the listeners of a one-process gateway that handed them over)."""

    plain: list[str]
    secure: list[str]
    groups: list[list[socket.socket]] = field(default_factory=list)
    shared: bool = False

    @classmethod
    def bind(cls, listen: Sequence[str], secure: Sequence[str], count: int) -> Slots:
        """`count` slots on every address; a ':0' port resolves once (in slot 0) for all."""
        slots = cls([], [])
        try:
            first = [bind(a, reuse_port=True) for a in [*listen, *secure]]
            slots.groups.append(first)
            resolved = [address_of(sock) for sock in first]
            slots.plain, slots.secure = resolved[: len(listen)], resolved[len(listen) :]
            slots.ensure(count)
        except BaseException:
            slots.close()
            raise
        return slots

    @classmethod
    def shared_group(cls, socks: list[socket.socket], secure: int = 0) -> Slots:
        """Sockets every worker serves; the last `secure` of them are [tls] listeners."""
        addresses = [address_of(sock) for sock in socks]
        cut = len(addresses) - secure
        return cls(addresses[:cut], addresses[cut:], [list(socks)], shared=True)

    @classmethod
    def from_handed(cls, handed: Sequence[Inherited]) -> Slots:
        """Regroup sockets handed over at start. Named by a gateway (an upgrade): its slots,
        or its shared listeners with the secure ones known; otherwise (a service manager's
        sockets) one shared group of plain listeners, in the order given."""
        parsed = [_NAME.fullmatch(h.name) for h in handed]
        if not handed or not all(parsed):
            return cls.shared_group([h.sock for h in handed])
        ordered = sorted(
            zip(parsed, handed, strict=True),
            key=lambda pair: (pair[0] and pair[0][2] == "https", pair[1].sock.fileno()),
        )
        if any(m and m[1] is None for m in parsed):  # gateway-shared-*
            secure = sum(1 for m in parsed if m and m[2] == "https")
            return cls.shared_group([h.sock for _, h in ordered], secure)
        slots = cls([], [])
        by_slot: dict[int, list[socket.socket]] = {}
        for match, item in ordered:
            assert match is not None
            by_slot.setdefault(int(match[1]), []).append(item.sock)
        slots.groups = [by_slot[i] for i in sorted(by_slot)]
        secure = sum(1 for m, h in ordered if m and m[2] == "https" and int(m[1]) == 0)
        first = [address_of(sock) for sock in slots.groups[0]]
        cut = len(first) - secure
        slots.plain, slots.secure = first[:cut], first[cut:]
        return slots

    @property
    def addresses(self) -> list[str]:
        return [*self.plain, *self.secure]

    def group(self, index: int) -> list[socket.socket]:
        return self.groups[0] if self.shared else self.groups[index]

    def ensure(self, count: int) -> None:
        """At least `count` slots: bind the missing ones (shared: nothing to do)."""
        while not self.shared and len(self.groups) < count:
            self.groups.append([bind(a, reuse_port=True) for a in self.addresses])

    def truncate(self, count: int) -> None:
        """Close the slots from `count` on (a smaller `workers`): connections still queued
        on them are reset when their worker closes its copy too, as when a worker exits."""
        if self.shared:
            return
        for group in self.groups[count:]:
            for sock in group:
                sock.close()
        del self.groups[count:]

    def handover(self) -> tuple[list[socket.socket], list[str]]:
        """Every socket, and its LISTEN_FDNAMES name, for a new gateway (SIGUSR2)."""
        socks: list[socket.socket] = []
        names: list[str] = []
        for index, group in enumerate(self.groups):
            for position, sock in enumerate(group):
                scheme = "https" if position >= len(self.plain) else "http"
                where = "shared" if self.shared else f"slot-{index}"
                socks.append(sock)
                names.append(f"gateway-{where}-{scheme}")
        return socks, names

    def others(self, index: int) -> list[socket.socket]:
        """The sockets a worker in slot `index` must close after the fork: other slots'."""
        if self.shared:
            return []
        return [sock for i, group in enumerate(self.groups) if i != index for sock in group]

    def close(self) -> None:
        for group in self.groups:
            for sock in group:
                sock.close()
        self.groups = []
