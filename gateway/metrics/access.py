"""Who may read the metrics: a fixed set of networks (CIDRs), loopback by default.
Parsed once from the config; a check is one address parse and a few network tests."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_ALLOW = ("127.0.0.1/32", "::1/128")


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """CIDRs ("10.0.0.0/8", "::1/128"; a bare address means just it). Raises ValueError
    naming the bad value and what would be right, for the config loader to report."""
    networks = []
    for value in values:
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not a CIDR: write e.g. '10.0.0.0/8' or '::1/128'")
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=True))
        except ValueError as exc:
            hint = "host bits set: write the network address" if "host bits" in str(exc) else ""
            raise ValueError(
                f"{value!r} is not a CIDR"
                + (f" ({hint})" if hint else "")
                + ": write e.g. '10.0.0.0/8' or '::1/128'"
            ) from None
    return tuple(networks)


class Allow:
    """`allow(client_ip)` is True when the address is inside one of the networks."""

    __slots__ = ("networks",)

    def __init__(self, networks: Iterable[str] = DEFAULT_ALLOW) -> None:
        self.networks = parse_networks(networks)

    def __call__(self, client_ip: str) -> bool:
        try:
            address = ipaddress.ip_address(client_ip.split("%", 1)[0])  # drop a zone id
        except ValueError:
            return False  # a unix socket peer or anything odd is not on the list
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # a dual-stack socket shows IPv4 clients so
        return any(address in network for network in self.networks)


def allowed(client_ip: str, networks: Iterable[str] = DEFAULT_ALLOW) -> bool:
    """One-off form of Allow (the server keeps an Allow built once per config)."""
    return Allow(networks)(client_ip)
