"""What the gateway command makes of its arguments: every bad one is one line and exit
status 2 (as argparse's own errors), listen addresses checked as [server] listen is, the
--reload flag applied to [dev] before the build, and `gateway check`'s count in words."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import NoReturn

from gateway.config import values
from gateway.config.fields import Invalid
from gateway.config.schema import GatewayConfig


class OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is one line (`gateway serve: argument --listen: ...`) with
    the --help hint on it, instead of a usage block; the exit status stays 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def listen_address(text: str) -> str:
    """--listen HOST:PORT, checked as [server] listen is (a bare port is no address)."""
    try:
        return values.address(text)
    except Invalid as exc:
        raise argparse.ArgumentTypeError(_text(exc)) from None


def worker_count(text: str) -> int:
    """--workers N: a whole number from 1."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number: give 1 or more") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{number} workers: give 1 or more")
    return number


def _text(exc: Invalid) -> str:
    return "; ".join(message for _, message in exc.problems) or "invalid value"


def with_reload(config: GatewayConfig, reload: bool | None) -> GatewayConfig:
    """`config` with [dev] as --reload / --no-reload say (None: as the file says). With
    reload off there is no live reload either: nothing would tell the pages."""
    if reload is None:
        return config
    live = reload and config.dev.live_reload
    dev = dataclasses.replace(config.dev, reload=reload, live_reload=live)
    return dataclasses.replace(config, dev=dev)


def counted(config: GatewayConfig) -> str:
    """'1 route', '2 routes and 1 mount', 'no routes' for `gateway check`."""
    parts = [
        _plural(len(config.routes), "route"),
        _plural(len(config.static), "mount"),
    ]
    shown = [part for part in parts if not part.startswith("0 ")]
    return " and ".join(shown) or "no routes"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
