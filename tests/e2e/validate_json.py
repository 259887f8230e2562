#!/usr/bin/python3
"""tests/e2e/validate_json.py REF < DOC - validate a live answer against proto/.

REF is a schema file of proto/ (with an optional #pointer); a trailing "[]"
validates every item of a top-level array. Uses the same validator as the
contract tests (tests/proto/check_schemas.py): strict integers, asserted
formats. Exit 0 when valid; 1 with every error printed otherwise.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "proto"))
import check_schemas  # noqa: E402

ref = sys.argv[1]
doc = json.load(sys.stdin)
store = check_schemas.load_schemas()
items = ref.endswith("[]")
if items:
    ref = ref[:-2]
    if not isinstance(doc, list):
        print(f"expected a top-level array, got {type(doc).__name__}")
        sys.exit(1)
validator = check_schemas.validator_for(store, ref)
errors = [e for d in (doc if items else [doc]) for e in validator.iter_errors(d)]
for e in errors:
    print(f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}")
sys.exit(1 if errors or check_schemas.failures else 0)
