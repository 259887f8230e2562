#!/usr/bin/env bash
# The Debian packages as an admin meets them: `make deb` builds both from a copy
# of the tree (which stays clean), lintian finds no error or warning, dpkg -i
# installs them, the installed programs, man pages, completion and units work
# (systemd-analyze verify, offline, as this container runs no systemd), the
# agent leaves on SIGTERM with exit 0, and dpkg --purge removes every file it
# installed and every trace the units' helpers left. The system user flashback
# is kept on purge (Debian's rule for system users, debian/*.postrm); this test
# removes it again when it made it, so the machine is left as it was.
set -euo pipefail
. "$(dirname "$0")/../lib/certs.sh"

[ "$(id -u)" -eq 0 ] || fb_fail "needs root (dpkg -i)"
pkgs=(flashback-peer-agent flashback-bootstrap-server)
for p in "${pkgs[@]}"; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed'; then
		fb_fail "$p is installed already: this test would remove it"
	fi
done
tmp=$(fb_tmpdir)
# dpkg ARGS... : dpkg, waiting up to 2 minutes while another installation
# (apt-get on this machine) holds its lock; output in $tmp/dpkg.log.
dpkg_locked() {
	local deadline=$((SECONDS + 120))
	until dpkg "$@" >"$tmp/dpkg.log" 2>&1; do
		grep -q 'lock' "$tmp/dpkg.log" && ((SECONDS < deadline)) || return 1
		sleep 2
	done
}
user_before=$(getent passwd flashback || true)
group_before=$(getent group flashback || true)
# What the units' helpers keep (enable links, their state), before and after.
traces() {
	find /etc/systemd /var/lib/systemd -name '*flashback*' 2>/dev/null | sort
}
traces >"$tmp/traces-before"

fb_on_exit "dpkg --purge ${pkgs[*]} >/dev/null 2>&1 || true"
if [ -z "$user_before" ]; then
	fb_on_exit "getent passwd flashback >/dev/null && deluser --system --quiet flashback >/dev/null 2>&1 || true"
fi
if [ -z "$group_before" ]; then
	fb_on_exit "getent group flashback >/dev/null && delgroup --system --quiet flashback >/dev/null 2>&1 || true"
fi

# Build out of the tree; the tree must be as clean afterwards as before.
status_before=$(git -C "$FB_ROOT" status --porcelain)
nice make -C "$FB_ROOT" --no-print-directory deb DEB_DIR="$tmp/deb" DEB_JOBS=2 \
	>"$tmp/build.log" 2>&1 || { tail -30 "$tmp/build.log" >&2; fb_fail "make deb failed"; }
fb_assert_eq "$(git -C "$FB_ROOT" status --porcelain)" "$status_before" "git status after make deb"
debs=()
for p in "${pkgs[@]}"; do
	d=$(ls "$tmp/deb/${p}"_*.deb 2>/dev/null | grep -v dbgsym | head -n 1)
	[ -n "$d" ] || fb_fail "make deb made no $p package"
	debs+=("$d")
done
fb_pass "make deb built ${debs[*]##*/}"

lintian --fail-on error,warning "${debs[@]}" >"$tmp/lintian.log" 2>&1 ||
	{ cat "$tmp/lintian.log" >&2; fb_fail "lintian reports errors or warnings"; }
fb_pass "lintian: no error or warning ($(grep -c '^[IP]:' "$tmp/lintian.log" || true) info/pedantic tags)"

dpkg_locked -i "${debs[@]}" || { cat "$tmp/dpkg.log" >&2; fb_fail "dpkg -i failed"; }
for p in "${pkgs[@]}"; do
	# Files only: directories such as /usr/bin are shared with other packages.
	dpkg -L "$p" | while read -r f; do [ -d "$f" ] || echo "$f"; done >"$tmp/$p.files"
	fb_log "$p: $(wc -l <"$tmp/$p.files") files: $(tr '\n' ' ' <"$tmp/$p.files")"
