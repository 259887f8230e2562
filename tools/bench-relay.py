#!/usr/bin/env python3
"""tools/bench-relay.py - helpers of tools/bench-relay.sh (standard library only).

  bench-relay.py st-pair HOST PORT CERT_DIR N_MIB RELAY_BENCH
      Two endpoints meet through a Syncthing relay (strelaysrv) at HOST:PORT,
      Relay Protocol v1: B (CERT_DIR/b.*) joins the relay over TLS (ALPN
      bep-relay) with a JoinRelayRequest; A (CERT_DIR/a.*) asks for B's device
      ID (SHA-256 of B's certificate) with a ConnectRequest; both get a
      SessionInvitation, open a plain TCP connection each to the relay and
      join the session (JoinSessionRequest with their key). The two session
      sockets then go to `RELAY_BENCH fds CERT_DIR FD_A FD_B N_MIB`, which runs
      TLS between them with the same certificates and moves the bytes (the
      same ends as `relay-bench direct`). Its output is printed as is.
  bench-relay.py summary FILE.jsonl
      The table of the interleaved rounds: medians (min-max) per mode.
"""
import hashlib
import json
import socket
import ssl
import statistics
import struct
import subprocess
import sys

MAGIC = 0x9E79BC40
(PING, PONG, JOIN_RELAY, JOIN_SESSION, RESPONSE, CONNECT, INVITATION, RELAY_FULL) = range(8)


def xdr_opaque(b):
    return struct.pack(">I", len(b)) + b + b"\0" * (-len(b) % 4)


def send_msg(sock, mtype, payload=b""):
    sock.sendall(struct.pack(">IiI", MAGIC, mtype, len(payload)) + payload)


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("the relay closed the connection")
        buf += chunk
    return buf


def recv_msg(sock):
    magic, mtype, length = struct.unpack(">IiI", recv_exact(sock, 12))
    if magic != MAGIC or length > 1024:
        raise ValueError("not a relay message")
    return mtype, recv_exact(sock, length)


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def u32(self):
        (v,) = struct.unpack_from(">I", self.data, self.pos)
        self.pos += 4
        return v

    def opaque(self):
        n = self.u32()
        v = self.data[self.pos:self.pos + n]
        self.pos += n + (-n % 4)
        return v


def response(payload):
    r = Reader(payload)
    return r.u32(), r.opaque().decode()


def invitation(payload):
    r = Reader(payload)
    frm, key, addr = r.opaque(), r.opaque(), r.opaque()
    port = r.u32()  # an XDR uint16 takes 4 bytes
    server = r.u32() != 0
    return {"from": frm, "key": key, "address": addr, "port": port, "server": server}


def protocol_conn(host, port, cert_dir, name):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # The relay's certificate is its own self-signed one; nothing here depends on it.
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(f"{cert_dir}/{name}.crt", f"{cert_dir}/{name}.key")
    ctx.set_alpn_protocols(["bep-relay"])
    return ctx.wrap_socket(socket.create_connection((host, port), timeout=30))


def wait_for(sock, wanted):
    """The next message of type wanted; pings are answered on the way."""
    while True:
        mtype, payload = recv_msg(sock)
        if mtype == wanted:
            return payload
        if mtype == PING:
            send_msg(sock, PONG)
        elif mtype != PONG:
            raise ValueError(f"unexpected message {mtype}: {payload!r}")


def join_session(host, inv, relay_port):
    addr = inv["address"]
    ip = socket.inet_ntoa(addr[-4:]) if len(addr) in (4, 16) and any(addr) else host
    s = socket.create_connection((ip, inv["port"] or relay_port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    send_msg(s, JOIN_SESSION, xdr_opaque(inv["key"]))
    code, text = response(wait_for(s, RESPONSE))
    if code != 0:
        raise ValueError(f"join session: {code} {text}")
    return s


def st_pair(host, port, cert_dir, mib, tool):
    port = int(port)
    with open(f"{cert_dir}/b.crt") as f:
        b_id = hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).digest()
    # B's protocol connection stays open for the whole transfer: the relay
    # drops B's sessions when it closes.
    b = protocol_conn(host, port, cert_dir, "b")
    send_msg(b, JOIN_RELAY)
    code, text = response(wait_for(b, RESPONSE))
    if code != 0:
        raise ValueError(f"join relay: {code} {text}")
    a = protocol_conn(host, port, cert_dir, "a")
    send_msg(a, CONNECT, xdr_opaque(b_id))
    a_inv = invitation(wait_for(a, INVITATION))
    a.close()
    b_inv = invitation(wait_for(b, INVITATION))
    if a_inv["server"] or not b_inv["server"]:
        raise ValueError("invitations with unexpected roles")
    sa = join_session(host, a_inv, port)
    sb = join_session(host, b_inv, port)
    sa.settimeout(None)
    sb.settimeout(None)
    fa, fb = sa.fileno(), sb.fileno()
    rc = subprocess.run([tool, "fds", cert_dir, str(fa), str(fb), str(mib)],
                        pass_fds=(fa, fb), check=False).returncode
    sa.close()
    sb.close()
    b.close()
    return rc


def fmt(values, digits):
    if not values:
        return "—"
    med = statistics.median(values)
    return f"{med:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def summary(path):
    rows = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            rows.setdefault(r["mode"], []).append(r)
    head = ["mode", "MiB/s", "relay CPU ms/MiB", "relay RSS MiB (peak)",
            "endpoints CPU ms/MiB"]
    out = [head]
    for mode, rs in rows.items():
        mib = [r["bytes"] / (1 << 20) for r in rs]
        relay = [r["relay_cpu_ms"] / m for r, m in zip(rs, mib) if r.get("relay_cpu_ms") is not None]
        rss = [r["relay_hwm_kib"] / 1024 for r in rs if r.get("relay_hwm_kib") is not None]
        ends = [r["cpu_ms"] / m for r, m in zip(rs, mib)]
        out.append([mode, fmt([r["mib_s"] for r in rs], 0), fmt(relay, 2), fmt(rss, 1),
                    fmt(ends, 2)])
    widths = [max(len(row[i]) for row in out) for i in range(len(head))]
    for i, row in enumerate(out):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def main():
    args = sys.argv[1:]
    if len(args) == 6 and args[0] == "st-pair":
        sys.exit(st_pair(*args[1:]))
    if len(args) == 2 and args[0] == "summary":
        summary(args[1])
        return
    sys.exit(__doc__)


if __name__ == "__main__":
    main()
