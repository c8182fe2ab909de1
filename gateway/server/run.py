"""Running one server process: listen, announce, start the reloader when asked, install
the signal handlers and serve until told to stop. `gateway serve` and each prefork worker
call serve_single."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from gateway import __version__
from gateway.app import App
from gateway.reload import Reloader
from gateway.server.serve import Server


def serve_single(
    config_path: str,
    app: App,
    listen: list[str],
    reload: bool,
    reuse_port: bool = False,
    announce: bool = True,
) -> int:
    """Serve `app` in this process until SIGINT/SIGTERM; the exit status."""
    server = Server(app, listen=listen, reuse_port=reuse_port)
    try:
        addresses = server.listen(listen)
    except OSError as exc:
        print(f"gateway: cannot listen on {', '.join(listen)}: {exc.strerror}", file=sys.stderr)
        return 1
    if announce:
        for address in addresses:
            print(
                f"gateway {__version__} serving {config_path} at http://{address}/", file=sys.stderr
            )
    reloader = start_reloader(config_path, server) if reload else None
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: server.request_shutdown())
    try:
        server.serve_forever()
    finally:
        if reloader is not None:
            reloader.stop()
    return 0


def start_reloader(config_path: str, server: Server) -> Reloader:
    """Watch the config, handler modules and served files; rebuild and swap on change."""
    reloader = Reloader(Path(config_path), server)
    reloader.start()
    return reloader
