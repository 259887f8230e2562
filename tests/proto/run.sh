#!/usr/bin/env bash
# tests/proto/run.sh [BUILD_DIR] - the wire contract against the codec (see check_schemas.py).
# Debian's python3 on purpose: python3-jsonschema and python3-yaml are Debian packages.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/check_schemas.py" "$(cd "${1:-$here/../../build}" && pwd)"
