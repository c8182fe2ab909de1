"""Socket activation (systemd's LISTEN_FDS protocol, sd_listen_fds(3)): take the listening
sockets a service manager hands us at fd 3.., check each is a listening stream socket, and
clear the variables so our children do not take them too. `exec_with_sockets` is the other
side, for handing our own listeners to a new gateway (a zero-downtime upgrade)."""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass

from gateway.errors import GatewayError

SD_LISTEN_FDS_START = 3
_VARIABLES = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


class ActivationError(GatewayError):
    """The environment promised sockets that are not there or are not usable."""


@dataclass(frozen=True)
class Inherited:
    sock: socket.socket
    name: str  # from LISTEN_FDNAMES ("unknown" when not given, as systemd names it)

    @property
    def address(self) -> str:
        """'host:port' (IPv6 as '[::1]:port'), or the path of a unix socket."""
        bound = self.sock.getsockname()
        if self.sock.family == socket.AF_UNIX:
            return str(bound)
        host, port = bound[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def inherited_sockets(environ: MutableMapping[str, str] | None = None) -> list[Inherited]:
    """The listening sockets passed to this process, non-blocking and close-on-exec; [] when
    none were (no LISTEN_FDS, or LISTEN_PID names another process). The variables are
    removed either way. Raises ActivationError for a malformed or unusable hand-over."""
    env = os.environ if environ is None else environ
    pid, count, names = (env.pop(name, None) for name in _VARIABLES)
    if count is None or pid is None:
        return []
    if not pid.isdigit() or int(pid) != os.getpid():
        return []  # meant for the process that started us (a shell wrapper, say)
    if not count.isdigit():
        raise ActivationError(f"LISTEN_FDS={count!r} is not a number of sockets")
    labels = names.split(":") if names else []
    found = []
    for i in range(int(count)):
        fd = SD_LISTEN_FDS_START + i
        found.append(Inherited(_adopt(fd), labels[i] if i < len(labels) else "unknown"))
    return found


def _adopt(fd: int) -> socket.socket:
    try:
        os.set_inheritable(fd, False)
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise ActivationError(
            f"fd {fd} from LISTEN_FDS is not an open socket: {exc.strerror or exc}"
        ) from None
    kind = sock.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE)
    listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    if kind != socket.SOCK_STREAM or not listening:
        what = "a stream socket" if kind == socket.SOCK_STREAM else f"a socket of type {kind}"
        sock.detach()  # leave the fd as we found it
        raise ActivationError(
            f"fd {fd} from LISTEN_FDS is {what} that is not listening: hand gateway "
            "listening TCP or unix stream sockets (ListenStream= in the .socket unit)"
        )
    sock.setblocking(False)
    return sock


def exec_with_sockets(
    argv: Sequence[str], socks: Sequence[socket.socket], names: Sequence[str] = ()
) -> int:
    """Fork, and in the child exec `argv` with `socks` at fd 3.. and LISTEN_* set as a
    service manager would. Returns the child's pid; our sockets stay open here."""
    pid = os.fork()
    if pid:
        return pid
    try:
        # Move the sockets above the target range first, so no dup2 clobbers a source.
        high = [
            fcntl.fcntl(s.fileno(), fcntl.F_DUPFD, SD_LISTEN_FDS_START + len(socks)) for s in socks
        ]
        for i, fd in enumerate(high):
            os.dup2(fd, SD_LISTEN_FDS_START + i, inheritable=True)
            os.close(fd)
        os.environ["LISTEN_PID"] = str(os.getpid())
        os.environ["LISTEN_FDS"] = str(len(socks))
        if names:
            os.environ["LISTEN_FDNAMES"] = ":".join(names)
        os.execv(argv[0], list(argv))
    finally:
        os._exit(127)  # exec failed
