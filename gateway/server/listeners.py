"""Listening sockets: parse "host:port" / "[v6]:port", bind non-blocking sockets with the
right options (SO_REUSEADDR always, SO_REUSEPORT for prefork workers, V6ONLY for IPv6)."""

from __future__ import annotations

import socket


def split_host_port(address: str) -> tuple[str, int]:
    """'127.0.0.1:8000' -> ('127.0.0.1', 8000); '[::1]:8000' -> ('::1', 8000)."""
    if address.startswith("["):
        host, sep, port = address[1:].partition("]:")
    else:
        host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(
            f"{address!r} is not host:port: write e.g. '127.0.0.1:8000' or '[::1]:8000'"
        )
    return host, int(port)


def bind(
    address: str, *, reuse_port: bool = False, backlog: int = 1024, listen: bool = True
) -> socket.socket:
    """A listening, non-blocking socket on `address`; with `listen=False` only bound (the
    prefork master holds a port number that way while its workers listen on it)."""
    host, port = split_host_port(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        if listen:
            sock.listen(backlog)
            sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def address_of(sock: socket.socket) -> str:
    """The 'host:port' a socket is bound to (port resolved when 0 was asked)."""
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
