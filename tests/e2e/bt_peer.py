#!/usr/bin/python3
"""bt_peer.py - a hostile BitTorrent peer (BEP 3, 9, 10) for the agent's bad-input tests.

  bt_peer.py serve TORRENT --listen IP --port-file PATH --mode MODE [--delay S]
      a seeder of TORRENT that answers metadata requests (BEP 9) with the true info
      dictionary and every block request with bytes that fail the piece's SHA-1
      (corrupt) or never (mute), or that offers metadata_size 9 MiB in its extension handshake
      (big-metadata), or whose metadata is the info dictionary with one byte
      changed (lying-metadata). Writes its port to PATH, prints one line per event
      ("connection IP:PORT", "request I B L", "metadata request N", "closed").
  bt_peer.py webseed FILE --listen IP --port-file PATH
      an HTTP server (Range, 206) whose every path serves FILE's size in bytes
      that are not FILE's: a web seed lying about the content. Prints "GET PATH RANGE".
  bt_peer.py request IP PORT INFO_HASH --bind IP --kind KIND [--file FILE --piece-length N]
      dials a seeder, handshakes, says interested and sends one request of KIND:
      out-of-range (a piece past the last), big-block (32 KiB), beyond-piece (a
      block crossing its piece's end), huge-message (a length prefix of 2 GiB),
      have-out-of-range (a have past the last piece), valid (block 0 of piece 0:
      waits for the unchoke and checks the bytes against FILE). Prints "closed" when the seeder
      closes the session, "open" when it does not within 5 s, "block ok" or
      "block bad" for valid.
"""
import argparse
import hashlib
import http.server
import os
import socket
import struct
import sys
import threading
import time

PSTR = b"\x13BitTorrent protocol"
UT_METADATA = 3  # the id we ask peers to use for ut_metadata messages to us
MD_PIECE = 16384


