#!/usr/bin/python3
"""tests/e2e/circuit_records.py CAPTURE PORT NEEDLE... - what a relay's circuits carry bare.

After joined a circuit's connections leave the outer TLS: each direction of
a connection to the relay's PORT is the outer TLS's records, then (circuits
only) the inner TLS's, bare. This reassembles every direction from a loopback
capture, walks its TLS records and takes the inner session to start at the
first handshake record after an application data record. For the inner
records it checks what an observer of the wire may see: only a ClientHello
or ServerHello in clear (so no certificate), a TLS 1.3 ServerHello, nothing
but application data records after the first one, framing unbroken to the
end; and it counts the directions whose inner bytes hold each needle. Where
the capture lost packets (dumpcap drops some of loopback's 64 KiB segments
under load) the records are walked up to the first gap and the needles
searched in every byte captured. Prints one JSON object; "problems" lists
what failed.
"""
import json
import subprocess
import sys

capture, port, needles = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA = 20, 21, 22, 23
CLIENT_HELLO, SERVER_HELLO = 1, 2
SUPPORTED_VERSIONS, TLS13 = 43, 0x0304

out = subprocess.run(
    ["tshark", "-r", capture, "--disable-protocol", "tls", "-Y", f"tcp.port == {port} and tcp.len > 0",
     "-T", "fields", "-e", "tcp.stream", "-e", "tcp.dstport", "-e", "tcp.seq", "-e", "tcp.payload"],
    check=True, capture_output=True, text=True).stdout

segments = {}
for line in out.splitlines():
    stream, dst, seq, payload = line.split("\t")
    key = (int(stream), "to relay" if int(dst) == port else "from relay")
    segments.setdefault(key, []).append((int(seq), bytes.fromhex(payload)))

problems = []


def reassemble(segs):
    """The direction's bytes as contiguous pieces, split where the capture has a gap."""
    pieces, data, end = [], bytearray(), None
    for seq, p in sorted(segs, key=lambda s: s[0]):
        if end is None:
            end = seq
        if seq > end:
            pieces.append(bytes(data))
            data, end = bytearray(), seq
        data += p[end - seq:]
        end = max(end, seq + len(p))
    return pieces + [bytes(data)]


def records(key, b, whole):
    """The records of b; a last one cut short is a problem unless b ends at a gap."""
    pos, recs = 0, []
    while pos + 5 <= len(b):
        ctype, length = b[pos], int.from_bytes(b[pos + 3:pos + 5], "big")
        if ctype not in (CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA):
            problems.append(f"stream {key[0]} {key[1]}: not a TLS record at byte {pos}")
            break
        if pos + 5 + length > len(b) and whole:
            problems.append(f"stream {key[0]} {key[1]}: a record cut short at byte {pos}")
        recs.append((ctype, b[pos + 5:pos + 5 + length]))
        pos += 5 + length
    return recs


def server_hello_version(body):
    """The version a ServerHello's supported_versions names, or None."""
    p = 4 + 2 + 32
    p += 1 + body[p]
    p += 2 + 1
    ext_end = p + 2 + int.from_bytes(body[p:p + 2], "big")
    p += 2
    while p + 4 <= ext_end:
        etype, elen = int.from_bytes(body[p:p + 2], "big"), int.from_bytes(body[p + 2:p + 4], "big")
        if etype == SUPPORTED_VERSIONS:
            return int.from_bytes(body[p + 4:p + 6], "big")
        p += 4 + elen
    return None


report = {"directions": len(segments), "gaps": 0, "circuit_connections": 0, "inner_records": 0,
          "inner_bytes": 0,
          "client_hellos": 0, "server_hellos": 0, "tls13_server_hellos": 0,
          "found": {n: 0 for n in needles}}
inner_streams = set()
for key, segs in sorted(segments.items()):
    pieces = reassemble(segs)
    report["gaps"] += len(pieces) - 1
    recs = records(key, pieces[0], len(pieces) == 1)
    start = next((i for i in range(1, len(recs))
                  if recs[i][0] == HANDSHAKE and any(t == APPLICATION_DATA for t, _ in recs[:i])), None)
    if start is None:
        continue
    inner_streams.add(key[0])
    inner = recs[start:]
    report["inner_records"] += len(inner)
    report["inner_bytes"] += sum(5 + len(b) for _, b in inner)
    seen_data = False
    for ctype, body in inner:
        if ctype == APPLICATION_DATA:
            seen_data = True
        elif seen_data:
            problems.append(f"stream {key[0]} {key[1]}: a record of type {ctype} in clear after application data")
        elif ctype == HANDSHAKE:
            if body[0] not in (CLIENT_HELLO, SERVER_HELLO):
                problems.append(f"stream {key[0]} {key[1]}: handshake message {body[0]} in clear")
            elif body[0] == CLIENT_HELLO:
                report["client_hellos"] += 1
            else:
                report["server_hellos"] += 1
                report["tls13_server_hellos"] += server_hello_version(body) == TLS13
    raw = [b"".join(b for _, b in inner)] + pieces[1:]
    report["inner_bytes"] += sum(len(p) for p in pieces[1:])
    for n in needles:
        report["found"][n] += any(n.encode() in p for p in raw)
report["circuit_connections"] = len(inner_streams)
report["problems"] = problems
print(json.dumps(report))
