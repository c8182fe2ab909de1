"""gateway: a declarative static-and-API gateway. One gateway.toml; a fast HTTP/1.1 server
for its public/ folder, Python API handlers and CORS rules, reloaded as you edit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from gateway.errors import ConfigError, GatewayError, HTTPError
from gateway.request import Request
from gateway.response import FileBody, Response, Switch

if TYPE_CHECKING:
    from gateway.app import App

__all__ = [
    "App",
    "ConfigError",
    "FileBody",
    "GatewayError",
    "HTTPError",
    "Request",
    "Response",
    "Switch",
    "__version__",
    "load_config",
]


def load_config(path: str) -> Any:
    """Read and validate a gateway.toml (see gateway.config.load.load_config)."""
    from gateway.config.load import load_config as _load

    return _load(path)


def __getattr__(name: str) -> Any:
    if name == "App":
        from gateway.app import App

        return App
    raise AttributeError(name)
