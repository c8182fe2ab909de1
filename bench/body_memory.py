"""Memory under a burst of uploads: N clients (default 100) each POST a body of SIZE MiB
(default 10) at once to one gateway worker; prints the server's peak RSS during the burst
and its RSS after it (idle 3 s), and how many uploads got 200. Bounded: every socket has a
timeout, the server is stopped by its pid.

    .venv/bin/python bench/body_memory.py
    cd /tmp && /path/to/other/.venv/bin/python /path/to/bench/body_memory.py   # another checkout
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HOST = "127.0.0.1"
SITE = """
[server]
access_log = "off"
max_body_bytes = "{limit}MiB"

[[route]]
path = "/upload"
methods = ["POST"]
respond = {{ status = 200, body = "ok" }}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def upload(port: int, size: int, results: list[int]) -> None:
    piece = b"x" * 65536
    try:
        with socket.create_connection((HOST, port), timeout=60) as sock:
            sock.sendall(b"POST /upload HTTP/1.1\r\nHost: b\r\nContent-Length: %d\r\n\r\n" % size)
            for _ in range(size // len(piece)):
                sock.sendall(piece)
            answer = sock.recv(4096)
            results.append(int(answer.split(b" ", 2)[1]) if answer else 0)
    except OSError:
        results.append(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100, help="concurrent uploads (default 100)")
    parser.add_argument("--size", type=int, default=10, help="MiB per upload (default 10)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        config = Path(name) / "gateway.toml"
        config.write_text(SITE.format(limit=args.size + 1))
        port = free_port()
        cmd = [sys.executable, "-m", "gateway", "serve", "--config", str(config)]
        cmd += ["--listen", f"{HOST}:{port}", "--no-reload"]
        proc = subprocess.Popen(cmd, start_new_session=True, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    socket.create_connection((HOST, port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            start = rss_mib(proc.pid)
            results: list[int] = []
            threads = [
                threading.Thread(target=upload, args=(port, args.size << 20, results))
                for _ in range(args.n)
            ]
            for thread in threads:
                thread.start()
            peak = start
            while any(thread.is_alive() for thread in threads):
                peak = max(peak, rss_mib(proc.pid))
                time.sleep(0.02)
            for thread in threads:
                thread.join()
            time.sleep(3)
            after = rss_mib(proc.pid)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
    ok = results.count(200)
    print(
        f"{args.n} x {args.size} MiB uploads: {ok} got 200; server RSS {start:.0f} MiB at "
        f"start, {peak:.0f} MiB peak, {after:.0f} MiB after 3 s idle"
    )


if __name__ == "__main__":
    main()
