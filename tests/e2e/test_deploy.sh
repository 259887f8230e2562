#!/usr/bin/env bash
# The container deployment without Docker: deploy/docker-compose.yml and
# deploy/Dockerfile say what they should, and deploy/docker-entrypoint.sh starts a
# server configured only by environment variables, waits for the database (with and
# without pg_isready) and refuses a missing certificate with a clear message.
set -euo pipefail
. "$(dirname "$0")/../lib/bootstrap.sh"

DEPLOY=$FB_ROOT/deploy
ENTRY=$DEPLOY/docker-entrypoint.sh
BIN=$FB_BUILD/bin/bootstrap-server
[ -x "$ENTRY" ] || fb_fail "$ENTRY is missing or not executable"
python3 -c 'import yaml' 2>/dev/null || fb_fail "python3-yaml is missing (make deps)"

# The flags the entrypoint takes from BOOTSTRAP_<FLAG> variables must be the server's.
eval "$(sed -n '/^FLAG_VARS=(/,/)$/p' "$ENTRY")"
[ "${#FLAG_VARS[@]}" -gt 0 ] || fb_fail "no FLAG_VARS in the entrypoint"
help=$("$BIN" --help)
for f in "${FLAG_VARS[@]}"; do
	fb_assert_contains "$help" "--$f " "entrypoint variable for a flag the server lacks"
done

# --- the Compose file ---
python3 - "$DEPLOY/docker-compose.yml" "${FLAG_VARS[*]}" <<'PY' || fb_fail "docker-compose.yml"
import re
import sys
from urllib.parse import urlsplit

import yaml


# As Compose reads it with none of its variables set: ${VAR:-default} is the default,
# ${VAR:?message} (required) a placeholder.
def interpolate(v):
    if isinstance(v, dict):
        return {k: interpolate(x) for k, x in v.items()}
    if isinstance(v, list):
        return [interpolate(x) for x in v]
    if isinstance(v, str):
        return re.sub(r"\$\{(\w+)(?::?-([^}]*)|:?\?[^}]*)?\}",
                      lambda m: m.group(2) if m.group(2) is not None else "<" + m.group(1) + ">", v)
    return v


doc = interpolate(yaml.safe_load(open(sys.argv[1])))
flags = sys.argv[2].split()
problems = []


def check(ok, what):
    if not ok:
        problems.append(what)


