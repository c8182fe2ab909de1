"""Latency added by a reverse proxy at a moderate, fixed request rate (open loop: each request
has a scheduled send time and its latency counts from then, so a stall is not hidden by the
client waiting; wrk's closed loop would hide it). The same nginx origin serves /1k.bin
directly, through gateway's proxy and through nginx proxy_pass (1 worker each); p50/p90/p99
of each and the proxies' added p50/p99 over the origin's. 127.0.0.1 only, bounded.

    .venv/bin/python bench/proxy_latency.py [--rates 500,1000,2000] [--seconds 5] [--conns 16]
"""

from __future__ import annotations

import argparse
import selectors
import socket
import sys
import tempfile
import time
from pathlib import Path

from procs import HOST, free_port, running, tail
from targets import GATEWAY_PROXY_TOML, NGINX_CONF, NGINX_PROXY_CONF, REPO, _q

REQUEST = b"GET /1k.bin HTTP/1.1\r\nhost: bench\r\n\r\n"


class Conn:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.buf = b""
        self.due = 0.0  # the scheduled send time of the request in flight (0: idle)

    def complete(self) -> bool:
        """Whether buf holds a whole response (Content-Length framed); consumes it."""
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0:
            return False
        head = self.buf[:head_end].lower()
        length = int(head.split(b"content-length:")[1].split(b"\r\n")[0])
        if len(self.buf) < head_end + 4 + length:
            return False
        self.buf = self.buf[head_end + 4 + length :]
        return True


def fixed_rate(port: int, rate: float, seconds: float, conns: int) -> list[float]:
    """Latencies (s) of rate*seconds requests sent on schedule over `conns` connections."""
    pool = [Conn(port) for _ in range(conns)]
    idle = list(pool)
    sel = selectors.DefaultSelector()
    for conn in pool:
        sel.register(conn.sock, selectors.EVENT_READ, conn)
    total = int(rate * seconds)
    start = time.monotonic() + 0.05
    sent, latencies = 0, []
    deadline = start + seconds + 10
    while len(latencies) < total and time.monotonic() < deadline:
        now = time.monotonic()
        while sent < total and idle and start + sent / rate <= now:
            conn = idle.pop()
            conn.due = start + sent / rate  # a late send still counts from its schedule
            conn.sock.send(REQUEST)
            sent += 1
        wait = max(0.0, start + sent / rate - time.monotonic()) if sent < total and idle else 0.01
        for key, _ in sel.select(wait):
            conn = key.data
            conn.buf += conn.sock.recv(65536)
            if conn.complete():
                latencies.append(time.monotonic() - conn.due)
                idle.append(conn)
    for conn in pool:
        conn.sock.close()
    sel.close()
    return latencies


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="500,1000,2000")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--conns", type=int, default=16)
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    with tempfile.TemporaryDirectory(prefix="gateway-proxy-latency-") as tmp:
        root = Path(tmp)
        public = root / "public"
        public.mkdir()
        (public / "1k.bin").write_bytes(b"x" * 1024)
        root.chmod(0o755)
        origin_port, gw_port, ng_port = free_port(), free_port(), free_port()
        for name, conf in (("origin", NGINX_CONF), ("nginx-proxy", NGINX_PROXY_CONF)):
            (root / name).mkdir()
            port = origin_port if name == "origin" else ng_port
            (root / name / "nginx.conf").write_text(
                conf.format(nginx=root / name, port=port, public=public, upstream=origin_port)
            )
        (root / "gateway.toml").write_text(
            GATEWAY_PROXY_TOML.format(
                listen=_q(f"{HOST}:{gw_port}"), workers=1, upstream=origin_port
            )
        )

        def nginx(name: str) -> list[str]:
            conf = str(root / name / "nginx.conf")
            return ["nginx", "-p", f"{root / name}/", "-c", conf]

        gateway = [sys.executable, "-m", "gateway", "serve", "--config", str(root / "gateway.toml")]
        rows = []
        with (
            running("origin", nginx("origin"), origin_port, root, root / "o.log") as origin,
            running("gateway", gateway, gw_port, REPO, root / "g.log") as gw,
            running("nginx", nginx("nginx-proxy"), ng_port, root, root / "n.log") as ng,
        ):
            for server in (origin, gw, ng):
                if error := server.wait_ready(15):
                    print(f"{server.name}: {error}\n{tail(server.log)}", file=sys.stderr)
                    return 1
            for port in (origin_port, gw_port, ng_port):
                fixed_rate(port, 500, 1, args.conns)  # warm-up: pools, caches
            for rate in rates:
                for name, port in (
                    ("origin direct", origin_port),
                    ("gateway proxy", gw_port),
                    ("nginx proxy_pass", ng_port),
                ):
                    got = fixed_rate(port, rate, args.seconds, args.conns)
                    rows.append((rate, name, len(got), pct(got, 50), pct(got, 90), pct(got, 99)))
                    print(
                        f"{rate:.0f}/s {name}: {len(got)} answers, p50 {pct(got, 50) * 1e3:.2f}"
                        f" ms, p99 {pct(got, 99) * 1e3:.2f} ms",
                        flush=True,
                    )
    print(
        f"\n{'rate':>6} {'target':18} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} "
        f"{'added p50':>10} {'added p99':>10}"
    )
    base: dict[float, tuple[float, float]] = {}
    for rate, name, _n, p50, p90, p99 in rows:
        if name == "origin direct":
            base[rate] = (p50, p99)
        b50, b99 = base[rate]
        print(
            f"{rate:6.0f} {name:18} {p50 * 1e3:7.2f} {p90 * 1e3:7.2f} {p99 * 1e3:7.2f} "
            f"{(p50 - b50) * 1e3:10.2f} {(p99 - b99) * 1e3:10.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
