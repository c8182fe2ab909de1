"""gateway.http: HTTP/1.1 framing without I/O. Bytes in, events out (parser);
response heads and chunks out as bytes (writer). Never touches a socket, file or clock."""
