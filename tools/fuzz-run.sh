#!/usr/bin/env bash
# tools/fuzz-run.sh BUILD NAME SECONDS MAX_LEN SEED_DIR... - runs the libFuzzer
# harness BUILD/fuzz/fuzz_NAME for SECONDS from the seed folders (read only),
# writing what it finds to a scratch corpus BUILD/fuzz/work/NAME that each run
# starts empty, so nothing it grows ends up in the tree. Prints one line:
# executions, corpus and coverage. A crash, leak, timeout (FUZZ_TIMEOUT_S per
# input, 10) or more than FUZZ_RSS_MB (1024) of memory fails it, with the
# log's end and the input that did it in BUILD/fuzz/artifacts/. FUZZ_DICT names
# a libFuzzer dictionary (tokens the mutations insert), if any.
set -euo pipefail
build=$1 name=$2 seconds=$3 max_len=$4
shift 4
bin=$build/fuzz/fuzz_$name
work=$build/fuzz/work/$name
log=$build/fuzz/$name.log
artifacts=$build/fuzz/artifacts

rm -rf "$work" "$artifacts/$name-"*
mkdir -p "$work" "$artifacts"
seeds=$(find "$@" -type f | wc -l)
dict=()
[ -n "${FUZZ_DICT:-}" ] && dict=(-dict="$FUZZ_DICT")
rc=0
"$bin" "${dict[@]}" -max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT_S:-10}" \
	-rss_limit_mb="${FUZZ_RSS_MB:-1024}" -max_len="$max_len" -print_final_stats=1 \
	-artifact_prefix="$artifacts/$name-" "$work" "$@" >"$log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
	tail -n 40 "$log" >&2
	echo "fuzz_$name: FAILED (exit $rc); log $log, input in $artifacts/" >&2
	exit 1
fi
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
corpus=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$done_line")
cov=$(sed -nE 's/.* cov: ([0-9]+) .*/\1/p' <<<"$done_line")
echo "fuzz_$name: ${execs:-?} executions in $seconds s, corpus ${corpus:-?} inputs" \
	"($seeds seeds), coverage ${cov:-?} edges"
