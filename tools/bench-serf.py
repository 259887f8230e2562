"""Membership side by side: Debian's serf against our peer agents, real
processes on loopback, one run, interleaved (serf, agents, serf, ...).

usage: bench-serf.py CONFIG.json

CONFIG (written by tools/bench-serf.sh): {"n": 32, "rounds": 5, "idle_s": 30, "settle_s": 60,
"timeout_s": 120, "serf": {"bin": ..., "key": ..., "dir": ...},
"agents": {"bin": ..., "homes": [{"home", "email", "ip", "api", "token"}, ...]}}
with n + 1 agent homes (the last one is the newcomer).

Per round and system, with every timer at its default:
  all_see_all_s  n members started one after the other, each once the one
                 before answers on its RPC or control API: from the last start until every
                 member lists all n (serf: alive members over its RPC;
                 agents: the peers of GET /api/v1/peers, itself included);
  idle_b_s       then idle_s seconds untouched: bytes each member sent (IP
                 packets from its own address, nftables counters), per second;
  settled_b_s    the same over idle_s seconds from settle_s after all_see_all
                 (the standing cost, once start-up traffic has died down);
  rss/uss_mib    each member's RSS and private memory after the idle time
                 (/proc/PID/smaps_rollup);
  join_s         a newcomer started: until all n older members list it.
Prints one JSON line per round and system, then the medians with ranges.
"""
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time

import msgpack

NFT_TABLE = "fb_bench_serf"


# --- serf over its RPC (msgpack: a header, then a body) ---

class SerfRPC:
    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.unpacker = msgpack.Unpacker(raw=False)
        self.seq = 0
        self.call("handshake", {"Version": 1}, body=False)

    def _next(self):
        while True:
            for obj in self.unpacker:
                return obj
            data = self.sock.recv(65536)
            if not data:
                raise OSError("serf RPC closed")
            self.unpacker.feed(data)

    def call(self, command, args=None, body=True):
        self.seq += 1
        out = msgpack.packb({"Command": command, "Seq": self.seq})
        if args is not None:
            out += msgpack.packb(args)
        self.sock.sendall(out)
        head = self._next()
        if head.get("Error"):
            raise OSError(f"serf {command}: {head['Error']}")
        return self._next() if body else None

    def alive(self):
        return {m["Name"] for m in self.call("members")["Members"] if m["Status"] == "alive"}

    def close(self):
        self.sock.close()


# --- our agents over the control API ---

class AgentAPI:
    def __init__(self, h):
        """Connects once the agent's control API answers (OSError before),
        as SerfRPC does with serf's RPC: each member is up before the next starts."""
        self.port = h["api"]
        self.token = h["token"]
        self.self_email = h["email"]
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            self.conn.request("GET", "/api/v1/status",
                              headers={"Authorization": f"Bearer {self.token}"})
            r = self.conn.getresponse()
            r.read()
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            raise OSError(f"agent API: {e}")
        if r.status != 200:
            self.conn.close()
            raise OSError(f"agent API: status {r.status}")

    def alive(self):
        for _ in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                self.conn.request("GET", "/api/v1/peers",
                                  headers={"Authorization": f"Bearer {self.token}"})
                r = self.conn.getresponse()
                body = r.read()
                if r.status != 200:
                    return set()
                return {p["email"] for p in json.loads(body)} | {self.self_email}
            except (OSError, http.client.HTTPException, ValueError):
                self.conn = None
        return set()

    def close(self):
        if self.conn is not None:
            self.conn.close()


