"""Socket activation with real sockets handed to a real subprocess at fd 3, as systemd does
(the shim below dup2s the passed fd to 3, sets LISTEN_PID to its own pid and execs)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from gateway.activation import exec_with_sockets

CHILD = textwrap.dedent(
    """
    import json, os, sys
    from gateway.activation import ActivationError, inherited_sockets
    try:
        found = inherited_sockets()
    except ActivationError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        sys.exit(3)
    left = sorted(k for k in os.environ if k.startswith("LISTEN_"))
    print(json.dumps({"names": [s.name for s in found], "addresses": [s.address for s in found],
                      "inheritable": [os.get_inheritable(s.sock.fileno()) for s in found],
                      "blocking": [s.sock.getblocking() for s in found], "left": left}), flush=True)
    for s in found:
        s.sock.setblocking(True)
        conn, _ = s.sock.accept()
        conn.sendall(s.name.encode())
        conn.close()
    """
)
SHIM = textwrap.dedent(
    """
    import os, sys
    fds = [int(x) for x in sys.argv[1].split(",") if x]
    for i, fd in enumerate(fds):
        os.dup2(fd, 3 + i)
    pid = os.getpid() if sys.argv[2] == "self" else int(sys.argv[2])
    os.environ.update(LISTEN_PID=str(pid), LISTEN_FDS=sys.argv[3])
    if sys.argv[4]:
        os.environ["LISTEN_FDNAMES"] = sys.argv[4]
    os.execv(sys.executable, [sys.executable, "-c", sys.argv[5]])
    """
)


def listener(kind=socket.SOCK_STREAM, listen=True):
    sock = socket.socket(socket.AF_INET, kind)
    sock.bind(("127.0.0.1", 0))
    if listen:
        sock.listen()
    return sock


def run_activated(socks, pid="self", count=None, names=""):
    fds = [s.fileno() for s in socks]
    count = str(len(socks)) if count is None else count
    args = [sys.executable, "-c", SHIM, ",".join(map(str, fds)), pid, count, names, CHILD]
    return subprocess.Popen(args, pass_fds=fds, stdout=subprocess.PIPE, text=True)


def answer(proc):
    line = proc.stdout.readline()
    assert line, f"child said nothing (exit {proc.wait(10)})"
    return json.loads(line)


def fetch(sock):
    with socket.create_connection(sock.getsockname(), timeout=10) as conn:
        return conn.recv(100)


def test_two_handed_sockets_are_taken_and_served():
    a, b = listener(), listener()
    proc = run_activated([a, b], names="web:admin")
    try:
        got = answer(proc)
        assert got["names"] == ["web", "admin"]
        assert got["addresses"] == [
            f"127.0.0.1:{a.getsockname()[1]}",
            f"127.0.0.1:{b.getsockname()[1]}",
        ]
        assert got["left"] == []  # unset: children of gateway do not take them
        assert got["inheritable"] == [False, False]
        assert got["blocking"] == [False, False]
        assert fetch(a) == b"web"
        assert fetch(b) == b"admin"
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        a.close()
        b.close()


def test_sockets_for_another_pid_are_left_alone():
    a = listener()
    proc = run_activated([a], pid="1")
    try:
        got = answer(proc)
        assert got["names"] == [] and got["left"] == []
        assert proc.wait(10) == 0
    finally:
        a.close()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: listener(listen=False),
            "fd 3 from LISTEN_FDS is a stream socket that is not listening",
        ),
        (
            lambda: listener(kind=socket.SOCK_DGRAM, listen=False),
            "fd 3 from LISTEN_FDS is a socket of type 2 that is not listening",
        ),
    ],
)
def test_unusable_sockets_are_refused(make, message):
    sock = make()
    proc = run_activated([sock])
    try:
        assert answer(proc)["error"].startswith(message)
        assert proc.wait(10) == 3
    finally:
        sock.close()


def test_a_count_that_is_not_a_number_is_an_error():
    proc = run_activated([], count="two")
    assert answer(proc)["error"] == "LISTEN_FDS='two' is not a number of sockets"
    assert proc.wait(10) == 3


def test_a_missing_fd_is_an_error():
    proc = run_activated([], count="1")
    assert answer(proc)["error"].startswith("fd 3 from LISTEN_FDS is not an open socket")
    assert proc.wait(10) == 3


def test_exec_with_sockets_hands_ours_to_a_new_process(tmp_path):
    a, b = listener(), listener()
    out = tmp_path / "out.json"
    script = f"import sys; sys.stdout = open({str(out)!r}, 'w'); exec({CHILD!r})"
    pid = exec_with_sockets([sys.executable, "-c", script], [a, b], ["x", "y"])
    try:
        deadline = time.monotonic() + 10
        while not out.exists() or not out.read_text().endswith("\n"):
            assert time.monotonic() < deadline, "the new process did not start"
            time.sleep(0.01)
        got = json.loads(out.read_text())
        assert got["names"] == ["x", "y"]
        assert got["left"] == []
        assert fetch(a) == b"x"
        assert fetch(b) == b"y"
        _, status = os.waitpid(pid, 0)
        pid = 0
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        if pid:  # a failed assertion: do not leave the child waiting in accept()
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        a.close()
        b.close()
