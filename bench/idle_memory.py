"""Idle keep-alive memory per connection: open N connections to a server on 127.0.0.1, send
one request on each and read its answer, then leave them idle and read the server's RSS
delta divided by N. Runs gateway and nginx (one worker each, when nginx is installed).
Bounded: N connections (default 10,000), each step against a deadline; servers stopped by pid.

    .venv/bin/python bench/idle_memory.py
    .venv/bin/python bench/idle_memory.py --gateway /path/to/other/checkout --only gateway
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOST = "127.0.0.1"
REQUEST = b"GET /ok HTTP/1.1\r\nHost: b\r\n\r\n"

GATEWAY_SITE = """
[server]
access_log = "off"
max_connections = {n}
timeouts = {{ idle = "10m" }}

[[route]]
path = "/ok"
respond = {{ status = 200, body = "ok" }}
"""

NGINX_CONF = """
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile {fds};
user root;
pid {root}/nginx.pid;
error_log stderr error;
events {{ worker_connections {fds}; }}
http {{
    access_log off;
    keepalive_timeout 600s;
    keepalive_requests 100000;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen {host}:{port};
        location = /ok {{ return 200 "ok"; }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"server exited with {proc.returncode}") from None
            time.sleep(0.05)
    raise SystemExit("server did not start")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit(f"no VmRSS for {pid}")


def worker_pid(master: int) -> int:
    """nginx's worker: the master's only child."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise SystemExit("no nginx worker")


def ask(sock: socket.socket) -> None:
    sock.sendall(REQUEST)
    data = b""
    while not data.endswith(b"ok"):
        chunk = sock.recv(4096)
        if not chunk:
            raise SystemExit("server closed a connection")
        data += chunk


def measure(port: int, pid: int, n: int) -> float:
    """Bytes of RSS per idle keep-alive connection."""
    warm = [socket.create_connection((HOST, port)) for _ in range(10)]
    for sock in warm:
        ask(sock)
    time.sleep(0.5)
    before = rss_kib(pid)
    socks = []
    try:
        for _ in range(n):
            sock = socket.create_connection((HOST, port))
            ask(sock)
            socks.append(sock)
        time.sleep(1.0)  # let the server settle
        after = rss_kib(pid)
    finally:
        for sock in socks + warm:
            sock.close()
    return (after - before) * 1024 / n


def run_gateway(tmp: Path, gateway: str | None, n: int) -> float:
    config = tmp / "gateway.toml"
    config.write_text(GATEWAY_SITE.format(n=n + 100))
    port = free_port()
    env = dict(os.environ)
    if gateway:
        env["PYTHONPATH"] = gateway
    cmd = [sys.executable, "-m", "gateway", "serve", "--config", str(config)]
    cmd += ["--listen", f"{HOST}:{port}", "--no-reload"]
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    try:
        wait_port(port, proc)
        return measure(port, proc.pid, n)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def run_nginx(tmp: Path, n: int) -> float | None:
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        return None
    root = tmp / "nginx"
    root.mkdir()
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(NGINX_CONF.format(fds=n + 1000, root=root, host=HOST, port=port))
    proc = subprocess.Popen(
        [nginx, "-p", f"{root}/", "-c", str(conf), "-e", "stderr"], start_new_session=True
    )
    try:
        wait_port(port, proc)
        return measure(port, worker_pid(proc.pid), n)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000, help="idle connections (default 10000)")
    parser.add_argument("--gateway", help="PYTHONPATH of the gateway checkout to run")
    parser.add_argument("--only", choices=("gateway", "nginx"))
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.n + 500  # per process: our sockets, and the server's (it inherits the limit)
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            raise SystemExit(f"RLIMIT_NOFILE hard limit {hard} is below {want}: lower -n")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        tmp.chmod(0o755)
        if args.only in (None, "gateway"):
            per = run_gateway(tmp, args.gateway, args.n)
            print(
                f"gateway: {per:7.0f} bytes per idle keep-alive connection ({args.n} connections)"
            )
        if args.only in (None, "nginx"):
            nginx_per = run_nginx(tmp, args.n)
            if nginx_per is None:
                print("nginx: not installed")
            else:
                print(
                    f"nginx:   {nginx_per:7.0f} bytes per idle keep-alive connection "
                    f"({args.n} connections)"
                )


if __name__ == "__main__":
    main()
