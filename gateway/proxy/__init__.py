"""The reverse proxy: upstream config, load balancing, health, the header policy and the
HTTP/1.1 client that streams a request to an upstream server and its response back."""
