"""The wire contract's tests: proto/ schemas and OpenAPI against the codec.

Run with Debian's /usr/bin/python3 (python3-jsonschema 4.10, python3-yaml).
  1. every schema is valid draft 2020-12; the OpenAPI parses and every $ref resolves;
  2. what the encoder writes (fb-codec sample) validates against its schema and is
     accepted by the decoder;
  3. every document under invalid/<type>/ (and the generated limit cases) is
     rejected by BOTH the schema and the decoder; every one under valid/<type>/ is
     accepted by both;
  4. every codec field table agrees with its schema (check_tables.py).

Choices made so the schemas say what the codec does:
  - "integer" does not accept reals: jsonschema treats 1.0 as an integer, the codec
    (and this checker) do not.
  - formats are asserted: ipv4/ipv6 by jsonschema's checkers, date-time by a strict
    checker of our own (the date must exist).
"""
import copy
import datetime
import json
import os
import subprocess
import sys
import tempfile

import jsonschema
import yaml

import check_tables
from jsonschema import Draft202012Validator, FormatChecker, RefResolver

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROTO = os.path.join(ROOT, "proto")
BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
CODEC = os.path.join(BUILD, "bin", "fb-codec")

# decode type (fb-codec and the corpus directories) -> schema file (and pointer)
DECODE_SCHEMAS = {
    "register-request": "register-request.schema.json",
    "register-response": "register-response.schema.json",
    "bootstrap-peer": "bootstrap-peer.schema.json",
    "bootstrap-peer-list": "bootstrap-peer-list.schema.json",
    "signed-record": "signed-record.schema.json#/$defs/withCertificate",
    "envelope": "envelope.schema.json",
    "peer-info": "peer-info.schema.json",
    "heartbeat-request": "heartbeat-request.schema.json",
    "feedback-request": "feedback-request.schema.json",
    "whitelist-entry": "whitelist.schema.json#/$defs/entryRequest",
    "admin-registrations": "admin-registrations.schema.json",
    "torrent-status": "torrent.schema.json#/$defs/status",
    "torrent-status-list": "torrent.schema.json#/$defs/statusList",
    "torrent-created": "torrent.schema.json#/$defs/created",
    "torrent-add-request": "torrent.schema.json#/$defs/addRequest",
    "relay-status": "relay-status.schema.json",
    "relay-message": "relay-message.schema.json",
}
# sample type -> (schema, decode type or None when there is no decoder)
SAMPLES = {
    "register-request": ("register-request.schema.json", "register-request"),
    "register-response": ("register-response.schema.json", "register-response"),
    "bootstrap-peer-list": ("bootstrap-peer-list.schema.json", "bootstrap-peer-list"),
    "signed-record": ("signed-record.schema.json#/$defs/withCertificate", "signed-record"),
    "envelope-announcement": ("envelope.schema.json", "envelope"),
    "envelope-request": ("envelope.schema.json", "envelope"),
    "envelope-torrent-search": ("envelope.schema.json", "envelope"),
    "envelope-list-response": ("envelope.schema.json", "envelope"),
    "envelope-heartbeat": ("envelope.schema.json", "envelope"),
    "peer-info": ("peer-info.schema.json", "peer-info"),
    "peer-info-discover": ("peer-info.schema.json", "peer-info"),
    "status": ("status.schema.json", None),
    "error": ("error.schema.json", None),
    "admin-registrations": ("admin-registrations.schema.json", "admin-registrations"),
    "whitelist": ("whitelist.schema.json", None),
    "torrent-status": ("torrent.schema.json#/$defs/status", "torrent-status"),
    "torrent-status-list": ("torrent.schema.json#/$defs/statusList", "torrent-status-list"),
    "torrent-created": ("torrent.schema.json#/$defs/created", "torrent-created"),
    "torrent-add-request-create": ("torrent.schema.json#/$defs/addRequest", "torrent-add-request"),
    "torrent-add-request-get": ("torrent.schema.json#/$defs/addRequest", "torrent-add-request"),
    "relay-status": ("relay-status.schema.json", "relay-status"),
    "relay-invite": ("relay-message.schema.json", "relay-message"),
    "relay-reserved": ("relay-message.schema.json", "relay-message"),
}

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg)


def strict_date_time(value):
    if not isinstance(value, str):
        return True
    try:
        datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return False
    return True


FORMATS = FormatChecker()
FORMATS.checks("date-time")(strict_date_time)
TYPES = Draft202012Validator.TYPE_CHECKER.redefine(
    "integer", lambda checker, v: isinstance(v, int) and not isinstance(v, bool))
