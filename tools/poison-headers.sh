#!/usr/bin/env bash
# tools/poison-headers.sh OUTDIR LAYER PATTERN... - writes, under OUTDIR, a header
# that stops the build with #error for every header a layer may not include.
# A PATTERN ending in / is a folder (every header in it, as found in the system
# include folders or in the tree's own layer folders); anything else is one header.
# Put OUTDIR first on the layer's include path: it shadows the real headers.
set -euo pipefail
out=$1 layer=$2
shift 2
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
multiarch=$(${CC:-cc} -print-multiarch 2>/dev/null || true)
roots=(/usr/include ${multiarch:+/usr/include/$multiarch} peer-agent/src bootstrap-server/src)
poison() {
	mkdir -p "$out.tmp/$(dirname "$1")"
	printf '#error "%s may not include <%s> (see docs/architecture.md, Layers)"\n' \
		"$layer" "$1" >"$out.tmp/$1"
}
for p in "$@"; do
	if [[ $p == */ ]]; then
		for r in "${roots[@]}"; do
			[ -d "$r/$p" ] || continue
			while IFS= read -r h; do poison "${h#"$r"/}"; done \
				< <(find "$r/$p" -name '*.h')
		done
	else
		poison "$p"
	fi
done
rm -rf "$out"
mv "$out.tmp" "$out"
