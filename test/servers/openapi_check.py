"""Checks a request against GitHub's OpenAPI description (shared/refdata subset).

    spec = Spec()                      # loads api.github.com.subset.json
    r = spec.validate("POST", "/repos/o/r/deployments/7/statuses", [], b'{"state":"bogus"}')
    r.operation_id   -> "repos/create-deployment-status"  (None: no operation matches)
    r.ok             -> False
    r.errors         -> [{"in": "body", "name": "state", "message": "..."}]
    r.body_messages  -> GitHub's own phrasing, for the 422 "Invalid request." message

What is checked: the operation exists (method + path template); path parameters
have their declared type; query parameters are declared for the operation, of
the declared type and inside the enum, per_page <= 100 (GitHub documents "max
100" in prose only); the JSON body parses, has the required properties, each
property has the declared type / enum / nullability (oneOf, anyOf, items,
nested objects), and no unknown property when additionalProperties is false.

Run as a script to check one request by hand:
    python3 openapi_check.py POST /repos/o/r/issues/1/comments '{"body":"x"}'
"""
import json
import os
import re
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SPEC = os.path.abspath(os.path.join(
    HERE, "..", "..", "..", "shared", "refdata", "github", "api.github.com.subset.json"))
if not os.path.exists(DEFAULT_SPEC):
    DEFAULT_SPEC = "/work/shared/refdata/github/api.github.com.subset.json"

# Endpoints prenv may call that are not in the subset: known, so not an error,
# but nothing to check beyond their path.
EXTRA_OPERATIONS = {
    ("GET", "/user"): "users/get-authenticated",
}

_TYPE_WORD = {"string": "a string", "integer": "an integer", "number": "a number",
              "boolean": "a boolean", "array": "an array", "object": "an object"}


class Result:
    def __init__(self):
        self.operation_id = None
        self.template = None
        self.path_params = {}
        self.doc_url = None
        self.errors = []          # every violation (path, query, body)
        self.body_messages = []   # GitHub-phrased body violations (422)
        self.path_error = False   # a path parameter of the wrong type (GitHub: 404)
        self.bad_json = False     # body is not JSON (GitHub: 400 Problems parsing JSON)

    @property
    def ok(self):
        return self.operation_id is not None and not self.errors

    def as_dict(self):
        return {"operation": self.operation_id, "template": self.template,
                "ok": self.ok, "errors": self.errors}


def _json_repr(v):
    return json.dumps(v)