Validator = jsonschema.validators.extend(Draft202012Validator, type_checker=TYPES)


def load_schemas():
    store = {}
    for name in sorted(os.listdir(PROTO)):
        if not name.endswith(".schema.json"):
            continue
        with open(os.path.join(PROTO, name)) as f:
            schema = json.load(f)
        try:
            Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            fail(f"{name}: not a valid 2020-12 schema: {e.message}")
        if not schema.get("$id", "").endswith("/" + name):
            fail(f"{name}: $id does not name the file")
        # Validate with our Validator class throughout: jsonschema re-picks the class by
        # "$schema" when it descends into a referenced schema, which would drop our checkers.
        schema = {k: v for k, v in schema.items() if k != "$schema"}
        store[name] = schema
        store[schema["$id"]] = schema
    return store


def validator_for(store, ref):
    name, _, pointer = ref.partition("#")
    base = store[name]
    resolver = RefResolver.from_schema(base, store=store)
    schema = {"$ref": base["$id"] + ("#" + pointer if pointer else "")}
    return Validator(schema, resolver=resolver, format_checker=FORMATS)


def schema_accepts(store, ref, doc):
    return next(iter(validator_for(store, ref).iter_errors(doc)), None)


def codec_decode(dtype, text):
    r = subprocess.run([CODEC, "decode", dtype], input=text.encode(), capture_output=True)
    if r.returncode not in (0, 1):
        fail(f"fb-codec decode {dtype} crashed or refused to run (exit {r.returncode}): {r.stderr!r}")
    return r.returncode == 0, r.stdout.decode().strip()


# Each OpenAPI file and the paths it must describe.
OPENAPI = {
    "bootstrap.openapi.yaml": (
        "/api/bootstrap/register", "/api/bootstrap/heartbeat", "/api/bootstrap/unregister",
        "/api/bootstrap/peers", "/api/bootstrap/discover", "/api/bootstrap/feedback",
        "/api/relay/broadcast/ready", "/api/relay/broadcast/lookup", "/api/relay/broadcast/list",
        "/api/admin/registrations", "/api/admin/whitelist", "/api/admin/pins/{email}",
        "/healthz", "/readyz", "/metrics"),
    "agent.openapi.yaml": (
        "/api/v1/status", "/api/v1/peers", "/api/v1/discover", "/api/v1/lookup",
        "/api/v1/broadcast", "/api/v1/torrents", "/api/v1/torrents/search",
        "/api/v1/torrents/{info_hash}", "/api/v1/relay",
        "/api/v1/metrics", "/"),
}


