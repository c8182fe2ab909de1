"""Latency added by a reverse proxy at a moderate, fixed request rate (open loop: each request
has a scheduled send time and its latency counts from then, so a stall is not hidden by the
client waiting; wrk's closed loop would hide it). The same nginx origin serves /1k.bin
directly, through gateway's proxy and through nginx proxy_pass (1 worker each); p50/p90/p99
of each and the proxies' added p50/p99 over the origin's. The client is bench/latency.py's.
127.0.0.1 only, bounded.

    .venv/bin/python bench/proxy_latency.py [--rates 500,1000,2000] [--seconds 5] [--conns 16]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from latency import fixed_rate, pct
from procs import HOST, free_port, running, tail
from targets import GATEWAY_PROXY_TOML, NGINX_CONF, NGINX_PROXY_CONF, REPO, _q

REQUEST = b"GET /1k.bin HTTP/1.1\r\nhost: bench\r\n\r\n"


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
                fixed_rate(port, REQUEST, 500, 1, args.conns)  # warm-up: pools, caches
            for rate in rates:
                for name, port in (
                    ("origin direct", origin_port),
                    ("gateway proxy", gw_port),
                    ("nginx proxy_pass", ng_port),
                ):
                    got = fixed_rate(port, REQUEST, rate, args.seconds, args.conns).latencies
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