def bdecode(b, i=0):
    """(value, end) of the bencoded value at b[i:]; dicts keep their keys as bytes."""
    c = b[i:i + 1]
    if c == b"i":
        j = b.index(b"e", i)
        return int(b[i + 1:j]), j + 1
    if c == b"l":
        out, i = [], i + 1
        while b[i:i + 1] != b"e":
            v, i = bdecode(b, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        out, i = {}, i + 1
        while b[i:i + 1] != b"e":
            k, i = bdecode(b, i)
            v, i = bdecode(b, i)
            out[k] = v
        return out, i + 1
    j = b.index(b":", i)
    n = int(b[i:j])
    return b[j + 1:j + 1 + n], j + 1 + n


def bencode(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    return b"d" + b"".join(bencode(k) + bencode(v[k]) for k in sorted(v)) + b"e"


def info_bytes(torrent):
    """The info dictionary's bytes exactly as the .torrent has them."""
    data = open(torrent, "rb").read()
    i = data.index(b"4:infod") + 6
    _, end = bdecode(data, i)
    return data[i:end]


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def recv_msg(s):
    (n,) = struct.unpack(">I", recv_exact(s, 4))
    if n > 1 << 20:
        raise EOFError
    return recv_exact(s, n) if n else b""


def send_msg(s, mid, body=b""):
    s.sendall(struct.pack(">IB", 1 + len(body), mid) + body)


def say(*words):
    print(*words, flush=True)


def serve_one(s, addr, args, info, ih, npieces):
    say(f"connection {addr[0]}:{addr[1]}")
    try:
        hs = recv_exact(s, 68)
        if hs[:20] != PSTR or hs[28:48] != ih:
            say("handshake refused")
            return
        s.sendall(PSTR + b"\0\0\0\0\0\x10\0\0" + ih + b"-XB0001-" + os.urandom(12))
        size = 9 << 20 if args.mode == "big-metadata" else len(info)
        send_msg(s, 20, b"\0" + bencode({"m": {"ut_metadata": UT_METADATA},
                                         "metadata_size": size, "v": "bt_peer"}))
        bf = bytearray((npieces + 7) // 8)
        for p in range(npieces):
            bf[p // 8] |= 0x80 >> (p % 8)
        send_msg(s, 5, bytes(bf))
        send_msg(s, 1)  # unchoke
        their_md = 0
        while True:
            m = recv_msg(s)
            if not m:
                continue
            if m[0] == 6:
                index, begin, length = struct.unpack(">III", m[1:13])
                say(f"request {index} {begin} {length}")
                if args.mode == "mute":
                    continue
                time.sleep(args.delay)
                send_msg(s, 7, struct.pack(">II", index, begin) + b"\xa5" * length)
            elif m[0] == 20 and m[1] == 0:
                d, _ = bdecode(m[2:])
                their_md = d.get(b"m", {}).get(b"ut_metadata", 0)
            elif m[0] == 20 and m[1] == UT_METADATA:
                d, _ = bdecode(m[2:])
                piece = d.get(b"piece", 0)
                say(f"metadata request {piece}")
                chunk = info[piece * MD_PIECE:(piece + 1) * MD_PIECE]
                if args.mode == "lying-metadata" and piece == 0:
                    # a byte inside the name's string: still bencode, another dictionary
                    at = info.index(b":", info.index(b"4:name") + 6) + 1
                    chunk = chunk[:at] + bytes([chunk[at] ^ 1]) + chunk[at + 1:]
                if args.mode == "big-metadata" or not chunk or not their_md:
                    send_msg(s, 20, bytes([their_md]) + bencode({"msg_type": 2, "piece": piece}))
                else:
                    send_msg(s, 20, bytes([their_md]) + bencode(
                        {"msg_type": 1, "piece": piece, "total_size": len(info)}) + chunk)
    except (EOFError, OSError):
        pass
    finally:
        say("closed")
        s.close()


def serve(args):
    info = info_bytes(args.torrent)
    ih = hashlib.sha1(info).digest()
    d, _ = bdecode(info)
    total = d[b"length"] if b"length" in d else sum(f[b"length"] for f in d[b"files"])
    plen = d[b"piece length"]
    npieces = (total + plen - 1) // plen
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((args.listen, 0))
    srv.listen(8)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    while True:
        s, addr = srv.accept()
        threading.Thread(target=serve_one, args=(s, addr, args, info, ih, npieces),
                         daemon=True).start()


def webseed(args):
    size = os.path.getsize(args.file)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            rng = self.headers.get("Range", "")
            say(f"GET {self.path} {rng}")
            first, last = 0, size - 1
            if rng.startswith("bytes="):
                a, _, b = rng[6:].partition("-")
                first, last = int(a), min(int(b) if b else size - 1, size - 1)
            body = b"\x5a" * (last - first + 1)
            self.send_response(206 if rng else 200)
            if rng:
                self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer((args.listen, 0), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


def request(args):
    ih = bytes.fromhex(args.info_hash)
    s = socket.socket()
    s.bind((args.bind, 0))
    s.settimeout(15)
    s.connect((args.ip, args.port))
    s.sendall(PSTR + b"\0" * 8 + ih + b"-XB0001-" + os.urandom(12))
    try:
        hs = recv_exact(s, 68)
    except (EOFError, OSError):
        say("closed")
        return 0
    if hs[28:48] != ih:
        sys.exit("bt_peer: the seeder answered another info hash")
    send_msg(s, 2)  # interested
    plen = args.piece_length or 16384
    kinds = {
        "out-of-range": (1 << 20, 0, 16384),
        "big-block": (0, 0, 32768),
        "beyond-piece": (0, plen - 1000, 2000),
        "valid": (0, 0, 16384),
    }
    raw = {
        "huge-message": struct.pack(">IB", 0x7FFFFFFF, 7) + b"\0" * 64,
        "have-out-of-range": struct.pack(">IBI", 5, 4, 1 << 20),
    }
    deadline = time.time() + 15
    if args.kind in raw:
        s.sendall(raw[args.kind])
    elif args.kind == "valid":
        while time.time() < deadline:  # requests of a choked peer are dropped (BEP 3)
            m = recv_msg(s)
            if m[:1] == b"\x01":
                break
    if args.kind not in raw:
        index, begin, length = kinds[args.kind]
        send_msg(s, 6, struct.pack(">III", index, begin, length))
    s.settimeout(5)
    try:
        while True:
            m = recv_msg(s)
            if args.kind == "valid" and m[:1] == b"\x07":
                want = open(args.file, "rb").read(16384)
                say("block ok" if m[9:] == want else "block bad")
                return 0
    except socket.timeout:
        say("open")
    except (EOFError, OSError):
        say("closed")
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("torrent")
    s.add_argument("--listen", required=True)
    s.add_argument("--port-file", required=True)
    s.add_argument("--mode", choices=["corrupt", "mute", "big-metadata", "lying-metadata"], required=True)
    s.add_argument("--delay", type=float, default=0, help="seconds before each block sent")
    w = sub.add_parser("webseed")
    w.add_argument("file")
    w.add_argument("--listen", required=True)
    w.add_argument("--port-file", required=True)
    r = sub.add_parser("request")
    r.add_argument("ip")
    r.add_argument("port", type=int)
    r.add_argument("info_hash")
    r.add_argument("--bind", required=True)
    r.add_argument("--kind", required=True,
                   choices=["out-of-range", "big-block", "beyond-piece", "huge-message",
                            "have-out-of-range", "valid"])
    r.add_argument("--file")
    r.add_argument("--piece-length", type=int)
    args = ap.parse_args()
    return {"serve": serve, "webseed": webseed, "request": request}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
