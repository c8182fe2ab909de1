"""Where the time of one proxied request goes: a tiny origin in a child process answers every
request with a fixed 1 KiB response; gateway proxies to it in this process under cProfile (the
loop's thread only) while client threads send N keep-alive GETs. Prints calls per request,
loop-thread CPU us per request (without the profiler, a second run) and the top functions.
127.0.0.1 only, bounded by N. Usage:
    python bench/profile_proxy.py [-n 20000] [--clients 4] [--top 25] [--no-profile]
                                  [--max-idle 0]"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.app import build_app
from gateway.config.load import load_config
from gateway.server.serve import Server

ORIGIN = r"""
import selectors, socket, sys
body = b"x" * 1024
answer = (b"HTTP/1.1 200 OK\r\nServer: origin\r\nContent-Type: application/octet-stream\r\n"
          b"Content-Length: 1024\r\nETag: \"abc\"\r\n\r\n" + body)
sel = selectors.DefaultSelector()
lsock = socket.socket(); lsock.bind(("127.0.0.1", 0)); lsock.listen(128); lsock.setblocking(False)
print(lsock.getsockname()[1], flush=True)
def ready(sock):
    try:
        data = sock.recv(65536)
    except ConnectionError:
        data = b""
    if not data:
        sel.unregister(sock); sock.close(); return
    sock.send(answer * data.count(b"\r\n\r\n"))
sel.register(lsock, selectors.EVENT_READ, None)
while True:
    for key, _ in sel.select():
        if key.data is None:
            conn, _ = lsock.accept(); conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sel.register(conn, selectors.EVENT_READ, 1)
        else:
            ready(key.fileobj)
"""

SITE = """
[server]
access_log = "off"

[upstream.origin]
servers = ["127.0.0.1:{port}"]
keepalive = {{ max_idle = {max_idle} }}

[[route]]
path = "/{{rest:path}}"
proxy = {{ upstream = "origin" }}
"""


def client(port: int, count: int, done: list[int]) -> None:
    request = b"GET /1k.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for _ in range(count):
            sock.sendall(request)
            data = sock.recv(65536)
            while len(data) < 1024 or b"\r\n\r\n" not in data:
                data += sock.recv(65536)
            assert data.startswith(b"HTTP/1.1 200"), data[:80]
    done.append(count)


def run(server: Server, port: int, n: int, clients: int, profile: cProfile.Profile | None) -> float:
    """Serve n requests from `clients` threads; the loop thread's CPU seconds."""
    done: list[int] = []
    threads = [
        threading.Thread(target=client, args=(port, n // clients, done)) for _ in range(clients)
    ]

    def stopper() -> None:
        for thread in threads:
            thread.join()
        server.loop.call_soon_threadsafe(server.request_shutdown)

    for thread in threads:
        thread.start()
    threading.Thread(target=stopper).start()
    cpu = time.thread_time()
    if profile is None:
        server.serve_forever()
    else:
        profile.runcall(server.serve_forever)
    return time.thread_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20000, help="requests (default 20000)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="unprofiled timing rounds")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime", help="pstats sort key (e.g. ncalls)")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument(
        "--max-idle",
        type=int,
        default=32,
        help="the upstream's keepalive max_idle (0: a new connection per request)",
    )
    parser.add_argument("--callers", default="", help="print the callers of these functions")
    args = parser.parse_args()
    origin = subprocess.Popen([sys.executable, "-c", ORIGIN], stdout=subprocess.PIPE, text=True)
    try:
        assert origin.stdout is not None
        origin_port = int(origin.stdout.readline())
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "gateway.toml").write_text(
                SITE.format(port=origin_port, max_idle=args.max_idle)
            )
            app = build_app(load_config(root / "gateway.toml"))

            def fresh() -> tuple[Server, int]:
                server = Server(app)
                return server, int(server.listen(["127.0.0.1:0"])[0].rpartition(":")[2])

            run(*fresh(), 2000, args.clients, None)  # warm-up
            times = []
            collected = [s["collections"] for s in gc.get_stats()]
            for _ in range(args.rounds):
                cpu = run(*fresh(), args.n, args.clients, None)
                times.append(cpu / args.n * 1e6)
            print("loop-thread CPU us/req:", " ".join(f"{t:.1f}" for t in times))
            runs = [s["collections"] - c for s, c in zip(gc.get_stats(), collected, strict=True)]
            print(
                "gc collections per 1000 requests (gen 0, 1, 2): "
                + ", ".join(f"{n * 1000 / (args.n * args.rounds):.2f}" for n in runs)
            )
            if args.no_profile:
                return
            profile = cProfile.Profile()
            run(*fresh(), args.n, args.clients, profile)
    finally:
        origin.kill()
        origin.wait()
    stats = pstats.Stats(profile)
    total_calls = stats.total_calls  # type: ignore[attr-defined]
    print(f"{total_calls / args.n:.1f} calls per request")
    stats.sort_stats(args.sort).print_stats(args.top)
    for name in filter(None, args.callers.split(",")):
        stats.print_callers(name)


if __name__ == "__main__":
    main()
