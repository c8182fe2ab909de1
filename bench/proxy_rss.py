"""Proxy memory under large downloads: an nginx origin serves a sparse file, gateway proxies
it (1 worker), N clients download it at once through the proxy; the proxy's RSS is sampled
throughout and printed (start, peak, end) with the aggregate MB/s. 127.0.0.1 only, bounded.

    .venv/bin/python bench/proxy_rss.py --clients 100 --size 1GiB
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from procs import HOST, free_port, running, tail
from targets import GATEWAY_PROXY_TOML, NGINX_CONF, REPO, _q

SIZES = {"MiB": 1 << 20, "GiB": 1 << 30}


def size_of(text: str) -> int:
    for unit, factor in SIZES.items():
        if text.endswith(unit):
            return int(text[: -len(unit)]) * factor
    return int(text)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def download(port: int, got: list[int], deadline: float) -> None:
    """GET /big.bin and count its bytes (the head included), until the deadline."""
    total = 0
    with socket.create_connection((HOST, port), timeout=30) as sock:
        sock.sendall(b"GET /big.bin HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n")
        buf = bytearray(1 << 20)
        while time.monotonic() < deadline and (n := sock.recv_into(buf)):
            total += n
    got.append(total)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--size", default="1GiB")
    parser.add_argument("--timeout", type=float, default=300.0, help="stop after this long")
    args = parser.parse_args()
    size = size_of(args.size)
    with tempfile.TemporaryDirectory(prefix="gateway-proxy-rss-") as tmp:
        root = Path(tmp)
        public, prefix = root / "public", root / "nginx"
        public.mkdir()
        prefix.mkdir()
        with (public / "big.bin").open("wb") as f:
            f.truncate(size)  # sparse: nginx sends it with sendfile, nothing on disk
        root.chmod(0o755)
        up_port, gw_port = free_port(), free_port()
        (prefix / "nginx.conf").write_text(
            NGINX_CONF.format(nginx=prefix, port=up_port, public=public)
        )
        config = root / "gateway.toml"
        config.write_text(
            GATEWAY_PROXY_TOML.format(listen=_q(f"{HOST}:{gw_port}"), workers=1, upstream=up_port)
        )
        conf = str(prefix / "nginx.conf")
        origin_argv = ["nginx", "-p", f"{prefix}/", "-c", conf, "-e", "stderr"]
        gateway_argv = [sys.executable, "-m", "gateway", "serve", "--config", str(config)]
        with (
            running("origin", origin_argv, up_port, root, root / "origin.log") as origin,
            running("gateway", gateway_argv, gw_port, REPO, root / "gateway.log") as gw,
        ):
            for server in (origin, gw):
                if error := server.wait_ready(15):
                    print(f"{server.name}: {error}\n{tail(server.log)}", file=sys.stderr)
                    return 1
            pid = gw.popen.pid
            start_rss = peak = rss_kib(pid)
            got: list[int] = []
            deadline = time.monotonic() + args.timeout
            began = time.monotonic()
            threads = [
                threading.Thread(target=download, args=(gw_port, got, deadline), daemon=True)
                for _ in range(args.clients)
            ]
            for thread in threads:
                thread.start()
            while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
                peak = max(peak, rss_kib(pid))
                time.sleep(0.2)
            seconds = time.monotonic() - began
            end_rss = rss_kib(pid)
    whole = sum(1 for n in got if n >= size)
    print(
        f"{args.clients} x {args.size} through gateway's proxy: {whole} complete, "
        f"{sum(got) / seconds / 1e6:.0f} MB/s aggregate over {seconds:.1f} s; proxy RSS "
        f"start {start_rss / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB, "
        f"end {end_rss / 1024:.1f} MiB"
    )
    return 0 if whole == args.clients else 1


if __name__ == "__main__":
    sys.exit(main())
