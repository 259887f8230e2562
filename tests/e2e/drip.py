"""Slow-header clients: opens N TLS connections from one source address and
sends a request's headers one byte per second. Used by test_bootstrap_slow_clients.sh.

usage: drip.py SRC_IP HOST PORT COUNT SECONDS
Prints how many connections were established, then drips until SECONDS pass.
"""
import socket
import ssl
import sys
import time


def main():
    src, host, port, count, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conns = []
    deadline = time.monotonic() + seconds
    for _ in range(count):
        try:
            raw = socket.create_connection((host, port), timeout=5, source_address=(src, 0))
            tls = ctx.wrap_socket(raw)
            tls.sendall(b"GET /api/bootstrap/peers HTTP/1.1\r\nHost: x\r\n")
            conns.append(tls)
        except OSError:
            pass
    print(len(conns), flush=True)
    while time.monotonic() < deadline and conns:
        for c in list(conns):
            try:
                c.sendall(b"X")
            except OSError:
                conns.remove(c)
        time.sleep(1)


main()
