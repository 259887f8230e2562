"""The codec's field tables (fb-codec tables) held to their schemas in proto/.

For every table that names a schema, the schema (with $ref and allOf followed)
must list the same members, require the same ones, and state the same limits:
string maxLength, integer minimum/maximum, array maxItems, enum values, the
string kind (which common.schema.json definition the member refers to) and
null where the table allows it. A table member the schema lacks, or a schema
property the table lacks, is a failure.
"""
import json
import subprocess

# The codec's string kinds and the common.schema.json definitions that say them.
STRING_DEFS = {
    "email": "email",
    "uuid": "uuid",
    "ip": "ipAddress",
    "repository-name": "repositoryName",
    "fingerprint": "fingerprint",
    "info-hash": "infoHash",
    "sha256": "sha256",
    "torrent-name": "torrentName",
}
# Kinds whose pattern fixes the length: the schema need not repeat the cap.
FIXED_LENGTH = {"uuid", "fingerprint", "info-hash", "sha256"}
SAFE_INTEGER = 9007199254740991


class Flat:
    """A schema with its $refs and allOf merged: what one object or value must be."""

    def __init__(self):
        self.types = set()
        self.properties = {}
        self.required = set()
        self.additional = None
        self.keywords = {}
        self.refs = []
        self.items = None
        self.nullable = False


def resolve(store, base, ref):
    name, _, pointer = ref.partition("#")
    doc = store[name] if name else base
    node = doc
    for part in [p for p in pointer.split("/") if p]:
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return doc, node


def flatten(store, base, schema, flat=None):
    flat = flat or Flat()
    if "$ref" in schema:
        ref = schema["$ref"]
        flat.refs.append(ref.rpartition("/")[2] if "#" in ref else ref)
        doc, node = resolve(store, base, ref)
        flatten(store, doc, node, flat)
    for sub in schema.get("allOf", []):
        flatten(store, base, sub, flat)
    for alt in schema.get("anyOf", []) + schema.get("oneOf", []):
        if alt.get("type") == "null":
            flat.nullable = True
        else:
            flatten(store, base, alt, flat)
    t = schema.get("type")
    for one in t if isinstance(t, list) else [t] if t else []:
        if one == "null":
            flat.nullable = True
        else:
            flat.types.add(one)
    for key, prop in schema.get("properties", {}).items():
        flat.properties.setdefault(key, []).append((base, prop))
    flat.required |= set(schema.get("required", []))
    if isinstance(schema.get("additionalProperties"), dict):
        flat.additional = (base, schema["additionalProperties"])
    if "items" in schema:
        flat.items = (base, schema["items"])
    for k in ("maxLength", "minimum", "maximum", "maxItems", "enum", "const", "pattern"):
        if k in schema:
            flat.keywords[k] = schema[k]
    return flat


def flat_of(store, pairs):
    flat = Flat()
    for base, schema in pairs:
        flatten(store, base, schema, flat)
    return flat


class Checker:
    def __init__(self, store, tables, fail):
        self.store = store
        self.types = {t["name"]: t for t in tables}
        self.fail = fail

    def expect(self, where, what, table, schema):
        if table != schema:
            self.fail(f"{where}: {what}: table says {table!r}, schema says {schema!r}")

    def members(self, tname):
        """The table's wire members, embedded tables' included."""
        out = []
        for f in self.types[tname]["fields"]:
            if f["kind"] == "embed":
                out += self.members(f["type"])
            else:
                out.append(f)
        return out

    def check_object(self, where, tname, flat, lax=False):
        fields = self.members(tname)
        names = {f["name"] for f in fields}
        for f in fields:
            fwhere = f"{where}.{f['name']}"
            if f["name"] in flat.properties:
                prop = flat_of(self.store, flat.properties[f["name"]])
            elif flat.additional is not None:
                prop = flat_of(self.store, [flat.additional])
            else:
                self.fail(f"{fwhere}: in the table, not in the schema")
                continue
            req = f["required"]
            want = req in ("required", "written") or (req == "laxable" and not lax)
            if req != "conditional":
                self.expect(fwhere, "required", want, f["name"] in flat.required)
            elif f["name"] in flat.required:
                self.fail(f"{fwhere}: conditional in the table, always required in the schema")
            self.check_value(fwhere, f, prop)
        for name in flat.properties:
            if name not in names:
                self.fail(f"{where}.{name}: in the schema, not in the table")

    def check_value(self, where, f, prop):
        kind, kw = f["kind"], prop.keywords
        self.expect(where, "nullable", f["nullable"], prop.nullable)
        if kind == "string":
            fmt = f["format"]
            if fmt in STRING_DEFS:
                self.expect(where, "string kind", STRING_DEFS[fmt],
                            next((r for r in prop.refs if r in STRING_DEFS.values()), None))
            if "maxLength" in kw:
                self.expect(where, "max length", f["max_length"], kw["maxLength"])
            elif fmt not in FIXED_LENGTH and "enum" not in kw and "const" not in kw:
                self.fail(f"{where}: the table caps it at {f['max_length']} bytes, "
                          "the schema has no maxLength")
        elif kind in ("integer", "version"):
            if kind == "version":
                self.expect(where, "const", 1, kw.get("const"))
            else:
                self.expect(where, "range", (f["min"], f["max"]),
                            (kw.get("minimum"), kw.get("maximum")))
        elif kind == "score":
            self.expect(where, "range", (0, 100), (kw.get("minimum"), kw.get("maximum")))
        elif kind == "time":
            self.expect(where, "refers to timestamp", True, "timestamp" in prop.refs)
        elif kind == "number":
            self.expect(where, "type", {"number"}, prop.types)
        elif kind == "boolean":
            self.expect(where, "type", {"boolean"}, prop.types)
        elif kind == "enum":
            self.expect(where, "values", f["values"], kw.get("enum"))
        elif kind in ("strlist", "array", "intlist"):
            self.expect(where, "max entries", f["max_entries"], kw.get("maxItems"))
            items = flat_of(self.store, [prop.items]) if prop.items else Flat()
            if kind == "array":
                self.check_object(where + "[]", f["type"], items, lax=f["lax"])
            elif kind == "strlist":
                item = dict(f, kind="string", max_length=f["item_max_length"],
                            nullable=False)
                self.check_value(where + "[]", item, items)
        elif kind == "counters":
            self.expect(where, "type", {"object"}, prop.types)
            if prop.additional is None:
                self.fail(f"{where}: counters without additionalProperties in the schema")
        elif kind == "object":
            self.check_object(where, f["type"], prop, lax=f["lax"])

    def check_type(self, t):
        doc, node = resolve(self.store, None, t["schema"])
        self.check_object(t["name"], t["name"], flatten(self.store, doc, node))


def check(store, codec, fail):
    r = subprocess.run([codec, "tables"], capture_output=True)
    if r.returncode != 0:
        fail(f"fb-codec tables failed (exit {r.returncode}): {r.stderr!r}")
        return
    tables = json.loads(r.stdout)
    checker = Checker(store, tables, fail)
    n = 0
    for t in tables:
        if t["schema"] is not None:
            checker.check_type(t)
            n += 1
    print(f"tables: {n} codec tables compared with their schemas")
