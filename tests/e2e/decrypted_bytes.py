#!/usr/bin/python3
"""tests/e2e/decrypted_bytes.py CAPTURE KEYLOG NEEDLE... - search what TLS carried.

Runs tshark over a loopback capture with the TLS key log, collects every
byte tshark could decrypt (decrypted TLS records, their reassembly, unmasked
WebSocket payloads) and prints one JSON object: how many decrypted bytes and
TLS sessions were seen, how many were not decrypted, and for each needle the
number of decrypted sections holding it. The raw frames (encrypted, plus IP
headers) are left out: a silent agent's address may appear only there.
DECRYPT_FILTER, when set, is a tshark display filter: only the packets it
matches are searched (the connections to a relay's port, say).
"""
import json
import os
import re
import subprocess
import sys

capture, keylog, needles = sys.argv[1], sys.argv[2], sys.argv[3:]
out = subprocess.run(
    ["tshark", "-r", capture, "-o", f"tls.keylog_file:{keylog}",
     "-o", "tls.desegment_ssl_records:TRUE", "-o", "tls.desegment_ssl_application_data:TRUE",
     "-x"] + (["-2", "-Y", os.environ["DECRYPT_FILTER"]] if os.environ.get("DECRYPT_FILTER") else []),
    check=True, capture_output=True, text=True).stdout

HEX = re.compile(r"^[0-9a-f]{4,}  ((?:[0-9a-f]{2} ){1,16})")
sections, label, data = [], None, bytearray()


def close():
    if label is not None:
        sections.append((label, bytes(data)))


for line in out.splitlines():
    m = HEX.match(line)
    if m:
        data.extend(bytes.fromhex(m.group(1).replace(" ", "")))
        continue
    close()
    data = bytearray()
    # tshark labels every data source but the frame itself ("Decrypted TLS (n bytes):").
    label = line.strip().rstrip(":") if line.strip() else None
    if label is not None and not re.search(r"\(\d+ bytes\)", label):
        label = None
close()

# "Frame (n bytes)" is the raw packet when a packet has several sources.
decrypted = [(l, d) for l, d in sections if l is not None and not l.startswith("Frame ")]
report = {
    "decrypted_sections": len(decrypted),
    "decrypted_bytes": sum(len(d) for _, d in decrypted),
    "labels": sorted({re.sub(r" \(\d+ bytes\)", "", l) for l, _ in decrypted}),
    "found": {n: sum(1 for _, d in decrypted if n.encode() in d) for n in needles},
}
print(json.dumps(report))