def env_of(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    return env


services = doc.get("services", {})
check({"postgres", "bootstrap", "bootstrap-2"} <= set(services), "services postgres, bootstrap, bootstrap-2")
pg = services.get("postgres", {})
check(str(pg.get("image", "")).startswith("postgres:15"), "postgres image postgres:15 by default")
named = set(doc.get("volumes") or {})
data = [v for v in pg.get("volumes", []) if str(v).split(":")[1:2] == ["/var/lib/postgresql/data"]]
check(len(data) == 1 and data[0].split(":")[0] in named, "postgres data on a named volume")
check("pg_isready" in " ".join(pg.get("healthcheck", {}).get("test", [])), "postgres pg_isready healthcheck")
pg_env = env_of(pg)

# Names the server reads, the entrypoint's own and its BOOTSTRAP_<FLAG>, libpq's, the logger's.
known = {"DATABASE_URL", "BOOTSTRAP_LISTEN", "BOOTSTRAP_CERT", "BOOTSTRAP_KEY",
         "BOOTSTRAP_CLIENT_CA", "BOOTSTRAP_DB_WAIT", "BOOTSTRAP_BIN", "PGPASSWORD", "FB_LOG_LEVEL"}
known |= {"BOOTSTRAP_" + f.replace("-", "_").upper() for f in flags}
urls, host_ports = [], []
for name in ("bootstrap", "bootstrap-2"):
    s = services.get(name, {})
    env = env_of(s)
    build = s.get("build", {})
    check(build.get("context") == ".." and build.get("dockerfile") == "deploy/Dockerfile",
          f"{name}: built from deploy/Dockerfile, context ..")
    check((build.get("args") or {}).get("BASE_IMAGE", "debian:bookworm-slim") == "debian:bookworm-slim",
          f"{name}: built on debian:bookworm-slim by default")
    check(s.get("depends_on", {}).get("postgres", {}).get("condition") == "service_healthy",
          f"{name}: depends on postgres being healthy")
    check("/healthz" in " ".join(s.get("healthcheck", {}).get("test", [])), f"{name}: /healthz healthcheck")
    for var in ("DATABASE_URL", "BOOTSTRAP_LISTEN", "BOOTSTRAP_CERT", "BOOTSTRAP_KEY"):
        check(env.get(var), f"{name}: {var} set")
    for var in env:
        check(var in known, f"{name}: unknown variable {var}")
    mounts = [v.split(":") for v in s.get("volumes", [])]
    certs = [m for m in mounts if m[0] == "./certs"]
    check(len(certs) == 1 and certs[0][2:] == ["ro"], f"{name}: ./certs mounted read-only")
    target = certs[0][1] if certs else "?"
    for var in ("BOOTSTRAP_CERT", "BOOTSTRAP_KEY", "BOOTSTRAP_CLIENT_CA"):
        if env.get(var):
            check(env[var].startswith(target + "/"), f"{name}: {var} is under {target}")
    listen = str(env.get("BOOTSTRAP_LISTEN", ""))
    check(listen.rsplit(":", 1)[0] in ("0.0.0.0", "[::]"), f"{name}: listens on every interface")
    ports = [str(p).split(":") for p in s.get("ports", [])]
    check(len(ports) == 1 and ports[0][-1] == listen.rsplit(":", 1)[-1],
          f"{name}: publishes the BOOTSTRAP_LISTEN port")
    host_ports += [p[-2] for p in ports if len(p) >= 2]
    urls.append(env.get("DATABASE_URL"))
check(len(set(urls)) == 1, "both replicas use the same DATABASE_URL")
check(len(set(host_ports)) == len(host_ports) == 2, "the replicas publish different host ports")
u = urlsplit(urls[0] or "")
check(u.hostname == "postgres" and u.username == pg_env.get("POSTGRES_USER")
      and u.path == "/" + str(pg_env.get("POSTGRES_DB")), "DATABASE_URL names the postgres service's user and database")
for p in problems:
    print("docker-compose.yml:", p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
fb_pass "docker-compose.yml: services, healthchecks, volume, variables, one database"

# --- the Dockerfile ---
df=$(cat "$DEPLOY/Dockerfile")
grep -q '^ARG BASE_IMAGE=debian:bookworm-slim$' <<<"$df" || fb_fail "Dockerfile: BASE_IMAGE defaults to bookworm-slim"
# shellcheck disable=SC2016 # the Dockerfile's own ${BASE_IMAGE}, literally
[ "$(grep -c '^FROM ${BASE_IMAGE}' <<<"$df")" = 2 ] || fb_fail "Dockerfile: two stages on BASE_IMAGE"
user=$(awk '$1 == "USER" { u = $2 } END { print u }' <<<"$df")
if [ -z "$user" ] || [[ $user == root* || $user == 0* ]]; then
	fb_fail "Dockerfile: runs as root (USER '$user')"
fi
fb_assert_contains "$(grep -A1 '^HEALTHCHECK' <<<"$df")" "healthcheck" "Dockerfile: HEALTHCHECK"
fb_assert_contains "$(grep '^ENTRYPOINT' <<<"$df")" "docker-entrypoint.sh" "Dockerfile: ENTRYPOINT"
# Every library the server links directly comes from a package the runtime stage installs.
runtime=$(awk '/^FROM/ { n++ } n == 2' <<<"$df")
for lib in $(readelf -d "$BIN" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
	file=$(readlink -f "$(ldd "$BIN" | awk -v l="$lib" '$1 == l { print $3 }')")
	file=${file##*/}
	pkg=$(dpkg -S "$file" 2>/dev/null |
		awk -F': ' -v f="/$file" 'substr($2, length($2) - length(f) + 1) == f { print $1; exit }')
	pkg=${pkg%%:*}
	[ -n "$pkg" ] || fb_fail "no package owns $lib"
	[ "$pkg" = libc6 ] || grep -Eq "(^|[[:space:]])$pkg([[:space:]]|$)" <<<"$runtime" ||
		fb_fail "Dockerfile: the runtime stage does not install $pkg (for $lib)"
done
if git -C "$FB_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
	for f in deploy/certs/bootstrap.key deploy/certs/bootstrap.crt deploy/.env; do
		git -C "$FB_ROOT" check-ignore -q "$f" || fb_fail ".gitignore does not keep $f out"
	done
fi
fb_pass "Dockerfile: two stages, non-root, health check, runtime libraries"

# --- the entrypoint outside Docker ---
fb_pg_start
C=$(fb_tmpdir)
fb_make_ca "$C/ca"
fb_make_server_cert "$C/ca" "$C" server
fb_make_client_cert "$C/ca" "$C" alice@example.com
fb_make_client_cert "$C/ca" "$C" admin@example.com
fb_fingerprint "$C/admin@example.com.crt" >"$C/admins.txt"

# A PATH without pg_isready, as in the image: the entrypoint falls back to a TCP probe.
NOPG=$(fb_tmpdir)
for cmd in bash timeout sleep curl; do
	ln -s "$(command -v "$cmd")" "$NOPG/$cmd"
done

# entry LOG PATH VAR=VALUE... [-- ARG...] : runs the entrypoint to its end with only
# these variables (a later VAR= wins over an earlier one), bounded in time.
entry() {
	local log=$1 path=$2 vars=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		vars+=("$1")
		shift
	done
	[ $# -eq 0 ] || shift
	timeout 30 env -i PATH="$path" BOOTSTRAP_BIN="$BIN" "${vars[@]}" "$ENTRY" "$@" >"$log" 2>&1
}

base=(DATABASE_URL="$DATABASE_URL" BOOTSTRAP_CERT="$C/server.crt" BOOTSTRAP_KEY="$C/server.key"
	BOOTSTRAP_CLIENT_CA="$C/ca/ca.crt" BOOTSTRAP_THREADS=2)

# (c) A missing certificate or key, an unset variable, a bad setting: a clear message
# and a non-zero exit before any server starts.
rc=0
entry "$C/nocert.log" "$PATH" "${base[@]}" BOOTSTRAP_CERT="$C/missing.crt" || rc=$?
[ $rc -eq 2 ] || fb_fail "missing certificate: exit $rc: $(cat "$C/nocert.log")"
fb_assert_contains "$(cat "$C/nocert.log")" "BOOTSTRAP_CERT=$C/missing.crt: no such file" \
	"missing certificate message"
rc=0
entry "$C/nokey.log" "$PATH" "${base[@]}" BOOTSTRAP_KEY="$C/missing.key" || rc=$?
[ $rc -eq 2 ] || fb_fail "missing key: exit $rc: $(cat "$C/nokey.log")"
fb_assert_contains "$(cat "$C/nokey.log")" "BOOTSTRAP_KEY=$C/missing.key: no such file" "missing key message"
rc=0
entry "$C/unset.log" "$PATH" DATABASE_URL="$DATABASE_URL" BOOTSTRAP_KEY="$C/server.key" || rc=$?
[ $rc -eq 2 ] || fb_fail "unset certificate: exit $rc: $(cat "$C/unset.log")"
fb_assert_contains "$(cat "$C/unset.log")" "BOOTSTRAP_CERT is not set" "unset certificate message"
for f in nocert nokey unset; do
	! grep -q "configuration ok" "$C/$f.log" || fb_fail "$f: the server was run"
done
# A bad setting is reported at once, not after waiting for an absent database.
down=postgresql://postgres@127.0.0.1:$(fb_free_port)/flashback
rc=0
entry "$C/badcfg.log" "$PATH" "${base[@]}" DATABASE_URL="$down" BOOTSTRAP_TTL=5 || rc=$?
[ $rc -eq 2 ] || fb_fail "bad setting: exit $rc: $(cat "$C/badcfg.log")"
fb_assert_contains "$(cat "$C/badcfg.log")" "ttl: expected an integer" "--check-config message"
! grep -q "waiting" "$C/badcfg.log" || fb_fail "a bad setting waited for the database first"
fb_pass "missing certificate, key or setting: clear message, exit 2"

# The wait for the database is bounded, with pg_isready and with the TCP probe.
for path in "$PATH" "$NOPG"; do
	start=$SECONDS
	rc=0
	entry "$C/down.log" "$path" "${base[@]}" DATABASE_URL="$down" BOOTSTRAP_DB_WAIT=2 || rc=$?
	[ $rc -eq 1 ] || fb_fail "database down: exit $rc: $(cat "$C/down.log")"
	fb_assert_contains "$(cat "$C/down.log")" "did not accept connections within 2 s" "database down message"
	((SECONDS - start < 15)) || fb_fail "the wait for the database took $((SECONDS - start)) s"
done
# SIGTERM (docker stop) ends the wait at once.
env -i PATH="$NOPG" BOOTSTRAP_BIN="$BIN" "${base[@]}" DATABASE_URL="$down" BOOTSTRAP_DB_WAIT=60 \
	"$ENTRY" >"$C/stop.log" 2>&1 &
spid=$!
fb_on_exit "kill $spid; wait $spid"
fb_wait_for 10 grep -q "waiting up to 60 s" "$C/stop.log" || fb_fail "no wait: $(cat "$C/stop.log")"
start=$SECONDS
kill -TERM "$spid"
rc=0
wait "$spid" || rc=$?
fb_assert_eq "$rc" 143 "exit status after SIGTERM during the wait"
((SECONDS - start < 10)) || fb_fail "SIGTERM took $((SECONDS - start)) s to end the wait"
fb_pass "the wait for an absent database gives up after BOOTSTRAP_DB_WAIT, or at SIGTERM"

# (b) Configuration only by environment variables; the database comes up while the
# entrypoint waits (TCP probe, as in the image).
PORT=$(fb_free_port)
fb_pg_stop
# Started directly (not through a function) so that $! is the entrypoint's own process.
env -i PATH="$NOPG" BOOTSTRAP_BIN="$BIN" "${base[@]}" BOOTSTRAP_LISTEN="127.0.0.1:$PORT" \
	BOOTSTRAP_ADMIN_FINGERPRINTS="$C/admins.txt" BOOTSTRAP_DB_WAIT=30 "$ENTRY" >"$C/a.log" 2>&1 &
pid=$!
fb_on_exit "kill $pid; wait $pid"
fb_wait_for 10 grep -q "waiting up to 30 s for 127.0.0.1 port $FB_PG_PORT" "$C/a.log" ||
	fb_fail "the entrypoint does not wait for the database: $(cat "$C/a.log")"
fb_pg_restart_stopped || fb_fail "PostgreSQL did not restart"
_up() { kill -0 "$pid" 2>/dev/null || return 2; fb_wait_port 127.0.0.1 "$PORT" 0.2; }
{ fb_wait_for 30 _up && kill -0 "$pid" 2>/dev/null; } || fb_fail "the server did not start: $(tail -5 "$C/a.log")"
fb_assert_contains "$(cat "$C/a.log")" "configuration ok: listen 127.0.0.1:$PORT, CA mode" "--check-config output"
# exec: the entrypoint's process is the server itself, so it gets the container's signals.
fb_assert_eq "$(readlink -f "/proc/$pid/exe")" "$(readlink -f "$BIN")" "the entrypoint execs the server"

U=https://127.0.0.1:$PORT
as() {
	local email=$1
	shift
	curl -sS --max-time 10 --cacert "$C/ca/ca.crt" --cert "$C/$email.crt" --key "$C/$email.key" \
		-w '\nHTTP %{http_code}\n' "$@"
}
out=$(as alice@example.com -H 'Content-Type: application/json' \
	-d '{"email":"alice@example.com","socket_addresses":["127.0.0.2"],"port":7443,"repositories":[{"name":"photos"}]}' \
	"$U/api/bootstrap/register")
fb_expect 200 "$out" "register through the entrypoint's server"
fb_assert_eq "$(fb_body "$out" | jq -r .status)" registered "register status"
fb_expect 200 "$(curl -sS --max-time 10 --cacert "$C/ca/ca.crt" -w '\nHTTP %{http_code}\n' "$U/healthz")" "healthz"
out=$(curl -sS --max-time 10 --cacert "$C/ca/ca.crt" -w '\nHTTP %{http_code}\n' "$U/readyz")
fb_expect 200 "$out" "readyz"
fb_assert_eq "$(fb_body "$out" | jq -r .status)" ready "readyz status"
out=$(as admin@example.com "$U/api/admin/registrations")
fb_expect 200 "$out" "BOOTSTRAP_ADMIN_FINGERPRINTS became --admin-fingerprints"
fb_assert_eq "$(fb_body "$out" | jq -r '.[0].email')" alice@example.com "admin sees the registration"
env -i PATH="$NOPG" BOOTSTRAP_LISTEN="127.0.0.1:$PORT" "$ENTRY" healthcheck ||
	fb_fail "the healthcheck command failed against a live server"
fb_pass "environment-only configuration: register, healthz, readyz, admin"

# A second replica with pg_isready and a flag argument, on the same database.
PORT2=$(fb_free_port)
env -i PATH="$PATH" BOOTSTRAP_BIN="$BIN" "${base[@]}" BOOTSTRAP_LISTEN="127.0.0.1:$PORT2" \
	"$ENTRY" --log-level warn >"$C/b.log" 2>&1 &
pid2=$!
fb_on_exit "kill $pid2; wait $pid2"
_up2() { kill -0 "$pid2" 2>/dev/null || return 2; fb_wait_port 127.0.0.1 "$PORT2" 0.2; }
{ fb_wait_for 30 _up2 && kill -0 "$pid2" 2>/dev/null; } || fb_fail "replica 2 did not start: $(tail -5 "$C/b.log")"
out=$(as alice@example.com "https://127.0.0.1:$PORT2/api/bootstrap/discover?repositories=photos")
fb_expect 200 "$out" "discover on replica 2"
fb_assert_eq "$(fb_body "$out" | jq -r '.[0].email')" alice@example.com "replica 2 reads the shared database"
# Arguments reach the server: --log-level warn hides the start-up line replica 1 logged.
fb_assert_contains "$(cat "$C/a.log")" "listening on 127.0.0.1:$PORT" "replica 1 start-up line"
! grep -q "listening on" "$C/b.log" || fb_fail "the entrypoint's arguments did not reach the server"

# SIGTERM reaches the server, which stops cleanly; the health check then fails.
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
fb_assert_eq "$rc" 0 "exit status after SIGTERM"
! env -i PATH="$NOPG" BOOTSTRAP_LISTEN="127.0.0.1:$PORT" "$ENTRY" healthcheck 2>/dev/null ||
	fb_fail "the healthcheck command passed with the server stopped"
fb_pass "a second replica shares the database; SIGTERM stops the server cleanly"
