"""The gateway command: serve, check, routes, init. Each subcommand is a small function;
config errors print one line each (file:line: key: message) and exit with status 1."""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
from collections.abc import Iterable
from pathlib import Path

from gateway import __version__
from gateway.app import App, all_issues, build_app
from gateway.cli_args import OneLineParser as _OneLineParser
from gateway.cli_args import counted, listen_address, with_reload, worker_count
from gateway.config.env import default_config_path, render_env
from gateway.config.load import load_config
from gateway.config.report import format_issues
from gateway.config.write import init_site
from gateway.devaccess import startup_warning
from gateway.errors import ConfigError, ConfigIssue
from gateway.server.run import serve_single
from gateway.server.workers import serve_prefork

DEFAULT_CONFIG = "gateway.toml"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "config", "") is None:
        args.config = default_config_path(os.environ)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    result: int = args.func(args)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="gateway", description="A declarative static-and-API gateway: one gateway.toml."
    )
    parser.add_argument("--version", action="version", version=f"gateway {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve gateway.toml")
    _config_arg(serve)
    serve.add_argument(
        "--listen",
        action="append",
        type=listen_address,
        metavar="HOST:PORT",
        help="listen here instead of [server] listen (repeatable)",
    )
    serve.add_argument(
        "--workers", type=worker_count, metavar="N", help="prefork N worker processes"
    )
    serve.add_argument(
        "--reload",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="rebuild on changes (default: [dev] reload)",
    )
    serve.set_defaults(func=cmd_serve)

    check = sub.add_parser("check", help="validate gateway.toml and print every error")
    _config_arg(check)
    check.add_argument(
        "--show-env",
        action="store_true",
        help="list the config values set from environment variables (secrets masked)",
    )
    check.set_defaults(func=cmd_check)

    routes = sub.add_parser("routes", help="print the compiled route table")
    _config_arg(routes)
    routes.add_argument("--json", action="store_true", help="print JSON instead of a table")
    routes.set_defaults(func=cmd_routes)

    trust = sub.add_parser("trust", help="show (or --install) the local CA of [tls] local")
    trust.add_argument("--install", action="store_true", help="add it to the system store")
    trust.set_defaults(func=cmd_trust)
    reload = sub.add_parser(
        "reload", help="tell the running gateway to re-read gateway.toml (SIGHUP)"
    )
    _config_arg(reload)
    reload.set_defaults(func=cmd_reload)

    init = sub.add_parser("init", help="write a starter gateway.toml, public/ and api/")
    init.add_argument("dir", nargs="?", default=".", help="where to write (default: .)")
    init.set_defaults(func=cmd_init)
    return parser


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        "-c",
        default=None,
        metavar="FILE",
        help=f"the config file (default: $GATEWAY_CONFIG, else {DEFAULT_CONFIG})",
    )


def _load(path: str, reload: bool | None = None) -> App | None:
    """The compiled app for `path`, or None after printing every error. `reload` (the
    --reload/--no-reload flag) is set in [dev] before the build: static files get no-cache."""
    try:
        config = with_reload(load_config(path), reload)
    except ConfigError as exc:
        partial = getattr(exc, "partial", None)  # a ConfigLoadError's validated part
        _print_issues(all_issues(exc), partial.server.root if partial is not None else None)
        return None
    except FileNotFoundError:
        print(
            f"{path}: no such file (run 'gateway init' to write a starter config)", file=sys.stderr
        )
        return None
    except OSError as exc:  # a folder, no permission: one line, not a traceback
        print(f"{path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return None
    try:
        return build_app(config)
    except ConfigError as exc:
        _print_issues(exc.issues, config.server.root)
        return None


def _print_issues(issues: Iterable[ConfigIssue], root: Path | None = None) -> None:
    """Each issue once (a module failing for several routes is one line), with its source."""
    lines = format_issues(list(issues), root)
    for line in lines:
        print(line, file=sys.stderr)
    print(f"{len(lines)} error{'s' if len(lines) != 1 else ''}", file=sys.stderr)


def cmd_check(args: argparse.Namespace) -> int:
    app = _load(args.config)
    if app is None:
        return 1
    if app.config.tls is not None:
        from gateway.tls.check import print_check

        if not print_check(app.config, app.config.server.root):
            return 1
    print(f"{args.config}: ok ({counted(app.config)})")
    if args.show_env:
        print(render_env(app.config.env))
    return 0


def cmd_trust(args: argparse.Namespace) -> int:
    from gateway.tls.trust import trust_command

    return trust_command(install=args.install)


def cmd_routes(args: argparse.Namespace) -> int:
    app = _load(args.config)
    if app is None:
        return 1
    rows = [
        {
            "host": r.host,
            "methods": r.methods,
            "pattern": r.pattern,
            "target": r.target,
            "cors": r.cors,
        }
        for r in app.rows
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = {
        "host": "HOST",
        "methods": "METHODS",
        "pattern": "PATTERN",
        "target": "TARGET",
        "cors": "CORS",
    }
    table = [header, *rows]
    widths = {k: max(len(str(row[k])) for row in table) for k in header}
    for row in table:
        print("  ".join(str(row[k]).ljust(widths[k]) for k in header).rstrip())
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    try:
        written = init_site(Path(args.dir))
    except FileExistsError as exc:
        print(f"gateway init: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    config = Path(args.dir) / "gateway.toml"
    print(f"next: gateway serve --config {config}")
    return 0


def cmd_reload(args: argparse.Namespace) -> int:
    from gateway.server.signals import reload_running

    return reload_running(args.config)


def cmd_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    app = _load(args.config, args.reload)
    if app is None:
        return 1
    listen = args.listen or list(app.config.server.listen)
    tls_listen = app.config.tls.listen if app.config.tls is not None else ()
    for address in args.listen or ():
        if address in tls_listen:
            print(
                f"gateway serve: --listen {address!r} is also in [tls] listen: an address"
                " speaks either http or https; give --listen another port",
                file=sys.stderr,
            )
            return 1
    workers = args.workers or app.config.server.workers
    reload = app.config.dev.reload
    warning = startup_warning(app.config, listen, reload)
    if warning is not None:
        print(warning, file=sys.stderr)
    if workers > 1:
        return serve_prefork(args.config, app, listen, workers, reload)
    if "gateway-slot-" in os.environ.get("LISTEN_FDNAMES", ""):
        from gateway.activation import ActivationError

        try:
            sockets = _first_slot()
        except ActivationError as exc:
            print(f"gateway: {exc}", file=sys.stderr)
            return 1
        return serve_single(args.config, app, listen, reload, sockets=sockets)
    return serve_single(args.config, app, listen, reload)


def _first_slot() -> list[socket.socket] | None:
    """Upgraded (SIGUSR2) from a prefork gateway to one process: serve slot 0's sockets and
    close the other slots' (their queues go when the old workers close theirs too)."""
    from gateway.activation import inherited_sockets
    from gateway.server.slots import Slots

    slots = Slots.from_handed(inherited_sockets())
    slots.truncate(1)
    return slots.group(0) if slots.groups else None


if __name__ == "__main__":
    sys.exit(main())
