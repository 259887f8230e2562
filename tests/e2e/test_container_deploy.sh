#!/usr/bin/env bash
# The container deployment run for real: deploy/docker-compose.yml with podman-compose,
# the bootstrap image built from deploy/Dockerfile and PostgreSQL from deploy/postgres,
# both on a Debian base made from Debian packages (tools/debian-image.sh), since no
# registry may be reachable. Two peers register through the two replicas and discover
# each other across them; then everything the test created is removed but the images,
# which stay as a build cache (as does the base tarball in $FB_BUILD/container).
#
# A host whose podman cannot run containers fails this test with podman's own error:
# there is no skipped state in run.sh, and a pass would claim a deployment that was
# never run. Where root lacks CAP_SYS_RESOURCE (podman's rlimits are refused) or crun
# refuses a hybrid cgroup layout, tools/oci-no-rlimits.sh over runc is used instead.
set -euo pipefail
. "$(dirname "$0")/../lib/bootstrap.sh"

DEPLOY=$FB_ROOT/deploy
CACHE=$FB_BUILD/container
BASE=flashback-debian:bookworm
PG_IMAGE=flashback/postgres:15
# The name the Compose file gives the image it builds.
IMAGE=flashback/bootstrap-server:latest
for cmd in podman podman-compose debootstrap runc jq; do
	command -v "$cmd" >/dev/null || fb_fail "$cmd is not installed (make deps)"
done
[ "$(id -u)" -eq 0 ] || fb_fail "needs root: rootful podman and debootstrap"
mkdir -p "$CACHE"
C=$(fb_tmpdir)

# --- the base image, from Debian packages ---
"$FB_ROOT/tools/debian-image.sh" "$CACHE/debian-bookworm.tar" "$BASE" 2>"$C/base.log" ||
	fb_fail "the Debian base image: $(tail -5 "$C/base.log")"
fb_pass "base image $BASE (${SECONDS} s; $(tail -1 "$C/base.log" | sed 's/^debian-image: //'))"

# --- a runtime that runs containers here ---
probe() {
	podman run --rm --network none "$BASE" true >"$C/probe.log" 2>&1
}
if ! probe; then
	default_error=$(tail -1 "$C/probe.log")
	cat >"$C/containers.conf" <<EOF
[engine]
runtime = "norlimits"
[engine.runtimes]
norlimits = ["$FB_ROOT/tools/oci-no-rlimits.sh"]
EOF
	export CONTAINERS_CONF=$C/containers.conf
	probe || fb_fail "podman cannot run a container here. Default runtime: $default_error;" \
		"tools/oci-no-rlimits.sh over runc: $(tail -1 "$C/probe.log")"
	fb_log "podman's default runtime failed ($default_error); using tools/oci-no-rlimits.sh over runc"
fi
fb_pass "podman runs containers ($(podman info --format '{{.Host.OCIRuntime.Name}}'))"

# --- the images: PostgreSQL, and the server through the Compose file's build ---
start=$SECONDS
podman build --build-arg BASE_IMAGE="$BASE" -t "$PG_IMAGE" "$DEPLOY/postgres" >"$C/pg-build.log" 2>&1 ||
	fb_fail "building $PG_IMAGE: $(tail -5 "$C/pg-build.log")"
POSTGRES_PASSWORD=$(head -c 18 /dev/urandom | base64)
export POSTGRES_PASSWORD FLASHBACK_BASE_IMAGE=$BASE FLASHBACK_POSTGRES_IMAGE=$PG_IMAGE
PORT1=$(fb_free_port)
PORT2=$(fb_free_port)
[ "$PORT1" != "$PORT2" ] || PORT2=$(fb_free_port)
# Published on loopback only.
export FLASHBACK_PUBLISH=127.0.0.1:$PORT1 FLASHBACK_PUBLISH_2=127.0.0.1:$PORT2
(cd "$DEPLOY" && podman-compose -f docker-compose.yml build) >"$C/build.log" 2>&1 ||
	fb_fail "podman-compose build: $(tail -5 "$C/build.log")"
fb_assert_eq "$(podman run --rm --entrypoint bootstrap-server "$IMAGE" --version | cut -d' ' -f1)" \
	bootstrap-server "the image's server"
fb_pass "images $PG_IMAGE and $IMAGE built in $((SECONDS - start)) s"

# --- certificates: a copy of the Compose file beside its own certs directory, so
# the repository's deploy/certs (an operator's) is never touched ---
mkdir -p "$C/deploy/certs"
cp "$DEPLOY/docker-compose.yml" "$C/deploy/"
fb_make_ca "$C/ca"
"$DEPLOY/ca/issue-server.sh" "$C/ca" "$C/deploy/certs" bootstrap --dns localhost --ip 127.0.0.1 \
	>/dev/null || fb_fail "issue-server failed"
cp "$C/ca/ca.crt" "$C/deploy/certs/"
# The container's user, as deploy/certs/README.md says.
chown 10001 "$C/deploy/certs/bootstrap.key"
export FB_CERTS=$C
fb_make_client_cert "$C/ca" "$C" ann@example.com
fb_make_client_cert "$C/ca" "$C" bea@example.com

