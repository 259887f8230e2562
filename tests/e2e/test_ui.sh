#!/usr/bin/env bash
# The agent's web page on its control API. curl: the page and its files come
# with a strict CSP, nosniff and no framing; a Host that is not the API's own
# address (a DNS rebinding page) is refused on the page and on the API; the
# API still wants its token. Then a real browser (tests/ui/ui.test.js, Debian's
# headless chromium through playwright-core) signs in through `peer-agent ui`
# to three agents (alice and bob broadcast, carol is silent) and uses every
# view: the table sorted and filtered, a discovery, broadcasting turned off
# and on and seen from another agent, a torrent shared and downloaded, the
# relay; a repository named with HTML is shown as text, and carol's address
# is on no page. FB_UI_SCREENSHOTS=DIR keeps a screenshot of each view.
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

ui="$FB_ROOT/tests/ui"
[ -d "$ui/node_modules/playwright-core" ] ||
	fb_fail "npm packages missing: run tests/e2e/run.sh (it runs npm ci in $ui)"
[ -x /usr/bin/chromium ] || fb_fail "chromium is not installed (tools/install-deps.sh)"

# HTML that would run or show if the page ever inserted a network string as markup.
xss_repo='<script>window.xss=1</script><b>bold</b><img src=x onerror=window.xss=2>'

fb_bs_setup
fb_bs_start ui
fb_agent_new alice 127.0.0.2 broadcast "photos,$xss_repo"
fb_agent_new bob 127.0.0.3 broadcast music
fb_agent_new carol 127.0.0.4 silent photos
for n in alice bob carol; do fb_agent_torrent "$n"; done
for n in alice bob carol; do fb_agent_start "$n"; done

port=$FB_AGENT_API_alice
base="http://127.0.0.1:$port"
dir=$(fb_tmpdir)

# The page and its files: no token, the headers on each.
for f in / /app.js /style.css /views/peers.js; do
	code=$(curl -sS -D "$dir/h" -o "$dir/body" -w '%{http_code}' "$base$f")
	fb_assert_eq "$code" 200 "GET $f"
	h=$(tr -d '\r' <"$dir/h")
	fb_assert_contains "$h" "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'" "CSP of $f"
	fb_assert_contains "$h" "X-Content-Type-Options: nosniff" "$f"
	fb_assert_contains "$h" "X-Frame-Options: DENY" "$f"
	fb_assert_contains "$h" "Referrer-Policy: no-referrer" "$f"
	fb_assert_contains "$h" "Cache-Control: no-store" "$f"
done
fb_assert_contains "$(tr -d '\r' <"$dir/h")" "Content-Type: text/javascript; charset=utf-8" "type of a module"
cmp -s "$dir/body" "$FB_ROOT/peer-agent/ui/views/peers.js" || fb_fail "views/peers.js is not the file"
fb_assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' "$base/nothing.html")" 404 "an unknown page"
fb_assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$base/")" 405 "POST /"
fb_pass "the page and its files are served without a token, with CSP, nosniff, DENY, no-referrer, no-store"

# The API keeps its token.
fb_assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' "$base/api/v1/status")" 401 "/api/v1/status without a token"
fb_assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' "$base/api")" 401 "/api without a token"
fb_assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "$base/api/v1/peers")" 401 \
	"a wrong token"
fb_pass "every /api route still wants the Bearer token"

# DNS rebinding: a page of evil.example whose name now points to 127.0.0.1
# sends Host: evil.example:PORT. Refused before the token is even looked at.
token=$(cat "$(fb_agent_home alice)/api.token")
for host in "evil.example:$port" "evil.example" "127.0.0.1" "127.0.0.1:1$port" "localhost.evil.example:$port"; do
	for path in / /api/v1/status; do
		code=$(curl -sS -o "$dir/body" -w '%{http_code}' -H "Host: $host" -H "Authorization: Bearer $token" \
			"$base$path")
		fb_assert_eq "$code" 421 "Host: $host on $path"
		fb_assert_eq "$(jq -r .code "$dir/body")" wrong_host "the error of Host: $host"
	done
done
fb_assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' -H "Host: localhost:$port" "$base/")" 200 "Host: localhost:PORT"
fb_assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
	"http://localhost:$port/api/v1/status")" 200 "the API by the name localhost"
fb_pass "a Host other than the API's own address and port (or localhost:PORT) is refused with 421"

# peer-agent ui: the address with the token in the fragment.
url=$(fb_agent alice ui) || fb_fail "peer-agent ui failed: $url"
fb_assert_eq "$url" "$base/#token=$token" "peer-agent ui"
fb_agent alice --help | grep -q '^  ui \[--open\]' || fb_fail "ui is not in --help"
# --open with an xdg-open that records what it was given.
mkdir -p "$dir/bin"
printf '#!/bin/sh\necho "$1" >"%s/opened"\n' "$dir" >"$dir/bin/xdg-open"
chmod +x "$dir/bin/xdg-open"
PATH="$dir/bin:$PATH" fb_agent alice ui --open >/dev/null || fb_fail "peer-agent ui --open failed"
fb_assert_eq "$(cat "$dir/opened")" "$url" "the address xdg-open was given"
fb_pass "peer-agent ui prints (and with --open opens) $base/#token=..."

registered() { fb_agent "$1" status --json | jq -e '.bootstrap.state == "REGISTERED"' >/dev/null; }
fb_wait_for 30 registered alice || fb_fail "alice did not register"
fb_wait_for 30 registered bob || fb_fail "bob did not register"
fb_agents_meet 40 . alice bob carol
fb_wait_for 40 fb_agent_knows alice bob@example.com '.state == "CONNECTED"' || fb_fail "alice and bob have no session"

head -c $((2 * 1024 * 1024)) /dev/urandom >"$dir/holiday.mov"
mkdir -p "$dir/carol-downloads"
[ -z "${FB_UI_SCREENSHOTS:-}" ] || mkdir -p "$FB_UI_SCREENSHOTS"
out=$(FB_UI_ALICE=$url FB_UI_BOB=$(fb_agent bob ui) FB_UI_CAROL=$(fb_agent carol ui) \
	FB_UI_SILENT_IP=$FB_AGENT_IP_carol FB_UI_XSS_REPO=$xss_repo \
	FB_UI_SHARE_PATH=$dir/holiday.mov FB_UI_DEST=$dir/carol-downloads \
	FB_UI_SCREENSHOTS=${FB_UI_SCREENSHOTS:+$(cd "$FB_UI_SCREENSHOTS" && pwd)} \
	timeout 240 node "$ui/ui.test.js" 2>&1) || fb_fail "the browser checks failed:
$out"
echo "$out"
cmp -s "$dir/holiday.mov" "$dir/carol-downloads/holiday.mov" || fb_fail "carol's download is not alice's file"
fb_pass "the page in chromium: $(grep -c '^ok - ' <<<"$out") checks"
