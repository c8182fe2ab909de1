"""Running one server process: listen, announce, start the reloader when asked, install
the signal handlers and serve until told to stop. `gateway serve` and each prefork worker
call serve_single."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from gateway import __version__
from gateway.app import App
from gateway.reload import Reloader
from gateway.server.serve import Server
from gateway.server.stopping import dev_modes, stop_on_signals


def serve_single(
    config_path: str,
    app: App,
    listen: list[str],
    reload: bool,
    reuse_port: bool = False,
    announce: bool = True,
    renew: bool = True,
    tls_listen: list[str] | None = None,
    tls_site: Any = None,
) -> int:
    """Serve `app` in this process until SIGINT/SIGTERM; the exit status. With [tls]:
    `renew` runs ACME renewals here; `tls_listen` are the TLS addresses a prefork master
    bound (default: [tls] listen); `tls_site` the TlsSite it built (default: build one)."""
    server = Server(app, listen=listen, reuse_port=reuse_port)
    tls = None
    if app.config.tls is not None:
        from gateway.tls.serving import BUILD_ERRORS, TlsServing, build_site

        try:
            site = tls_site if tls_site is not None else build_site(app.config)
            tls = TlsServing(server, site, renew, tls_listen)
        except BUILD_ERRORS as exc:
            print(f"gateway: [tls]: {exc}", file=sys.stderr)
            return 1
    try:
        addresses = server.listen(listen)
    except OSError as exc:
        wanted = ", ".join([*listen, *server.extra_listen])
        print(f"gateway: cannot listen on {wanted}: {exc.strerror}", file=sys.stderr)
        return 1
    if tls is not None:
        tls.bound(addresses[len(addresses) - len(server.extra_listen) :])
    if announce:
        for address in addresses:
            scheme = tls.scheme(address) if tls is not None else "http"
            print(
                f"gateway {__version__} serving {config_path} at {scheme}://{address}/ "
                f"({dev_modes(app.config.dev, reload)})",
                file=sys.stderr,
            )
    reloader = start_reloader(config_path, server) if reload else None
    stop_on_signals(server)
    try:
        server.serve_forever()
    finally:
        if reloader is not None:
            reloader.stop()
    if announce:
        print("gateway stopped", file=sys.stderr)
    return 0


def start_reloader(config_path: str, server: Server) -> Reloader:
    """Watch the config, handler modules and served files; rebuild and swap on change."""
    reloader = Reloader(Path(config_path), server)
    reloader.start()
    return reloader
