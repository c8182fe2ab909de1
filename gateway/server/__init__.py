"""gateway.server: the only code that owns sockets. One selectors loop per process
(loop.py), one Conn per client connection (conn.py), prefork workers (workers.py)."""
