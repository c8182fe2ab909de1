"""The reverse proxy: upstream config, load balancing, health, the header policy and the
HTTP/1.1 client that streams a request to an upstream server and its response back."""

# gateway.config reads the proxy's keys (gateway.proxy.config) and the proxy's specs use
# gateway.config.schema: loading the config package first makes either import order work.
import gateway.config  # noqa: F401
