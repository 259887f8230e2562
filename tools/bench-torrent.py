#!/usr/bin/python3
"""bench-torrent.py - the Python half of tools/bench-torrent.sh.

  bench-torrent.py measure --out JSON [--seeder-pid PID] [--getter-pid PID]
                           [--done-file PATH | --done-glob G]
                           [--kill-when-done] [--sample-rss PID] -- CMD...
      runs CMD (a downloader) and writes one JSON object: seconds from its start until it
      is done (PATH or a match of G appears, when given: the agent renames its .part file
      once the file is complete and verified; else CMD's exit; --kill-when-done ends CMD
      then), its CPU seconds and peak RSS (wait4), the seeder's CPU seconds until CMD's
      exit and peak RSS (/proc/PID), and with
      --sample-rss the highest RSS of that process seen every 5 ms. With --getter-pid, CMD
      is a command line talking to that daemon: the downloader's CPU is the daemon's over
      the span plus CMD's, its peak RSS the daemon's. CMD must exit 0.
  bench-torrent.py retrack TORRENT URL OUT   TORRENT with URL as its only tracker, to OUT.
  bench-torrent.py lt-seed TORRENT --save DIR --listen IP
      libtorrent seeds TORRENT from DIR (seed mode: no check first, each piece hashed on its
      first upload); prints "port N" once it seeds (and its tracker, if any, has answered),
      runs until killed.
  bench-torrent.py lt-get TORRENT --dest DIR --listen IP --peer IP:PORT [--timeout S]
      libtorrent downloads TORRENT from the peer; exits 0 once every piece is verified.
  bench-torrent.py rss PID    prints the RSS of PID now.
  bench-torrent.py summary transfers|hashing JSONL [BYTES]
      the Markdown tables of docs/performance.md: medians with ranges.

libtorrent runs with DHT, LSD, UPnP, NAT-PMP and PEX off (no default plugins), TCP only,
plain connections (encryption neither required nor tried), listening on IP only.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    """CPU seconds (user + system) of a live process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def proc_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def measure(args):
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    seed_cpu0 = proc_cpu(args.seeder_pid) if args.seeder_pid else 0.0
    get_cpu0 = proc_cpu(args.getter_pid) if args.getter_pid else 0.0
    sampled = 0
    start = time.monotonic()
    child = subprocess.Popen(cmd)
    done = None
    while True:
        pid, status, ru = os.wait4(child.pid, os.WNOHANG)
        now = time.monotonic()
        if args.sample_rss:
            sampled = max(sampled, proc_rss_kib(args.sample_rss))
        if done is None and (pid != 0 or (args.done_file and os.path.exists(args.done_file))
                             or (args.done_glob and glob.glob(args.done_glob))):
            done = now
            if args.kill_when_done and pid == 0:
                # A process that runs on (a seeder): done, so it is ended.
                child.terminate()
        if pid != 0:
            break
        time.sleep(0.005)
    code = os.waitstatus_to_exitcode(status)
    if args.kill_when_done and code == -15:
        code = 0
    # CPU times of the other processes are read once they are idle again: the kernel
    # brings a running task's account up to date only now and then (the agent's
    # SHA-256 pass showed up 200 ms late), and nothing runs after the transfer.
    time.sleep(0.05)
    result = {
        "seconds": round(done - start, 3),
        "exit_seconds": round(now - start, 3),
        "exit_code": code,
        "dl_cpu": round(ru.ru_utime + ru.ru_stime, 3),
        "dl_rss_kib": ru.ru_maxrss,
    }
    if args.getter_pid:
        # CMD is the daemon's command line: the work and the memory are the daemon's.
        result["cli_cpu"] = result["dl_cpu"]
        result["dl_cpu"] = round(proc_cpu(args.getter_pid) - get_cpu0 + result["cli_cpu"], 3)
        result["dl_rss_kib"] = proc_hwm_kib(args.getter_pid)
    if args.seeder_pid:
        result["seed_cpu"] = round(proc_cpu(args.seeder_pid) - seed_cpu0, 3)
        result["seed_rss_kib"] = proc_hwm_kib(args.seeder_pid)
    if args.sample_rss:
        result["sampled_rss_kib"] = sampled
    with open(args.out, "w") as f:
        json.dump(result, f)
        f.write("\n")
    return 0 if code == 0 else 1