class Spec:
    def __init__(self, path=DEFAULT_SPEC):
        with open(path) as f:
            self.doc = json.load(f)
        self.ops = []  # (method, template, regex, names, op)
        for tmpl, item in self.doc["paths"].items():
            shared = item.get("parameters", [])
            for method, op in item.items():
                if method == "parameters":
                    continue
                params = [self.resolve(p) for p in shared + op.get("parameters", [])]
                rx, names = self._compile(tmpl, params)
                self.ops.append((method.upper(), tmpl, rx, names, op, params))
        # More literal segments first, so /issues/comments/{id} beats /issues/{n}/comments.
        self.ops.sort(key=lambda o: -o[1].count("/") * 100 + o[1].count("{"))

    def resolve(self, node, depth=0):
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise ValueError("external $ref %s" % ref)
            cur = self.doc
            for part in ref[2:].split("/"):
                cur = cur[part.replace("~1", "/").replace("~0", "~")]
            node = cur
        return node

    @staticmethod
    def _compile(tmpl, params):
        multi = {p["name"] for p in params if p.get("in") == "path" and p.get("x-multi-segment")}
        names = []
        out = "^"
        for part in re.split(r"(\{[^}]+\})", tmpl):
            if part.startswith("{"):
                n = part[1:-1]
                names.append(n)
                out += "(.+)" if n in multi else "([^/]+)"
            else:
                out += re.escape(part)
        return re.compile(out + "$"), names

    def match(self, method, path):
        for m, tmpl, rx, names, op, params in self.ops:
            if m != method:
                continue
            mo = rx.match(path)
            if mo:
                vals = {n: urllib.parse.unquote(v) for n, v in zip(names, mo.groups())}
                return tmpl, op, params, vals
        return None

    # --- values -------------------------------------------------------------
    @staticmethod
    def _coerce(s, schema):
        """Query/path strings against a scalar schema: returns (ok, value)."""
        t = schema.get("type")
        if t == "integer":
            if re.fullmatch(r"-?[0-9]+", s or ""):
                return True, int(s)
            return False, s
        if t == "number":
            try:
                return True, float(s)
            except ValueError:
                return False, s
        if t == "boolean":
            if s in ("true", "false"):
                return True, s == "true"
            return False, s
        return True, s

    def check_value(self, value, schema, where, out, depth=0):
        """JSON value against a schema; appends GitHub-phrased messages to out."""
        schema = self.resolve(schema)
        if depth > 20:
            return
        if value is None:
            if schema.get("nullable") or schema.get("type") == "null" or not schema:
                return
            if "oneOf" in schema or "anyOf" in schema:
                alts = [self.resolve(a) for a in schema.get("oneOf", schema.get("anyOf", []))]
                if any(a.get("nullable") for a in alts):
                    return
            out.append("For '%s', nil is not %s." % (where, _TYPE_WORD.get(schema.get("type"), "allowed")))
            return
        for key in ("oneOf", "anyOf"):
            if key in schema:
                ok = 0
                for alt in schema[key]:
                    tmp = []
                    self.check_value(value, alt, where, tmp, depth + 1)
                    if not tmp:
                        ok += 1
                if ok == 0 or (key == "oneOf" and ok > 1 and False):
                    out.append("For '%s', %s is not a possible value (no subschema in \"%s\" matched)."
                               % (where, _json_repr(value), key))
                return
        t = schema.get("type")
        if t:
            good = {
                "string": isinstance(value, str),
                "integer": isinstance(value, int) and not isinstance(value, bool),
                "number": isinstance(value, (int, float)) and not isinstance(value, bool),
                "boolean": isinstance(value, bool),
                "array": isinstance(value, list),
                "object": isinstance(value, dict),
            }.get(t, True)
            if not good:
                out.append("For '%s', %s is not %s." % (where, _json_repr(value), _TYPE_WORD.get(t, t)))
                return
        if "enum" in schema and value not in schema["enum"]:
            out.append("For '%s', %s is not a member of %s." % (where, _json_repr(value), _json_repr(schema["enum"])))
            return
        if isinstance(value, str) and "maxLength" in schema and len(value) > schema["maxLength"]:
            out.append("For '%s', %s is too long (%d), maximum is %d."
                       % (where, _json_repr(value)[:40], len(value), schema["maxLength"]))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if "maximum" in schema and value > schema["maximum"]:
                out.append("For '%s', %s is greater than the maximum of %s." % (where, value, schema["maximum"]))
            if "minimum" in schema and value < schema["minimum"]:
                out.append("For '%s', %s is less than the minimum of %s." % (where, value, schema["minimum"]))
        if isinstance(value, list) and "items" in schema:
            for i, v in enumerate(value):
                self.check_value(v, schema["items"], "%s/items/%d" % (where, i), out, depth + 1)
        if isinstance(value, dict) and (t == "object" or "properties" in schema):
            props = schema.get("properties", {})
            for req in schema.get("required", []):
                if req not in value:
                    out.append("\"%s\" wasn't supplied." % req if depth == 0
                               else "For '%s', \"%s\" wasn't supplied." % (where, req))
            addl = schema.get("additionalProperties", True)
            for k, v in value.items():
                sub = "properties/%s" % k if depth == 0 else "%s/%s" % (where, k)
                if k in props:
                    self.check_value(v, props[k], sub, out, depth + 1)
                elif addl is False:
                    out.append("For '%s', \"%s\" is not a permitted key." % (where or "properties", k))
                elif isinstance(addl, dict):
                    self.check_value(v, addl, sub, out, depth + 1)

    # --- the request --------------------------------------------------------
    def validate(self, method, path, query, body):
        """query: list of (name, value); body: bytes or None."""
        r = Result()
        method = method.upper()
        if (method, path) in EXTRA_OPERATIONS:
            r.operation_id = EXTRA_OPERATIONS[(method, path)]
            r.template = path
            return r
        m = self.match(method, path)
        if not m:
            r.errors.append({"in": "operation", "name": "%s %s" % (method, path),
                             "message": "no operation in the OpenAPI description matches"})
            return r
        tmpl, op, params, vals = m
        r.operation_id = op.get("operationId")
        r.template = tmpl
        r.doc_url = (op.get("externalDocs") or {}).get("url")
        byname = {}
        for p in params:
            byname[(p["in"], p["name"])] = p
        for (where, name), p in byname.items():
            schema = self.resolve(p.get("schema", {}))
            if where == "path":
                ok, v = self._coerce(vals.get(name, ""), schema)
                if not ok:
                    r.path_error = True
                    r.errors.append({"in": "path", "name": name,
                                     "message": "%r is not %s" % (vals.get(name), _TYPE_WORD.get(schema.get("type")))})
                r.path_params[name] = v
            elif where == "query" and p.get("required") and not any(k == name for k, _ in query):
                r.errors.append({"in": "query", "name": name, "message": "required query parameter missing"})
        seen = set()
        for k, v in query:
            p = byname.get(("query", k))
            if p is None:
                r.errors.append({"in": "query", "name": k, "message": "not a parameter of %s" % r.operation_id})
                continue
            if k in seen:
                r.errors.append({"in": "query", "name": k, "message": "given more than once"})
            seen.add(k)
            schema = self.resolve(p.get("schema", {}))
            ok, val = self._coerce(v, schema)
            if not ok:
                r.errors.append({"in": "query", "name": k, "message": "%r is not %s" % (v, _TYPE_WORD.get(schema.get("type")))})
                continue
            if "enum" in schema and val not in schema["enum"]:
                r.errors.append({"in": "query", "name": k, "message": "%r is not one of %s" % (v, schema["enum"])})
            if k == "per_page" and (val > 100 or val < 1):
                r.errors.append({"in": "query", "name": k, "message": "%d is outside 1..100 (GitHub: max 100)" % val})
            if k == "page" and val < 1:
                r.errors.append({"in": "query", "name": k, "message": "pages start at 1"})
        rb = op.get("requestBody")
        if rb:
            rb = self.resolve(rb)
            schema = self.resolve(((rb.get("content") or {}).get("application/json") or {}).get("schema", {}))
            if body is None or body.strip() == b"":
                value = {}
                if rb.get("required") and schema.get("required"):
                    pass  # reported below as missing properties
            else:
                try:
                    value = json.loads(body)
                except ValueError:
                    r.bad_json = True
                    r.errors.append({"in": "body", "name": "", "message": "Problems parsing JSON"})
                    return r
            msgs = []
            self.check_value(value, schema, "", msgs, 0)
            for msg in msgs:
                r.body_messages.append(msg)
                mo = re.match(r"For 'properties/([^'/]+)", msg) or re.match(r"\"([^\"]+)\" wasn't supplied", msg)
                r.errors.append({"in": "body", "name": mo.group(1) if mo else "", "message": msg})
        elif body and body.strip():
            r.errors.append({"in": "body", "name": "", "message": "%s takes no request body" % r.operation_id})
        return r


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    u = urllib.parse.urlsplit(argv[2])
    body = argv[3].encode() if len(argv) > 3 else None
    r = Spec().validate(argv[1], u.path, urllib.parse.parse_qsl(u.query, keep_blank_values=True), body)
    print(json.dumps(r.as_dict(), indent=2))
    return 0 if r.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