# --- up ---
P=fbtest$$
compose() {
	(cd "$C/deploy" && podman-compose -p "$P" -f docker-compose.yml "$@")
}
# Whatever happens: containers, volume and network of this project go.
fb_on_exit "podman ps -aq --filter label=io.podman.compose.project=$P | xargs -r podman rm -f -t 1"
fb_on_exit "podman volume rm -f ${P}_pgdata"
fb_on_exit "podman network rm -f ${P}_default"
start=$SECONDS
compose up -d --no-build >"$C/up.log" 2>&1 || fb_fail "podman-compose up: $(tail -5 "$C/up.log")"
for svc in postgres bootstrap bootstrap-2; do
	fb_assert_eq "$(podman inspect --format '{{.State.Running}}' "${P}_${svc}_1" 2>&1)" true "$svc running"
done
U1=https://127.0.0.1:$PORT1
U2=https://127.0.0.1:$PORT2
ready() {
	[ "$(fb_status "$(fb_anon "$1/readyz")")" = 200 ]
}
for u in "$U1" "$U2"; do
	fb_wait_for 90 ready "$u" ||
		fb_fail "$u not ready: $(podman logs --tail 5 "${P}_bootstrap_1" 2>&1; podman logs --tail 5 "${P}_bootstrap-2_1" 2>&1)"
done
fb_pass "PostgreSQL and two replicas up in $((SECONDS - start)) s"
# The Compose file's health checks, run once by hand (podman schedules them with systemd).
for svc in postgres bootstrap bootstrap-2; do
	out=$(podman healthcheck run "${P}_${svc}_1" 2>&1) || fb_fail "$svc health check: $out"
done
for svc in bootstrap bootstrap-2; do
	fb_assert_contains "$(podman logs "${P}_${svc}_1" 2>&1)" "listening on 0.0.0.0:8443 (CA mode" "$svc log"
	fb_assert_eq "$(podman exec "${P}_${svc}_1" id -u)" 10001 "$svc user"
done
fb_pass "health checks pass; the replicas run as uid 10001 in CA mode"

# --- register on each replica, discover across them ---
out=$(fb_register ann@example.com \
	'{"email":"ann@example.com","socket_addresses":["127.0.0.10"],"port":7300,"repositories":[{"name":"shared"}]}' "$U1")
fb_expect 200 "$out" "ann registers on replica 1"
fb_valid register-response.schema.json "$(fb_body "$out")"
fb_assert_eq "$(fb_body "$out" | jq -r .status)" registered "ann's status"
out=$(fb_register bea@example.com \
	'{"email":"bea@example.com","socket_addresses":["127.0.0.11"],"port":7301,"repositories":[{"name":"shared"}]}' "$U2")
fb_expect 200 "$out" "bea registers on replica 2"
fb_assert_eq "$(fb_body "$out" | jq -r '[.bootstrap_peers[].email] | join(",")')" ann@example.com \
	"replica 2 hands bea the peer registered on replica 1"
out=$(fb_as bea@example.com "$U2/api/bootstrap/discover?repositories=shared")
fb_expect 200 "$out" "discover on replica 2"
fb_valid bootstrap-peer-list.schema.json "$(fb_body "$out")"
fb_assert_eq "$(fb_body "$out" | jq -r '[.[].email] | sort | join(",")')" ann@example.com,bea@example.com \
	"replica 2 discovers both"
out=$(fb_as ann@example.com "$U1/api/bootstrap/discover?repositories=shared")
fb_expect 200 "$out" "discover on replica 1"
fb_assert_eq "$(fb_body "$out" | jq -r '[.[].email] | sort | join(",")')" ann@example.com,bea@example.com \
	"replica 1 discovers both"
fb_assert_eq "$(fb_body "$out" | jq -r '.[] | select(.email == "bea@example.com") | .port')" 7301 \
	"bea's port as registered on replica 2"
# Both rows are in the one database, in the PostgreSQL container.
rows=$(podman exec "${P}_postgres_1" psql -U flashback -d flashback -tAc \
	"SELECT string_agg(email, ',' ORDER BY email) FROM registrations")
fb_assert_eq "$rows" ann@example.com,bea@example.com "registrations in the postgres container"
fb_pass "register on replica 1 and 2, discover across them, one database"

# --- stop: the servers end cleanly on SIGTERM; then nothing of the project is left ---
compose stop -t 20 >"$C/stop.log" 2>&1 || fb_fail "podman-compose stop: $(tail -5 "$C/stop.log")"
for svc in bootstrap bootstrap-2; do
	fb_assert_eq "$(podman inspect --format '{{.State.ExitCode}}' "${P}_${svc}_1")" 0 "$svc exit status"
done
compose down -v >"$C/down.log" 2>&1 || fb_fail "podman-compose down: $(tail -5 "$C/down.log")"
# podman-compose 1.0 leaves the network it made.
podman network rm "${P}_default" >/dev/null
[ -z "$(podman ps -aq --filter label=io.podman.compose.project="$P")" ] || fb_fail "containers left"
! podman volume exists "${P}_pgdata" || fb_fail "volume ${P}_pgdata left"
! podman network exists "${P}_default" || fb_fail "network ${P}_default left"
! fb_wait_port 127.0.0.1 "$PORT1" 0 || fb_fail "port $PORT1 still open"
fb_pass "stopped (exit 0), containers, volume and network removed; images kept as a cache"