def median_range(values, fmt):
    v = sorted(values)
    n = len(v)
    med = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
    if n == 1:
        return fmt(med)
    return f"{fmt(med)} ({fmt(v[0])}–{fmt(v[-1])})"


def load(path):
    rows = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            rows.setdefault(r["name"], []).append(r)
    return rows


def mib(kib):
    return f"{kib / 1024:.0f}"


def summary_transfers(path):
    print("| transfer | seconds | MB/s | returns, s | downloader CPU s | seeder CPU s "
          "| downloader peak RSS MiB | seeder peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for name, rs in load(path).items():
        cols = [
            median_range([r["seconds"] for r in rs], lambda x: f"{x:.2f}"),
            median_range([r["bytes"] / 1e6 / r["seconds"] for r in rs], lambda x: f"{x:.0f}"),
            median_range([r["exit_seconds"] for r in rs], lambda x: f"{x:.2f}"),
            median_range([r["dl_cpu"] for r in rs], lambda x: f"{x:.2f}"),
            median_range([r["seed_cpu"] for r in rs], lambda x: f"{x:.2f}"),
            median_range([r["dl_rss_kib"] for r in rs], mib),
            median_range([r["seed_rss_kib"] for r in rs], mib),
        ]
        print(f"| {name} | " + " | ".join(cols) + " |")


def summary_hashing(path, size):
    rows = load(path)
    print("| hashing | seconds | MB/s | CPU s |")
    print("|---|---|---|---|")
    for name, rs in rows.items():
        cols = [
            median_range([r["seconds"] for r in rs], lambda x: f"{x:.2f}"),
            median_range([size / 1e6 / r["seconds"] for r in rs], lambda x: f"{x:.0f}"),
            median_range([r["dl_cpu"] for r in rs], lambda x: f"{x:.2f}"),
        ]
        print(f"| {name} | " + " | ".join(cols) + " |")
    sha1 = [r["seconds"] for r in rows["openssl dgst -sha1"]]
    fmt = lambda x: f"{x:.2f}"
    sums = {}
    for other in ("openssl dgst -sha256", "sha256sum"):
        both = [a["seconds"] + b["seconds"] for a, b in zip(rows["openssl dgst -sha1"], rows[other])]
        sums[other] = both
        print(f"| openssl dgst -sha1 + {other} (sum of each run's pair) | {median_range(both, fmt)} | "
              f"{median_range([size / 1e6 / x for x in both], lambda x: f'{x:.0f}')} | |")
    print()
    for name in ("peer-agent torrent create", "tr-run seed (the engine alone)"):
        ours = [r["seconds"] for r in rows[name]]
        print(f"Rate of `{name}` against `openssl dgst -sha1` (target ≥ 0.9): "
              f"{median_range([s / o for s, o in zip(sha1, ours)], fmt)}; against the same work "
              "(SHA-1 and SHA-256 of the file), `openssl dgst -sha1` + `openssl dgst -sha256`: "
              f"{median_range([b / o for b, o in zip(sums['openssl dgst -sha256'], ours)], fmt)}, "
              "`openssl dgst -sha1` + `sha256sum`: "
              f"{median_range([b / o for b, o in zip(sums['sha256sum'], ours)], fmt)}.")


def lt_session(listen_ip):
    import libtorrent as lt

    settings = {
        "listen_interfaces": f"{listen_ip}:0",
        "outgoing_interfaces": listen_ip,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        # Plain BitTorrent out, either accepted in: RC4 would cost CPU the others do not spend.
        "out_enc_policy": int(lt.enc_policy.disabled),
        "in_enc_policy": int(lt.enc_policy.enabled),
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert.category_t.error_notification
        | lt.alert.category_t.tracker_notification,
    }
    # flags=0: no default plugins, so no ut_pex (nor ut_metadata: a .torrent is given).
    return lt, lt.session(settings, flags=0)


def lt_seed(args):
    lt, ses = lt_session(args.listen)
    ti = lt.torrent_info(args.torrent)
    h = ses.add_torrent({"ti": ti, "save_path": args.save, "flags": lt.torrent_flags.seed_mode})
    # Seeding, and known to the torrent's tracker if it names one.
    announced = not ti.trackers()
    for _ in range(400):
        for a in ses.pop_alerts():
            announced |= isinstance(a, lt.tracker_reply_alert)
        if ses.listen_port() > 0 and h.status().is_seeding and announced:
            break
        time.sleep(0.025)
    else:
        sys.exit("bench-torrent: libtorrent did not seed")
    print(f"port {ses.listen_port()}", flush=True)
    while True:
        time.sleep(1)
        for a in ses.pop_alerts():
            print(f"bench-torrent: {a.message()}", file=sys.stderr, flush=True)


def lt_get(args):
    lt, ses = lt_session(args.listen)
    h = ses.add_torrent({"ti": lt.torrent_info(args.torrent), "save_path": args.dest})
    ip, port = args.peer.rsplit(":", 1)
    h.connect_peer((ip, int(port)))
    start = time.monotonic()
    while time.monotonic() - start < args.timeout:
        if h.status().is_seeding:
            return 0
        for a in ses.pop_alerts():
            print(f"bench-torrent: {a.message()}", file=sys.stderr, flush=True)
        time.sleep(0.005)
    print("bench-torrent: libtorrent timed out", file=sys.stderr)
    return 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd_name", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--out", required=True)
    m.add_argument("--seeder-pid", type=int)
    m.add_argument("--getter-pid", type=int)
    m.add_argument("--done-file")
    m.add_argument("--done-glob")
    m.add_argument("--kill-when-done", action="store_true")
    m.add_argument("--sample-rss", type=int)
    m.add_argument("cmd", nargs=argparse.REMAINDER)
    s = sub.add_parser("lt-seed")
    s.add_argument("torrent")
    s.add_argument("--save", required=True)
    s.add_argument("--listen", required=True)
    g = sub.add_parser("lt-get")
    g.add_argument("torrent")
    g.add_argument("--dest", required=True)
    g.add_argument("--listen", required=True)
    g.add_argument("--peer", required=True)
    g.add_argument("--timeout", type=float, default=120)
    c = sub.add_parser("rss")
    c.add_argument("pid", type=int)
    t = sub.add_parser("retrack")
    t.add_argument("torrent")
    t.add_argument("url")
    t.add_argument("out")
    u = sub.add_parser("summary")
    u.add_argument("kind", choices=["transfers", "hashing"])
    u.add_argument("path")
    u.add_argument("size", type=int, nargs="?")
    args = ap.parse_args()
    if args.cmd_name == "measure":
        return measure(args)
    if args.cmd_name == "lt-seed":
        return lt_seed(args)
    if args.cmd_name == "lt-get":
        return lt_get(args)
    if args.cmd_name == "retrack":
        import libtorrent as lt

        with open(args.torrent, "rb") as f:
            d = lt.bdecode(f.read())
        d[b"announce"] = args.url.encode()
        with open(args.out, "wb") as f:
            f.write(lt.bencode(d))
        return 0
    if args.cmd_name == "summary":
        if args.kind == "transfers":
            summary_transfers(args.path)
        else:
            summary_hashing(args.path, args.size)
        return 0
    print(f"{proc_rss_kib(args.pid) / 1024:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
