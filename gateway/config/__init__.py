"""gateway.config: gateway.toml -> GatewayConfig (validated *Spec dataclasses), and back.
load.py reads and checks, schema.py holds the specs, write.py writes `gateway init` files."""

from gateway.config.load import ConfigLoadError, load_config, parse_config
from gateway.config.schema import GatewayConfig

__all__ = ["ConfigLoadError", "GatewayConfig", "load_config", "parse_config"]
