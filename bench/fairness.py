"""Fairness under a tiny-chunk upload: while one client sends a 4 MiB body as 1-byte chunks,
four other clients GET a fixed answer in a loop on keep-alive connections. Prints their p50
and p99 latency without and with the abuser, and the abuser's duration and server CPU. Bounded:
each phase stops after --seconds (default 8). 127.0.0.1 only; the server is stopped by pid.

    .venv/bin/python bench/fairness.py
    .venv/bin/python bench/fairness.py --gateway /path/to/other/checkout   # before/after
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
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
max_body_bytes = "8MiB"

[[route]]
path = "/ok"
respond = { status = 200, body = "ok" }

[[route]]
path = "/upload"
methods = ["POST"]
respond = { status = 200, body = "got it" }
"""
BODY = 4 * 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start(gateway: str | None, config: Path, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    if gateway:
        env["PYTHONPATH"] = gateway
    cmd = [sys.executable, "-m", "gateway", "serve", "--config", str(config)]
    cmd += ["--listen", f"{HOST}:{port}", "--no-reload"]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("server did not start")


def victim(port: int, stop: threading.Event, out: list[float]) -> None:
    sock = socket.create_connection((HOST, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    request = b"GET /ok HTTP/1.1\r\nHost: b\r\n\r\n"
    while not stop.is_set():
        t = time.perf_counter()
        sock.sendall(request)
        data = b""
        while not data.endswith(b"ok"):
            data += sock.recv(4096)
        out.append(time.perf_counter() - t)
        time.sleep(0.002)
    sock.close()


def abuser(port: int, seconds: float, result: dict[str, float]) -> None:
    sock = socket.create_connection((HOST, port))
    head = b"POST /upload HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"1\r\nx\r\n" * 65536  # 64 KiB of body per send
    t = time.perf_counter()
    sock.sendall(head)
    deadline = t + seconds
    for _ in range(BODY // 65536):
        if time.perf_counter() > deadline:
            break
        sock.sendall(chunk)
    sock.sendall(b"0\r\n\r\n")
    sock.settimeout(max(1.0, deadline - time.perf_counter()))
    try:
        answer = sock.recv(4096)
    except TimeoutError:
        answer = b""
    result["seconds"] = time.perf_counter() - t
    result["status"] = int(answer.split(b" ")[1]) if answer else 0
    sock.close()


def phase(port: int, seconds: float, abuse: bool) -> tuple[list[float], dict[str, float]]:
    stop = threading.Event()
    latencies: list[list[float]] = [[] for _ in range(4)]
    threads = [threading.Thread(target=victim, args=(port, stop, out)) for out in latencies]
    for thread in threads:
        thread.start()
    result: dict[str, float] = {}
    if abuse:
        abuser(port, seconds, result)
    else:
        time.sleep(min(seconds, 2.0))
    stop.set()
    for thread in threads:
        thread.join()
    return [x for out in latencies for x in out], result


def cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", help="PYTHONPATH of the gateway checkout to run")
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "gateway.toml"
        config.write_text(SITE)
        port = free_port()
        proc = start(args.gateway, config, port)
        try:
            quiet, _ = phase(port, args.seconds, abuse=False)
            cpu = cpu_of(proc.pid)
            busy, result = phase(port, args.seconds, abuse=True)
            cpu = cpu_of(proc.pid) - cpu
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
    ms = lambda xs, q: 1000 * statistics.quantiles(xs, n=100)[q - 1]  # noqa: E731
    print(f"others alone:        p50 {ms(quiet, 50):7.2f} ms  p99 {ms(quiet, 99):7.2f} ms")
    print(f"others beside abuse: p50 {ms(busy, 50):7.2f} ms  p99 {ms(busy, 99):7.2f} ms")
    print(
        f"abuser: 4 MiB in 1-byte chunks, status {result.get('status')}, "
        f"{result.get('seconds', 0):.2f} s; server CPU {cpu:.2f} s"
    )


if __name__ == "__main__":
    main()
