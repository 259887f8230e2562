#!/usr/bin/env bash
# tests/e2e/run.sh [BUILD_DIR] [PATTERN] - runs every tests/e2e/test_*.sh (or those
# matching PATTERN) with a time limit each, prints PASS/FAIL per test and a summary.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export FB_BUILD=$(cd "${1:-$here/../../build}" && pwd)
pattern=${2:-}
limit_s=${FB_E2E_TIMEOUT_S:-300}
# The tests' folders (and the PostgreSQL clusters in them) go under one of this
# run's own, so the leftover check below sees this run only.
run_tmp=$(mktemp -d "${TMPDIR:-/tmp}/fb-e2e.XXXXXX")
chmod 0755 "$run_tmp"
trap 'rm -rf "$run_tmp"' EXIT
passed=0
failed=0
failures=()

# The browser tests' npm packages (webtorrent, playwright-core), once per
# folder, from its committed lock file; again only when the lock changed. No
# install scripts: playwright's would download browsers, we drive Debian's chromium.
for npmdir in "$here/webtorrent" "$here/../ui"; do
	if ! cmp -s "$npmdir/package-lock.json" "$npmdir/node_modules/.package-lock.json.installed" 2>/dev/null; then
		(cd "$npmdir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2 &&
			cp "$npmdir/package-lock.json" "$npmdir/node_modules/.package-lock.json.installed" ||
			echo "run.sh: npm ci in $npmdir failed; its browser test will fail" >&2
	fi
done

for t in "$here"/test_*.sh; do
	name=$(basename "$t" .sh)
	[ -n "$pattern" ] && [[ $name != *$pattern* ]] && continue
	start=$SECONDS
	log=$(mktemp)
	# TERM first so the test's traps stop its servers; KILL 15 s later if it hangs.
	if TMPDIR=$run_tmp FB_TEST_NAME=$name timeout --kill-after=15 "$limit_s" bash "$t" >"$log" 2>&1; then
		echo "PASS $name ($((SECONDS - start)) s)"
		passed=$((passed + 1))
	else
		rc=$?
		echo "FAIL $name (exit $rc after $((SECONDS - start)) s); last lines:"
		tail -n 25 "$log" | sed 's/^/    /'
		failed=$((failed + 1))
		failures+=("$name")
	fi
	rm -f "$log"
done
# A test that left a server behind has a bug even when it passed.
if pgrep -f "$run_tmp/fb-test\.[A-Za-z0-9]+/d\.[A-Za-z0-9]+/data" >/dev/null; then
	echo "FAIL leftover PostgreSQL processes from a test:"
	pgrep -af "$run_tmp/fb-test\.[A-Za-z0-9]+/d\.[A-Za-z0-9]+/data" | sed 's/^/    /'
	failed=$((failed + 1))
	failures+=("leftover-postgres")
fi
echo "e2e: $passed passed, $failed failed${failures:+ (${failures[*]})}"
[ "$failed" -eq 0 ]
