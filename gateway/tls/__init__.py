"""HTTPS for gateway: the [tls] config table, certificates and SNI contexts, the TLS layer
between a socket transport and the HTTP protocol, a local CA for development and ACME.
Modules that need `cryptography` or `acme` import them themselves; this package does not."""
