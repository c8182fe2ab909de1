"""Bulk bodies through a reverse proxy: a 1 GiB download (nginx origin, a sparse file sent
with sendfile) and a 1 GiB upload (a Python origin that reads and drops the body, then
answers) through gateway with splice on (both directions: responses by zerocopy.py, request
bodies by upsplice.py), gateway with splice off, and nginx proxy_pass (1 worker each; nginx:
proxy_buffering on as in bench/targets.py, proxy_request_buffering off so an upload streams
as gateway's does). One client at a time in this process. Prints MB/s (and its ratio to
nginx's in the same run), the proxy's CPU seconds per GiB and its peak RSS. 127.0.0.1
only, bounded.

    .venv/bin/python bench/proxy_bulk.py [--size 1GiB] [--rounds 3] [--only download,upload]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from cpuacct import _group
from procs import HOST, free_port, running, tail
from proxy_rss import rss_kib, size_of
from targets import GATEWAY_PROXY_TOML, NGINX_CONF, NGINX_PROXY_CONF, REPO, _q

# Reads each request's Content-Length body into one reused buffer, then answers "ok".
SINK = r"""
import socket, sys, threading
def serve(conn):
    buf = memoryview(bytearray(1 << 20))
    with conn:
        while True:
            head = b""
            while b"\r\n\r\n" not in head:
                data = conn.recv(65536)
                if not data:
                    return
                head += data
            top, _, rest = head.partition(b"\r\n\r\n")
            length = 0
            for line in top.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            left = length - len(rest)
            while left > 0:
                n = conn.recv_into(buf[: min(left, len(buf))])
                if not n:
                    return
                left -= n
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
lsock = socket.create_server(("127.0.0.1", int(sys.argv[1])))
while True:
    conn, _ = lsock.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""

NGINX_UPLOAD = NGINX_PROXY_CONF.replace(
    "            proxy_buffering on;",
    "            proxy_buffering on;\n            proxy_request_buffering off;\n"
    "            client_max_body_size 0;",
)


def download(port: int, size: int) -> int:
    total = 0
    with socket.create_connection((HOST, port), timeout=60) as sock:
        sock.sendall(b"GET /big.bin HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n")
        buf = bytearray(1 << 20)
        while n := sock.recv_into(buf):
            total += n
    return total


def upload(port: int, size: int) -> int:
    block = memoryview(b"u" * (1 << 20))
    with socket.create_connection((HOST, port), timeout=60) as sock:
        sock.sendall(
            b"PUT /up HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n"
            b"content-length: %d\r\n\r\n" % size
        )
        left = size
        while left:
            n = min(left, len(block))
            sock.sendall(block[:n])
            left -= n
        answer = b""
        while data := sock.recv(65536):
            answer += data
    if not answer.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"upload answered {answer[:80]!r}")
    return size


def measure(kind: str, port: int, pid: int, size: int) -> tuple[float, float, int]:
    """(MB/s, proxy CPU s per GiB, peak RSS KiB) of one transfer."""
    peak = [rss_kib(pid)]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            peak[0] = max(peak[0], rss_kib(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu, began = _group(pid), time.monotonic()
    moved = (download if kind == "download" else upload)(port, size)
    seconds, cpu = time.monotonic() - began, _group(pid) - cpu
    done.set()
    sampler.join()
    if moved < size:
        raise RuntimeError(f"{kind}: only {moved} of {size} bytes")
    return moved / seconds / 1e6, cpu / (size / (1 << 30)), peak[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1GiB")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="download,upload")
    args = parser.parse_args()
    size = size_of(args.size)
    kinds = args.only.split(",")
    with tempfile.TemporaryDirectory(prefix="gateway-proxy-bulk-") as tmp:
        root = Path(tmp)
        public = root / "public"
        public.mkdir()
        with (public / "big.bin").open("wb") as f:
            f.truncate(size + (1 << 20))  # sparse
        root.chmod(0o755)
        rows = []
        for kind in kinds:
            rows += run_kind(root, kind, size, args.rounds)
    nginx = {kind: rate for kind, name, rate, _, _ in rows if name.startswith("nginx")}
    head = f"{'transfer':10} {'proxy':18} {'MB/s':>8} {'x nginx':>8} {'CPU s/GiB':>10}"
    print(f"\n{head} {'peak RSS':>10}")
    for kind, name, rate, cpu, rss in rows:
        ratio = rate / nginx[kind] if nginx.get(kind) else 0.0
        print(f"{kind:10} {name:18} {rate:8.0f} {ratio:7.2f}x {cpu:10.2f} {rss / 1024:8.1f}Mi")
    return 0


def run_kind(root: Path, kind: str, size: int, rounds: int) -> list[tuple]:
    origin_port = free_port()
    prefix = root / f"nginx-origin-{kind}"
    prefix.mkdir()
    if kind == "download":
        (prefix / "nginx.conf").write_text(
            NGINX_CONF.format(nginx=prefix, port=origin_port, public=root / "public")
        )
        conf = str(prefix / "nginx.conf")
        origin_argv = ["nginx", "-p", f"{prefix}/", "-c", conf, "-e", "stderr"]
    else:
        origin_argv = [sys.executable, "-c", SINK, str(origin_port)]
    rows = []
    with running("origin", origin_argv, origin_port, root, root / f"origin-{kind}.log") as origin:
        if error := origin.wait_ready(15):
            raise SystemExit(f"origin: {error}\n{tail(origin.log)}")
        if kind == "download":
            download(origin_port, size)  # warm-up: the file's pages in the page cache
        for name in ("gateway splice", "gateway no splice", "nginx proxy_pass"):
            port = free_port()
            argv, cwd = proxy_argv(root, name, port, origin_port)
            with running(name, argv, port, cwd, root / f"{name}.log") as proxy:
                if error := proxy.wait_ready(15):
                    raise SystemExit(f"{name}: {error}\n{tail(proxy.log)}")
                got = [measure(kind, port, proxy.popen.pid, size) for _ in range(rounds)]
            rate = statistics.median(g[0] for g in got)
            cpu = statistics.median(g[1] for g in got)
            rss = max(g[2] for g in got)
            print(f"{kind} {name}: {rate:.0f} MB/s, {cpu:.2f} CPU s/GiB, peak RSS {rss} KiB")
            rows.append((kind, name, rate, cpu, rss))
    return rows


def proxy_argv(root: Path, name: str, port: int, origin_port: int) -> tuple[list[str], Path]:
    if name.startswith("nginx"):
        prefix = root / f"nginx-proxy-{port}"
        prefix.mkdir()
        conf = NGINX_UPLOAD.format(
            nginx=prefix, port=port, public=root / "public", upstream=origin_port
        )
        (prefix / "nginx.conf").write_text(conf)
        return ["nginx", "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf"), "-e", "stderr"], root
    splice = "true" if name == "gateway splice" else "false"
    toml = GATEWAY_PROXY_TOML.format(listen=_q(f"{HOST}:{port}"), workers=1, upstream=origin_port)
    toml = toml.replace('access_log = "off"', 'access_log = "off"\nmax_body_bytes = "4GiB"')
    toml = toml.replace(
        'proxy = { upstream = "origin" }', f'proxy = {{ upstream = "origin", splice = {splice} }}'
    )
    toml = toml.replace("[[route]]", '[[route]]\nmethods = ["*"]')
    config = root / f"gateway-{port}.toml"
    config.write_text(toml)
    return [sys.executable, "-m", "gateway", "serve", "--config", str(config)], REPO


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