done
for f in /usr/bin/peer-agent /usr/share/man/man1/peer-agent.1.gz \
	/usr/share/man/man5/flashback-agent.ini.5.gz /usr/share/bash-completion/completions/peer-agent \
	/usr/lib/systemd/user/flashback-peer-agent.service; do
	grep -qx "$f" "$tmp/flashback-peer-agent.files" || fb_fail "flashback-peer-agent lacks $f"
done
unit=$(grep -E '/systemd/system/flashback-bootstrap-server\.service$' "$tmp/flashback-bootstrap-server.files") ||
	fb_fail "flashback-bootstrap-server has no system unit"
for f in /usr/bin/bootstrap-server /usr/share/man/man8/bootstrap-server.8.gz \
	/etc/flashback/bootstrap-server.ini /etc/flashback/bootstrap-server.env; do
	grep -qx "$f" "$tmp/flashback-bootstrap-server.files" || fb_fail "flashback-bootstrap-server lacks $f"
done
fb_assert_eq "$(dpkg-query -W -f='${Conffiles}' flashback-bootstrap-server | awk 'NF { print $1 }' | sort | tr '\n' ' ')" \
	"/etc/flashback/bootstrap-server.env /etc/flashback/bootstrap-server.ini " "conffiles"
fb_log "the units' traces while installed: $(traces | tr '\n' ' ')"
fb_pass "both packages installed with their programs, pages, units, completion and conffiles"

fb_assert_eq "$(/usr/bin/peer-agent --version)" "peer-agent $(sed -n 's/^VERSION := //p' "$FB_ROOT/Makefile")" \
	"peer-agent --version"
getent passwd flashback | grep -q ':/usr/sbin/nologin$' || fb_fail "no system user flashback with nologin"
fb_assert_eq "$(stat -c '%U:%G %a' /etc/flashback/bootstrap-server.env)" "root:flashback 640" \
	"the environment file may hold a password"

# --check-config: the packaged settings name a certificate the admin has not put
# there yet (exit 2, the file named); with one it is ok, as the unit's user.
set +e
err=$(runuser -u flashback -- /usr/bin/bootstrap-server --config /etc/flashback/bootstrap-server.ini \
	--check-config 2>&1)
rc=$?
set -e
fb_assert_eq "$rc" 2 "--check-config without a certificate"
fb_assert_contains "$err" "/etc/flashback/bootstrap-server.crt" "the error names the missing file"
fb_make_ca "$tmp/ca"
fb_make_server_cert "$tmp/ca" "$tmp/srv" server
chmod 0644 "$tmp/srv/server.key"
out=$(runuser -u flashback -- env BOOTSTRAP_CERT="$tmp/srv/server.crt" BOOTSTRAP_KEY="$tmp/srv/server.key" \
	/usr/bin/bootstrap-server --config /etc/flashback/bootstrap-server.ini --check-config) ||
	fb_fail "--check-config with a certificate and key failed"
fb_assert_contains "$out" "configuration ok: listen 127.0.0.1:8443" "--check-config"
fb_pass "bootstrap-server --check-config: exit 2 naming the missing certificate, then ok"

for page in peer-agent bootstrap-server flashback-agent.ini; do
	w=$(man -w "$page") || fb_fail "man -w $page finds nothing"
	grep -qx "$w" "$tmp/flashback-peer-agent.files" "$tmp/flashback-bootstrap-server.files" ||
		fb_fail "man -w $page: $w is not a packaged page"
done
MANWIDTH=100 man 5 flashback-agent.ini 2>/dev/null | grep -q 'max_circuit_bytes = 1073741824' ||
	fb_fail "man 5 flashback-agent.ini does not render its keys"
fb_pass "man finds peer-agent(1), bootstrap-server(8), flashback-agent.ini(5)"