def check_openapi(store, fname, paths):
    path = os.path.join(PROTO, fname)
    with open(path) as f:
        api = yaml.safe_load(f)
    if not str(api.get("openapi", "")).startswith("3.1"):
        fail(f"{fname}: not OpenAPI 3.1")
    refs = []

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref" and isinstance(v, str):
                    refs.append(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(api)
    for ref in refs:
        name, _, pointer = ref.partition("#")
        target = api if name == "" else store.get(name)
        if target is None:
            fail(f"{fname}: $ref {ref}: no such file")
            continue
        for part in [p for p in pointer.split("/") if p]:
            if not isinstance(target, dict) or part not in target:
                fail(f"{fname}: $ref {ref}: pointer does not resolve")
                break
            target = target[part]
    for p in paths:
        if p not in api.get("paths", {}):
            fail(f"{fname}: path {p} missing")
    print(f"{fname}: {len(api['paths'])} paths, {len(refs)} $refs checked")


def check_samples(store):
    for stype, (ref, dtype) in SAMPLES.items():
        r = subprocess.run([CODEC, "sample", stype], capture_output=True)
        if r.returncode != 0:
            fail(f"sample {stype}: fb-codec failed: {r.stderr!r}")
            continue
        doc = json.loads(r.stdout)
        err = schema_accepts(store, ref, doc)
        if err is not None:
            fail(f"sample {stype}: the encoder's output breaks {ref}: {err.message} at {list(err.path)}")
        if dtype is not None:
            ok, msg = codec_decode(dtype, r.stdout.decode())
            if not ok:
                fail(f"sample {stype}: the decoder refuses the encoder's output: {msg}")
    print(f"samples: {len(SAMPLES)} encoder outputs checked")


def generated_cases():
    """Limit edges too large to keep as files: (kind, type, name, document)."""
    base = {"email": "alice@example.com", "socket_addresses": ["192.0.2.10"], "port": 7443,
            "repositories": [{"name": "photos"}]}
    local, label = "l" * 64, "d" * 63

    def with_(**kw):
        d = copy.deepcopy(base)
        d.update(kw)
        return d
    yield "valid", "register-request", "email-254-bytes", with_(email=f"{local}@{label}.{label}.{'e' * 61}")
    yield "invalid", "register-request", "email-255-bytes", with_(email=f"{local}@{label}.{label}.{'e' * 62}")
    yield "invalid", "register-request", "local-part-65", with_(email="l" * 65 + "@example.com")
    yield "valid", "register-request", "repository-name-255", with_(repositories=[{"name": "n" * 255}])
    yield "invalid", "register-request", "repository-name-256", with_(repositories=[{"name": "n" * 256}])
    yield "valid", "register-request", "description-1024", with_(repositories=[{"name": "a", "description": "d" * 1024}])
    yield "invalid", "register-request", "description-1025", with_(repositories=[{"name": "a", "description": "d" * 1025}])
    yield "valid", "register-request", "256-repositories", with_(repositories=[{"name": f"r{i}"} for i in range(256)])
    yield "invalid", "register-request", "257-repositories", with_(repositories=[{"name": f"r{i}"} for i in range(257)])
    yield "valid", "register-request", "16-addresses", with_(socket_addresses=[f"10.0.0.{i}" for i in range(1, 17)])
    yield "invalid", "register-request", "17-addresses", with_(socket_addresses=[f"10.0.0.{i}" for i in range(1, 18)])
    with open(os.path.join(HERE, "valid", "signed-record", "with-torrents.json")) as f:
        signed = json.load(f)

    def torrents(n, name="t"):
        d = copy.deepcopy(signed)
        d["record"]["torrents"] = [dict(d["record"]["torrents"][0], info_hash=f"{i:040x}", name=name)
                                   for i in range(n)]
        return d
    yield "valid", "signed-record", "256-torrents", torrents(256)
    yield "invalid", "signed-record", "257-torrents", torrents(257)
    yield "valid", "signed-record", "torrent-name-255", torrents(1, "n" * 255)
    yield "invalid", "signed-record", "torrent-name-256", torrents(1, "n" * 256)

    def relays(n):
        d = copy.deepcopy(signed)
        d["record"]["relays"] = [f"relay{i}@example.com" for i in range(n)]
        return d
    yield "valid", "signed-record", "4-relays", relays(4)
    yield "invalid", "signed-record", "5-relays", relays(5)


def check_corpus(store):
    counts = {"valid": 0, "invalid": 0}
    cases = []
    for kind in ("valid", "invalid"):
        kdir = os.path.join(HERE, kind)
        for dtype in sorted(os.listdir(kdir)):
            for name in sorted(os.listdir(os.path.join(kdir, dtype))):
                with open(os.path.join(kdir, dtype, name)) as f:
                    text = f.read()
                cases.append((kind, dtype, name, text))
    for kind, dtype, name, doc in generated_cases():
        cases.append((kind, dtype, name + " (generated)", json.dumps(doc)))
    for kind, dtype, name, text in cases:
        ref = DECODE_SCHEMAS[dtype]
        schema_err = schema_accepts(store, ref, json.loads(text))
        codec_ok, codec_msg = codec_decode(dtype, text)
        where = f"{kind}/{dtype}/{name}"
        if kind == "invalid":
            if schema_err is None:
                fail(f"{where}: the schema accepts it (the decoder says: {codec_msg})")
            if codec_ok:
                fail(f"{where}: the decoder accepts it")
        else:
            if schema_err is not None:
                fail(f"{where}: the schema rejects it: {schema_err.message}")
            if not codec_ok:
                fail(f"{where}: the decoder rejects it: {codec_msg}")
        counts[kind] += 1
    print(f"corpus: {counts['invalid']} invalid documents rejected by schema and decoder, "
          f"{counts['valid']} valid accepted by both (unless listed above)")


def main():
    store = load_schemas()
    print(f"schemas: {len(store) // 2} valid draft 2020-12")
    for fname, paths in OPENAPI.items():
        check_openapi(store, fname, paths)
    check_samples(store)
    check_corpus(store)
    check_tables.check(store, CODEC, fail)
    if failures:
        print(f"proto: {len(failures)} failures")
        sys.exit(1)
    print("proto: all checks passed")


if __name__ == "__main__":
    main()
