"""Many clients from one address against the bootstrap server. Used by
test_hostile_server_one_address.sh; prints one JSON object per phase.

usage: crowd.py CERTS CA HOST PORT AGENTS CONNS MAX_CONNS_PER_IP FLOODERS

household: AGENTS agents, each holding CONNS keep-alive connections (as an
    agent with libcurl's pool did): registers on the first, heartbeats on the
    second, /healthz on the rest; the connections stay open.
over: raw TCP connections fill the address up to MAX_CONNS_PER_IP; one more
    TLS request is answered 503; then more raw connections, and those the
    server refuses at accept are counted (closed at once, no TLS).
flood: FLOODERS fresh certificates request as fast as they can for 3 s.
recover: after the flood, every household agent heartbeats once more.
Certificates are CERTS/EMAIL.crt and .key (agentN@example.com, floodN@example.com).
"""
import http.client
import json
import socket
import ssl
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def context(certs, ca, email):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(f"{certs}/{email}.crt", f"{certs}/{email}.key")
    return ctx


def request(conn, method, path, body=None):
    """Returns (status, headers, body) or (error text, {}, "")."""
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers=headers)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    except (OSError, http.client.HTTPException) as e:
        return type(e).__name__, {}, ""


def household(args, agents, conns):
    certs, ca, host, port = args

    def agent(i):
        email = f"agent{i}@example.com"
        ctx = context(certs, ca, email)
        cs = [http.client.HTTPSConnection(host, port, context=ctx, timeout=20,
                                          source_address=("127.0.0.1", 0)) for _ in range(conns)]
        got = [request(cs[0], "POST", "/api/bootstrap/register",
                       {"email": email, "is_broadcasting": False, "repositories": []})[0]]
        got.append(request(cs[1], "POST", "/api/bootstrap/heartbeat", {"email": email})[0])
        for c in cs[2:]:
            got.append(request(c, "GET", "/healthz")[0])
        return cs, got

    with ThreadPoolExecutor(32) as ex:
        results = list(ex.map(agent, range(agents)))
    statuses = [s for _, got in results for s in got]
    return [cs for cs, _ in results], {
        "phase": "household", "requests": len(statuses),
        "ok": sum(1 for s in statuses if s == 200),
        "failed": sorted({str(s) for s in statuses if s != 200})}


def raw_connect(host, port):
    s = socket.create_connection((host, port), timeout=5, source_address=("127.0.0.1", 0))
    s.settimeout(1.0)
    return s


def refused(s):
    """True when the server closed the connection at once (refused at accept)."""
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


def over(args, held, max_conns):
    certs, ca, host, port = args
    raw = [raw_connect(host, port) for _ in range(max(0, max_conns - held))]
    time.sleep(0.5)
    ctx = context(certs, ca, "agent0@example.com")
    c = http.client.HTTPSConnection(host, port, context=ctx, timeout=10,
                                    source_address=("127.0.0.1", 0))
    status, headers, body = request(c, "GET", "/api/bootstrap/peers")
    c.close()
    more = [raw_connect(host, port) for _ in range(50)]
    n_refused = sum(1 for s in more if refused(s))
    for s in raw + more:
        s.close()
    return {"phase": "over", "status": status, "retry_after": headers.get("Retry-After"),
            "connection": headers.get("Connection"), "body": body, "raw_refused": n_refused}


def flood(args, flooders):
    certs, ca, host, port = args
    lock = threading.Lock()
    counts, sample = {}, {}
    deadline = time.monotonic() + 3

    def one(i):
        email = f"flood{i}@example.com"
        c = http.client.HTTPSConnection(host, port, context=context(certs, ca, email),
                                        timeout=10, source_address=("127.0.0.1", 0))
        while time.monotonic() < deadline:
            status, headers, body = request(c, "GET", "/api/bootstrap/peers")
            with lock:
                counts[str(status)] = counts.get(str(status), 0) + 1
                if status == 429 and not sample:
                    sample.update({"retry_after": headers.get("Retry-After"), "body": body})
            if not isinstance(status, int):
                c.close()
        c.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(flooders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"phase": "flood", "counts": counts, "sample_429": sample}


def recover(held):
    statuses = []
    for i, cs in enumerate(held):
        statuses.append(request(cs[1], "POST", "/api/bootstrap/heartbeat",
                                {"email": f"agent{i}@example.com"})[0])
    return {"phase": "recover", "requests": len(statuses),
            "ok": sum(1 for s in statuses if s == 200),
            "failed": sorted({str(s) for s in statuses if s != 200})}


def main():
    certs, ca, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    agents, conns, max_conns, flooders = (int(a) for a in sys.argv[5:9])
    args = (certs, ca, host, port)
    held, result = household(args, agents, conns)
    print(json.dumps(result), flush=True)
    print(json.dumps(over(args, agents * conns, max_conns)), flush=True)
    print(json.dumps(flood(args, flooders)), flush=True)
    # The address's bucket refills (burst 250 at 50/s) while the flood is over.
    time.sleep(6)
    print(json.dumps(recover(held)), flush=True)
    for cs in held:
        for c in cs:
            c.close()


main()