# Completion, as bash-completion loads it.
words=$(bash -c '. /usr/share/bash-completion/bash_completion
	. /usr/share/bash-completion/completions/peer-agent
	COMP_WORDS=(peer-agent torrent g); COMP_CWORD=2; COMP_LINE="peer-agent torrent g"
	COMP_POINT=${#COMP_LINE}; _peer_agent; echo "${COMPREPLY[*]}"
	COMP_WORDS=(peer-agent torrent get --); COMP_CWORD=3; COMP_LINE="peer-agent torrent get --"
	COMP_POINT=${#COMP_LINE}; _peer_agent; echo "${COMPREPLY[*]}"')
fb_assert_eq "$(head -n 1 <<<"$words")" "get" "completion of 'torrent g'"
fb_assert_contains "$(tail -n 1 <<<"$words")" "--dest" "completion of 'torrent get --'"
fb_pass "bash completion completes commands and options"

# The units, offline. A user manager needs a runtime directory to verify.
mkdir -m 0700 "$tmp/xdg"
systemd-analyze verify "$unit" >"$tmp/verify.log" 2>&1 ||
	{ cat "$tmp/verify.log" >&2; fb_fail "systemd-analyze verify $unit"; }
[ ! -s "$tmp/verify.log" ] || { cat "$tmp/verify.log" >&2; fb_fail "systemd-analyze verify $unit warns"; }
XDG_RUNTIME_DIR=$tmp/xdg systemd-analyze --user verify /usr/lib/systemd/user/flashback-peer-agent.service \
	>"$tmp/verify.log" 2>&1 || { cat "$tmp/verify.log" >&2; fb_fail "systemd-analyze --user verify"; }
[ ! -s "$tmp/verify.log" ] || { cat "$tmp/verify.log" >&2; fb_fail "systemd-analyze --user verify warns"; }
exposure=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null |
	sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] || fb_fail "systemd-analyze security gave no exposure level"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fb_fail "the server unit's exposure is $exposure, above 2.0"
fb_pass "systemd-analyze verify passes both units; the server's exposure level is $exposure"

# The agent the user unit runs: its ExecStart with %h/.flashback, stopped by
# SIGTERM (the unit's KillSignal), exits 0.
home=$tmp/user/.flashback
mkdir -m 0700 "$tmp/user"
exec_start=$(sed -n 's/^ExecStart=//p' /usr/lib/systemd/user/flashback-peer-agent.service)
fb_assert_eq "$exec_start" "/usr/bin/peer-agent --home %h/.flashback run" "the user unit's ExecStart"
/usr/bin/peer-agent init --home "$home" --email pkg@example.com >/dev/null
api_port=$(fb_free_port)
printf '[api]\nlisten = 127.0.0.1:%s\n' "$api_port" >>"$home/agent.ini"
${exec_start//%h/$tmp/user} >"$tmp/agent.log" 2>&1 &
agent_pid=$!
fb_on_exit "kill $agent_pid 2>/dev/null || true"
fb_wait_for 10 /usr/bin/peer-agent status --home "$home" || fb_fail "the agent did not answer status"
kill -TERM "$agent_pid"
set +e
wait "$agent_pid"
rc=$?
set -e
fb_assert_eq "$rc" 0 "the agent's exit status after SIGTERM"
fb_pass "the user unit's command runs the agent, which exits 0 on SIGTERM"

dpkg_locked --purge "${pkgs[@]}" || { cat "$tmp/dpkg.log" >&2; fb_fail "dpkg --purge"; }
for p in "${pkgs[@]}"; do
	while read -r f; do
		[ ! -e "$f" ] && [ ! -L "$f" ] || fb_fail "$f is left after purging $p"
	done <"$tmp/$p.files"
done
[ ! -e /etc/flashback ] || fb_fail "/etc/flashback is left after purge"
traces >"$tmp/traces-after"
cmp -s "$tmp/traces-before" "$tmp/traces-after" ||
	fb_fail "systemd traces left: $(comm -13 "$tmp/traces-before" "$tmp/traces-after" | tr '\n' ' ')"
getent passwd flashback >/dev/null || fb_fail "the system user flashback was removed on purge (it is kept)"
fb_pass "dpkg --purge removed every packaged file, /etc/flashback and the units' traces; the user flashback is kept"
