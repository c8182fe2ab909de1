"""ACME (RFC 8555) for gateway: an HTTP-01 responder the app consults, an issuer built on the
`acme` and `josepy` libraries (the extra `gateway[acme]`), and a renewal manager that runs
the blocking network calls in a background thread and swaps certificates in for new handshakes."""