def wait_until(clients, want, timeout_s):
    """Seconds until every client's alive() holds want (None on timeout)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if all(want <= c.alive() for c in clients):
            return time.monotonic() - t0
        time.sleep(0.02)
    return None


def connect(make, timeout_s=30):
    t0 = time.monotonic()
    while True:
        try:
            return make()
        except OSError:
            if time.monotonic() - t0 > timeout_s:
                raise
            time.sleep(0.05)


# --- measurement helpers ---

def nft(*args, stdin=None):
    subprocess.run(["nft", *args], input=stdin, text=True, check=True,
                   stdout=subprocess.DEVNULL)


def nft_setup(ips):
    subprocess.run(["nft", "delete", "table", "inet", NFT_TABLE],
                   stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    rules = "\n".join(f"  ip saddr {ip} counter" for ip in ips)
    nft("-f", "-", stdin=f"table inet {NFT_TABLE} {{\n chain out {{\n"
                         f"  type filter hook output priority 0;\n{rules}\n }}\n}}\n")


def nft_bytes():
    out = subprocess.run(["nft", "-j", "list", "table", "inet", NFT_TABLE],
                         capture_output=True, text=True, check=True).stdout
    counts = {}
    for item in json.loads(out)["nftables"]:
        rule = item.get("rule")
        if not rule:
            continue
        ip = counter = None
        for e in rule["expr"]:
            if "match" in e:
                ip = e["match"]["right"]
            if "counter" in e:
                counter = e["counter"]["bytes"]
        counts[ip] = counter
    return counts


def nft_teardown():
    subprocess.run(["nft", "delete", "table", "inet", NFT_TABLE],
                   stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def memory_mib(pid):
    rss = priv = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k == "Rss":
                rss = int(v.split()[0])
            elif k in ("Private_Clean", "Private_Dirty"):
                priv += int(v.split()[0])
    return rss / 1024, priv / 1024


def stop(procs):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# --- one round of each system ---

def measure(cfg, system, rnd, ips, names, start):
    """One round: start(i) starts member i (of n, and n the newcomer) and
    returns (process, client); names[i] is how the others list it."""
    n = cfg["n"]
    nft_setup(ips[:n])
    procs, clients = [], []
    try:
        for i in range(n):
            p, c = start(i)
            procs.append(p)
            clients.append(c)
        res = {"system": system, "round": rnd}
        res["all_see_all_s"] = wait_until(clients, set(names[:n]), cfg["timeout_s"])
        dead = [names[i] for i, p in enumerate(procs) if p.poll() is not None]
        if dead:
            raise SystemExit(f"bench-serf: {system}: {', '.join(dead)} exited "
                             f"(see {cfg['log']})")
        t0 = time.monotonic()
        before = nft_bytes()
        time.sleep(cfg["idle_s"])
        after = nft_bytes()
        res["idle_b_s"] = [(after[ip] - before[ip]) / cfg["idle_s"] for ip in ips[:n]]
        time.sleep(max(0.0, cfg["settle_s"] - (time.monotonic() - t0)))
        before = nft_bytes()
        time.sleep(cfg["idle_s"])
        after = nft_bytes()
        res["settled_b_s"] = [(after[ip] - before[ip]) / cfg["idle_s"] for ip in ips[:n]]
        mem = [memory_mib(p.pid) for p in procs]
        res["rss_mib"] = [m[0] for m in mem]
        res["uss_mib"] = [m[1] for m in mem]
        p, c = start(n)
        procs.append(p)
        c.close()
        res["join_s"] = wait_until(clients, {names[n]}, cfg["timeout_s"])
        return res
    finally:
        for c in clients:
            c.close()
        stop(procs)
        nft_teardown()


def serf_round(cfg, rnd, log):
    s = cfg["serf"]
    n = cfg["n"]
    ips = [f"127.0.70.{i + 1}" for i in range(n + 1)]
    rpc = [f"127.0.0.1:{port}" for port in s["rpc_ports"]]
    names = [f"serf{i}" for i in range(n + 1)]

    def start(i):
        argv = [s["bin"], "agent", f"-node={names[i]}", f"-bind={ips[i]}:7946",
                f"-rpc-addr={rpc[i]}", f"-encrypt={s['key']}", "-log-level=err"]
        if i > 0:
            argv.append(f"-join={ips[0]}:7946")
        p = subprocess.Popen(argv, stdout=log, stderr=log)
        return p, connect(lambda: SerfRPC(rpc[i]))

    return measure(cfg, "serf", rnd, ips, names, start)


def agents_round(cfg, rnd, log):
    a = cfg["agents"]
    homes = a["homes"]

    def start(i):
        h = homes[i]
        try:
            os.unlink(os.path.join(h["home"], "peers.json"))
        except FileNotFoundError:
            pass
        p = subprocess.Popen([a["bin"], "run", "--home", h["home"], "--log-level", "warn"],
                             stdout=log, stderr=log)
        return p, connect(lambda: AgentAPI(h))

    return measure(cfg, "peer-agent", rnd, [h["ip"] for h in homes],
                   [h["email"] for h in homes], start)


def fmt(x):
    return "timeout" if x is None else f"{x:.2f}"


def med(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "timeout"
    return f"{statistics.median(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})"


def main():
    cfg = json.load(open(sys.argv[1]))
    out = open(cfg["results"], "a")
    results = []
    with open(cfg["log"], "a") as log:
        for rnd in range(cfg["rounds"]):
            # Interleaved, and which goes first alternates.
            order = [serf_round, agents_round] if rnd % 2 == 0 else [agents_round, serf_round]
            for fn in order:
                r = fn(cfg, rnd, log)
                results.append(r)
                out.write(json.dumps(r) + "\n")
                out.flush()
                print(f"  round {rnd + 1} {r['system']:<10}: all-see-all {fmt(r['all_see_all_s'])} s, "
                      f"join {fmt(r['join_s'])} s, idle B/s median "
                      f"{statistics.median(r['idle_b_s']):.0f}, settled "
                      f"{statistics.median(r['settled_b_s']):.0f}, RSS median "
                      f"{statistics.median(r['rss_mib']):.1f} MiB", flush=True)
    n = cfg["n"]
    print(f"\n  N = {n}, {cfg['rounds']} rounds interleaved; medians over rounds "
          f"(range); per-member figures are each round's median member")
    print(f"  {'':<34}{'serf':<28}{'peer-agent':<28}")
    rows = [
        ("newcomer listed by all (s)", lambda r: r["join_s"]),
        ("all see all after last start (s)", lambda r: r["all_see_all_s"]),
        ("idle B/s per member, first 30 s", lambda r: statistics.median(r["idle_b_s"])),
        ("idle B/s per member, settled", lambda r: statistics.median(r["settled_b_s"])),
        ("RSS per member (MiB)", lambda r: statistics.median(r["rss_mib"])),
        ("RSS, largest member (MiB)", lambda r: max(r["rss_mib"])),
        ("private memory per member (MiB)", lambda r: statistics.median(r["uss_mib"])),
    ]
    for label, f in rows:
        cells = [med([f(r) for r in results if r["system"] == s])
                 for s in ("serf", "peer-agent")]
        print(f"  {label:<34}{cells[0]:<28}{cells[1]:<28}")


if __name__ == "__main__":
    main()
