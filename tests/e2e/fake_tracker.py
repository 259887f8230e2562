#!/usr/bin/python3
"""fake_tracker.py PORT_FILE IP:PORT... - an HTTP tracker on 127.0.0.1 that answers every
announce with the given peers (BEP 23 compact), so a third-party client that only learns
peers from trackers (aria2c) finds the client under test. Writes its port to PORT_FILE."""
import http.server
import socket
import struct
import sys

PEERS = b"".join(socket.inet_aton(p.rsplit(":", 1)[0]) + struct.pack(">H", int(p.rsplit(":", 1)[1]))
                 for p in sys.argv[2:])


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"d8:intervali60e5:peers%d:%se" % (len(PEERS), PEERS)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1], "w") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
