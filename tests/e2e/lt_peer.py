#!/usr/bin/python3
"""lt_peer.py - libtorrent (python3-libtorrent) as the other client of interop tests.

  lt_peer.py seed FILE --listen IP --torrent-out PATH     creates a .torrent of FILE, seeds it
  lt_peer.py seed FILE --listen IP --torrent-in PATH      seeds FILE with a given .torrent
      (either seed: --upload-rate BYTES_PER_S)
  lt_peer.py get SOURCE --dest DIR --listen IP [--peer IP:PORT]... [--timeout S]

SOURCE is a .torrent file or a magnet. seed prints "port N" and "info_hash H" and runs
until killed; get prints "done SECONDS BYTES MB/s" once it seeds, or exits 1 at the
timeout. DHT, LSD, UPnP, NAT-PMP and PEX are off: no traffic leaves loopback.
"""
import argparse
import sys
import time

import libtorrent as lt


def session(listen_ip):
    settings = {
        "listen_interfaces": f"{listen_ip}:0",
        "outgoing_interfaces": listen_ip,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        # BitTorrent over TCP: the wire we speak (libtorrent tries uTP first otherwise).
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "alert_mask": lt.alert.category_t.error_notification
        | lt.alert.category_t.status_notification,
    }
    # No default plugins: ut_pex stays out; ut_metadata is what magnets need.
    ses = lt.session(settings, flags=0)
    ses.add_extension("ut_metadata")
    return ses


def wait_port(ses):
    for _ in range(200):
        if ses.listen_port() > 0:
            return ses.listen_port()
        time.sleep(0.05)
    sys.exit("lt_peer: no listen port")


def seed(args):
    ses = session(args.listen)
    if args.torrent_in:
        info = lt.torrent_info(args.torrent_in)
    else:
        fs = lt.file_storage()
        lt.add_files(fs, args.file)
        ct = lt.create_torrent(fs)
        lt.set_piece_hashes(ct, __import__("os").path.dirname(args.file))
        data = lt.bencode(ct.generate())
        with open(args.torrent_out, "wb") as f:
            f.write(data)
        info = lt.torrent_info(args.torrent_out)
    h = ses.add_torrent({"ti": info, "save_path": __import__("os").path.dirname(args.file),
                         "flags": lt.torrent_flags.seed_mode})
    # The torrent's own limit: the session's spares peers on the local network.
    h.set_upload_limit(args.upload_rate)
    print(f"port {wait_port(ses)}", flush=True)
    # libtorrent 2 makes hybrid (v1 + v2) torrents: the v1 info hash is the one we speak.
    print(f"info_hash {info.info_hashes().v1}", flush=True)
    while True:
        time.sleep(1)


def get(args):
    ses = session(args.listen)
    if args.source.startswith("magnet:"):
        params = lt.parse_magnet_uri(args.source)
        params.save_path = args.dest
    else:
        params = {"ti": lt.torrent_info(args.source), "save_path": args.dest}
    h = ses.add_torrent(params)
    start = time.time()
    for p in args.peer:
        ip, port = p.rsplit(":", 1)
        h.connect_peer((ip, int(port)))
    last = 0.0
    while time.time() - start < args.timeout:
        s = h.status()
        if s.is_seeding:
            t = time.time() - start
            size = s.total_wanted
            print(f"done {t:.3f} {size} {size / 1e6 / t:.1f}", flush=True)
            return 0
        if time.time() - last > 1:
            last = time.time()
            print(f"lt_peer: {s.state} {s.progress * 100:.1f}% peers {s.num_peers} "
                  f"{s.download_rate / 1e6:.1f} MB/s", file=sys.stderr, flush=True)
            for p in args.peer:
                ip, port = p.rsplit(":", 1)
                h.connect_peer((ip, int(port)))
        for a in ses.pop_alerts():
            if a.category() & lt.alert.category_t.error_notification:
                print(f"lt_peer: {a.message()}", file=sys.stderr, flush=True)
        time.sleep(0.05)
    print("lt_peer: timed out", file=sys.stderr)
    return 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("file")
    s.add_argument("--listen", required=True)
    out = s.add_mutually_exclusive_group(required=True)
    out.add_argument("--torrent-out")
    out.add_argument("--torrent-in")
    s.add_argument("--upload-rate", type=int, default=0, help="bytes/s; 0: no limit")
    g = sub.add_parser("get")
    g.add_argument("source")
    g.add_argument("--dest", required=True)
    g.add_argument("--listen", required=True)
    g.add_argument("--peer", action="append", default=[])
    g.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()
    if args.cmd == "seed":
        seed(args)
        return 0
    return get(args)


if __name__ == "__main__":
    sys.exit(main())
