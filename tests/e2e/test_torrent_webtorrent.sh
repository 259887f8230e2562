#!/usr/bin/env bash
# Browser WebTorrent (npm's webtorrent, its browser bundle in Debian's
# headless chromium through playwright-core) downloads a 20 MiB file from
# the torrent HTTP port's web seed alone: no tracker, no WebRTC peer, the
# page on another origin than the seed, so each Range request goes through
# the CORS preflight. The SHA-256 of what the browser holds must be the file's.
# First from fb-webseed (the HTTP port alone), then from a running agent's
# [torrent] http_listen with the .torrent its `torrent create` wrote.
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

wt="$FB_ROOT/tests/e2e/webtorrent"
[ -f "$wt/node_modules/webtorrent/dist/webtorrent.min.js" ] && [ -d "$wt/node_modules/playwright-core" ] ||
	fb_fail "npm packages missing: run tests/e2e/run.sh (it runs npm ci in $wt)"
[ -x /usr/bin/chromium ] || fb_fail "chromium is not installed (tools/install-deps.sh)"
dir=$(fb_tmpdir)
head -c $((20 * 1024 * 1024 + 777)) /dev/urandom >"$dir/movie.bin"
want=$(sha256sum <"$dir/movie.bin" | cut -d' ' -f1)

host=127.0.0.3
"$FB_BUILD/bin/fb-webseed" --host "$host" --port "$(fb_free_port "$host")" --file "$dir/movie.bin" \
	--torrent "$dir/movie.torrent" >"$dir/ws.out" 2>"$dir/ws.log" &
ws_pid=$!
fb_on_exit "kill $ws_pid"
fb_wait_for 30 grep -q '^ready ' "$dir/ws.out" || fb_fail "fb-webseed did not start: $(cat "$dir/ws.log")"

out=$(timeout 180 node "$wt/webseed.js" "$dir/movie.torrent" 2>"$dir/browser.log") ||
	fb_fail "the browser did not download it: $(tail -20 "$dir/browser.log")"
fb_assert_eq "$out" "sha256 $want" "the browser's copy"
kill -0 "$ws_pid" || fb_fail "the HTTP port died"
fb_pass "browser WebTorrent downloads from our web seed across origins ($(grep downloaded "$dir/browser.log"))"

# The same from a running agent: its own .torrent, its own web seed.
fb_agent_new web 127.0.0.5 broadcast films
fb_agent_torrent web
fb_agent_start web
created=$(fb_agent web torrent create "$dir/movie.bin" --json) || fb_fail "create failed: $created"
tfile=$(jq -r .torrent_file <<<"$created")
out=$(timeout 180 node "$wt/webseed.js" "$tfile" 2>"$dir/browser-agent.log") ||
	fb_fail "the browser did not download from the agent: $(tail -20 "$dir/browser-agent.log")"
fb_assert_eq "$out" "sha256 $want" "the browser's copy from the agent"
fb_pass "browser WebTorrent downloads from the agent's web seed ($(grep downloaded "$dir/browser-agent.log"))"
