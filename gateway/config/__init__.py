"""gateway.config: gateway.toml -> GatewayConfig (validated *Spec dataclasses), and back."""
