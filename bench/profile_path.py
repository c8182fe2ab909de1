"""Where the time of one request goes: cProfile over the server loop while a client thread
sends N keep-alive requests one after another on 127.0.0.1 (the loop's thread only: a
pooled handler's calls on its thread are not counted). Prints calls per request and the
functions that take the most time. Usage:
    python bench/profile_path.py [static|respond|handler|inline|pooled] [-n 20000] [--top 15]
With --cpu, no profiler: the loop thread's CPU time per request (time.thread_time; best
of 3 runs), robust to a shared machine's load. --browser sends a browser's head
(User-Agent, Accept, Accept-Encoding), which the response cache answers too."""

from __future__ import annotations

import argparse
import cProfile
import pstats
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.app import build_app
from gateway.config.load import load_config
from gateway.server.serve import Server

SITE = """
[server]
access_log = "off"

[[static]]
prefix = "/"
dir = "public"

[[route]]
path = "/json-fixed"
respond = { json = { hello = "w" } }

[[route]]
path = "/json"
handler = "api:hello"

[[route]]
path = "/json-inline"
handler = "api:hello"
inline = true

[[route]]
path = "/json-blocking"
handler = "api:hello"
blocking = true
"""
API = 'def hello(request):\n    return {"hello": "w"}\n'
PATHS = {
    "static": "/1k.bin",
    "respond": "/json-fixed",
    "handler": "/json",
    "inline": "/json-inline",
    "pooled": "/json-blocking",
}


BROWSER = (
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0\r\n"
    "Accept: */*\r\nAccept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
)
EXTRA = {"plain": "", "browser": BROWSER}


def client(port: int, path: str, count: int, server: Server, extra: str = "") -> None:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        first = b""
        for _ in range(count):
            sock.sendall(request)
            data = sock.recv(65536)
            while b"\r\n\r\n" not in data:  # a head in two reads: rare on loopback
                data += sock.recv(65536)
            first = first or data
    assert first.startswith(b"HTTP/1.1 200"), first[:80]
    server.loop.call_soon_threadsafe(server.request_shutdown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(PATHS), nargs="?", default="static")
    parser.add_argument("-n", type=int, default=20000, help="requests (default 20000)")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--cpu", action="store_true", help="CPU per request, no profiler")
    parser.add_argument("--browser", action="store_true", help="send a browser's head")
    args = parser.parse_args()
    extra = EXTRA["browser" if args.browser else "plain"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "public").mkdir()
        (root / "public" / "1k.bin").write_bytes(b"x" * 1024)
        (root / "api.py").write_text(API)
        (root / "gateway.toml").write_text(SITE)
        server = Server(build_app(load_config(root / "gateway.toml")))
        port = int(server.listen(["127.0.0.1:0"])[0].rpartition(":")[2])
        warm = threading.Thread(target=client, args=(port, PATHS[args.kind], 2000, server, extra))
        warm.start()  # warm-up: the handler's placement, caches, the fd cache
        server.serve_forever()
        warm.join()
        if args.cpu:
            cpu = min(_cpu_run(server, PATHS[args.kind], args.n, extra) for _ in range(3))
            print(f"{args.kind}: {cpu / args.n * 1e6:.2f} us of loop-thread CPU per request")
            return
        server = Server(server.app)
        port = int(server.listen(["127.0.0.1:0"])[0].rpartition(":")[2])
        thread = threading.Thread(
            target=client, args=(port, PATHS[args.kind], args.n, server, extra)
        )
        profile = cProfile.Profile()
        thread.start()
        profile.runcall(server.serve_forever)
        thread.join()
    stats = pstats.Stats(profile)
    total_calls = stats.total_calls  # type: ignore[attr-defined]
    primitive = sum(cc for cc, _nc, _tt, _ct, _callers in stats.stats.values())  # type: ignore[attr-defined]
    per_request = total_calls / args.n
    print(f"{args.kind}: {per_request:.1f} calls per request ({primitive / args.n:.1f} primitive)")
    stats.sort_stats("tottime").print_stats(args.top)


def _cpu_run(server: Server, path: str, count: int, extra: str) -> float:
    """Seconds of the loop thread's CPU while it answers `count` requests."""
    server = Server(server.app)
    port = int(server.listen(["127.0.0.1:0"])[0].rpartition(":")[2])
    thread = threading.Thread(target=client, args=(port, path, count, server, extra))
    thread.start()
    start = time.thread_time()
    server.serve_forever()
    spent = time.thread_time() - start
    thread.join()
    return spent


if __name__ == "__main__":
    main()
