#!/usr/bin/python3
"""A test Kubernetes API server (Python 3 standard library only).

Speaks the part of the Kubernetes REST API that prenv (libcurl) and kubectl use:
discovery, CRUD on namespaced and cluster-scoped objects, server-side apply,
merge/strategic/JSON patches, label and field selectors, pagination, watch,
namespace termination, Status error bodies, bearer-token and client-certificate
auth, a small workload controller, pod logs, events and fault switches.
See test/servers/README.md for switches and the admin endpoints (/_test/...).
Shapes follow ../shared/refdata/k8s (OpenAPI of release-1.36 and responses
recorded from a real kube-apiserver).
"""
import argparse
import base64
import copy
import hashlib
import http.server
import json
import os
import random
import re
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

SWAGGER_CANDIDATES = [
    os.path.join(HERE, "..", "..", "..", "shared", "refdata", "k8s", "swagger.json"),
    "/work/shared/refdata/k8s/swagger.json",
]

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
NODE = "node-1"


def now_ts(t=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------- resources

class Res:
    def __init__(self, group, version, plural, kind, namespaced, short=(), verbs=None,
                 cats=(), singular=None, subs=(), crd=False):
        self.group, self.version, self.plural, self.kind = group, version, plural, kind
        self.namespaced = namespaced
        self.short = list(short)
        self.verbs = list(verbs or ALL_VERBS)
        self.cats = list(cats)
        self.singular = singular or kind.lower()
        self.subs = list(subs)  # e.g. [("status", ["get","patch","update"])]
        self.crd = crd
        self.key = group + "/" + plural

    @property
    def gv(self):
        return self.version if not self.group else self.group + "/" + self.version

    @property
    def qualified(self):  # "deployments.apps", "configmaps"
        return self.plural if not self.group else self.plural + "." + self.group

    @property
    def qualified_kind(self):  # "Deployment.apps", "Namespace"
        return self.kind if not self.group else self.kind + "." + self.group


ST = ("status", ["get", "patch", "update"])
SCALE = ("scale", ["get", "patch", "update"])


def builtin_resources():
    R = Res
    return [
        R("", "v1", "namespaces", "Namespace", False, ["ns"],
          ["create", "delete", "get", "list", "patch", "update", "watch"],
          subs=[("finalize", ["update"]), ST]),
        R("", "v1", "pods", "Pod", True, ["po"], cats=["all"], subs=[("log", ["get"]), ST]),
        R("", "v1", "services", "Service", True, ["svc"], cats=["all"], subs=[ST]),
        R("", "v1", "configmaps", "ConfigMap", True, ["cm"]),
        R("", "v1", "secrets", "Secret", True),
        R("", "v1", "serviceaccounts", "ServiceAccount", True, ["sa"]),
        R("", "v1", "events", "Event", True, ["ev"]),
        R("", "v1", "endpoints", "Endpoints", True, ["ep"]),
        R("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ["pvc"], subs=[ST]),
        R("", "v1", "resourcequotas", "ResourceQuota", True, ["quota"], subs=[ST]),
        R("", "v1", "limitranges", "LimitRange", True, ["limits"]),
        R("apps", "v1", "deployments", "Deployment", True, ["deploy"], cats=["all"], subs=[SCALE, ST]),
        R("apps", "v1", "statefulsets", "StatefulSet", True, ["sts"], cats=["all"], subs=[SCALE, ST]),
        R("apps", "v1", "daemonsets", "DaemonSet", True, ["ds"], cats=["all"], subs=[ST]),
        R("apps", "v1", "replicasets", "ReplicaSet", True, ["rs"], cats=["all"], subs=[SCALE, ST]),
        R("apps", "v1", "controllerrevisions", "ControllerRevision", True),
        R("batch", "v1", "jobs", "Job", True, cats=["all"], subs=[ST]),
        R("batch", "v1", "cronjobs", "CronJob", True, ["cj"], cats=["all"], subs=[ST]),
        R("networking.k8s.io", "v1", "ingresses", "Ingress", True, ["ing"], subs=[ST]),
        R("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ["netpol"]),
        R("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False),
        R("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
        R("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
        R("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
        R("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
        R("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ["pdb"], subs=[ST]),
        R("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True,
          ["hpa"], cats=["all"], subs=[ST]),
        R("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
          False, ["crd", "crds"], cats=["api-extensions"], subs=[ST]),
    ]


WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                       "listKind": "WidgetList", "shortNames": ["wg"]},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": {
                               "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]},
}

# kinds whose objects carry metadata.generation
GEN_GROUPS = {"apps", "batch", "networking.k8s.io", "policy", "autoscaling", "apiextensions.k8s.io"}


class Registry:
    def __init__(self):
        self.lock = threading.RLock()
        self.by_gv = {}      # gv -> {plural: Res}
        self.groups = []     # ordered group names ("" = core)
        for r in builtin_resources():
            self.add(r)

    def add(self, r):
        with self.lock:
            if r.group not in self.groups:
                self.groups.append(r.group)
            self.by_gv.setdefault(r.gv, {})[r.plural] = r

    def remove_crd(self, group, plural):
        with self.lock:
            for gv in list(self.by_gv):
                g = gv.split("/")[0] if "/" in gv else ""
                if g == group:
                    self.by_gv[gv].pop(plural, None)
                    if not self.by_gv[gv]:
                        del self.by_gv[gv]
            if not any((gv.split("/")[0] if "/" in gv else "") == group for gv in self.by_gv):
                if group in self.groups:
                    self.groups.remove(group)

    def get(self, group, version, plural):
        gv = version if not group else group + "/" + version
        with self.lock:
            return self.by_gv.get(gv, {}).get(plural)

    def gv_known(self, group, version):
        gv = version if not group else group + "/" + version
        with self.lock:
            return gv in self.by_gv

    def versions(self, group):
        with self.lock:
            return [gv.split("/")[-1] for gv in self.by_gv
                    if (gv.split("/")[0] if "/" in gv else "") == group]

    def by_kind(self, group, kind):
        with self.lock:
            for gv, m in self.by_gv.items():
                if (gv.split("/")[0] if "/" in gv else "") != group:
                    continue
                for r in m.values():
                    if r.kind == kind:
                        return r
        return None

    def all(self):
        with self.lock:
            return [r for m in self.by_gv.values() for r in m.values()]


# --------------------------------------------------------------------------- errors

class ApiError(Exception):
    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details, self.headers = details, headers or {}

    def body(self):
        d = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": self.message}
        if self.reason:
            d["reason"] = self.reason
        if self.details is not None:
            d["details"] = self.details
        d["code"] = self.code
        return d


class PlainNotFound(Exception):
    """The mux's "404 page not found" (text/plain), for paths no API serves."""


def _details(res, name=None, extra=None):
    d = {}
    if name is not None:
        d["name"] = name
    if res is not None:
        if res.group:
            d["group"] = res.group
        d["kind"] = res.plural
    if extra:
        d.update(extra)
    return d


def err_not_found(res, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (res.qualified, name), _details(res, name))


def err_ns_not_found(ns):
    return ApiError(404, "NotFound", 'namespaces "%s" not found' % ns,
                    {"name": ns, "kind": "namespaces"})


def err_bad_request(msg):
    return ApiError(400, "BadRequest", msg)


def err_invalid(res, name, causes):
    """causes: list of (field, reason, message-after-field)."""
    parts = ["%s: %s" % (f, m) for f, _, m in causes]
    msg = '%s "%s" is invalid: %s' % (res.qualified_kind, name,
                                      parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]")
    det = {"name": name}
    if res.group:
        det["group"] = res.group
    det["kind"] = res.kind
    det["causes"] = [{"reason": r, "message": m, "field": f} for f, r, m in causes]
    return ApiError(422, "Invalid", msg, det)


# Go's %#v of the values in the field errors of a real apiserver ("Invalid
# value: core.PodTemplateSpec{ObjectMeta:v1.ObjectMeta{...}}: field is
# immutable"), approximated: struct type names by field, Go quoting.
_GO_TYPES = {"metadata": "v1.ObjectMeta", "spec": "core.PodSpec", "containers": "core.Container",
             "initContainers": "core.Container", "ports": "core.ContainerPort", "env": "core.EnvVar",
             "volumes": "core.Volume", "volumeMounts": "core.VolumeMount", "resources": "core.ResourceRequirements",
             "readinessProbe": "*core.Probe", "livenessProbe": "*core.Probe", "securityContext": "*core.PodSecurityContext"}


def go_dump(v, tname="core.PodTemplateSpec"):
    if isinstance(v, dict):
        if tname.startswith("map["):
            return "%s{%s}" % (tname, ", ".join("%s:%s" % (json.dumps(k), json.dumps(x)) for k, x in v.items()))
        fields = []
        for k, x in sorted(v.items(), key=lambda kv: kv[0] != "metadata"):  # ObjectMeta first
            t = _GO_TYPES.get(k, "map[string]string" if k in ("labels", "annotations", "nodeSelector")
                              else "core." + k[:1].upper() + k[1:])
            fields.append("%s:%s" % ("ObjectMeta" if k == "metadata" else k[:1].upper() + k[1:],
                                     go_dump(x, t)))
        return "%s{%s}" % (tname, ", ".join(fields))
    if isinstance(v, list):
        if all(isinstance(x, str) for x in v):
            return "[]string{%s}" % ", ".join(json.dumps(x) for x in v)
        return "[]%s{%s}" % (tname, ", ".join(go_dump(x, tname) for x in v))
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v) if isinstance(v, str) else str(v)


def check_immutable(res, old, new):
    """What a real apiserver refuses to change on update (422 Invalid): a Job's
    pod template (ValidateJobUpdate), with the value dumped Go-style."""
    if res.kind == "Job" and res.group == "batch":
        ot = (old.get("spec") or {}).get("template")
        nt = (new.get("spec") or {}).get("template")
        if ot != nt:
            raise err_invalid(res, new["metadata"]["name"], [
                ("spec.template", "FieldValueInvalid", "Invalid value: %s: field is immutable" % go_dump(nt))])


def err_conflict_modified(res, name):
    return ApiError(409, "Conflict",
                    'Operation cannot be fulfilled on %s "%s": the object has been modified; '
                    'please apply your changes to the latest version and try again'
                    % (res.qualified, name), _details(res, name))


# --------------------------------------------------------------------------- validation

RE_LABEL1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
RE_SUB1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
RE_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
RE_LABELVAL = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
RE_QNAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")

MSG_1123_LABEL = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                  "or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  "
                  "or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
MSG_1123_SUB = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                "'-' or '.', and must start and end with an alphanumeric character (e.g. "
                "'example.com', regex used for validation is "
                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
MSG_1035 = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
            "with an alphabetic character, and end with an alphanumeric character (e.g. "
            "'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
MSG_LABELVAL = ("a valid label must be an empty string or consist of alphanumeric characters, '-', "
                "'_' or '.', and must start and end with an alphanumeric character (e.g. "
                "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
                "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


def validate(res, obj):
    causes = []
    md = obj.get("metadata") or {}
    name = md.get("name", "")
    if not name:
        causes.append(("metadata.name", "FieldValueRequired",
                       "Required value: name or generateName is required"))
    else:
        if res.plural in ("namespaces",):
            ok, m, mx = RE_LABEL1123.match(name), MSG_1123_LABEL, 63
        elif res.plural == "services":
            ok, m, mx = RE_1035.match(name), MSG_1035, 63
        else:
            ok, m, mx = RE_SUB1123.match(name), MSG_1123_SUB, 253
        if not ok:
            causes.append(("metadata.name", "FieldValueInvalid", 'Invalid value: "%s": %s' % (name, m)))
        elif len(name) > mx:
            causes.append(("metadata.name", "FieldValueInvalid",
                           'Invalid value: "%s": must be no more than %d characters' % (name, mx)))
    for k, v in (md.get("labels") or {}).items():
        if not isinstance(v, str) or not RE_LABELVAL.match(v):
            causes.append(("metadata.labels", "FieldValueInvalid",
                           'Invalid value: "%s": %s' % (v, MSG_LABELVAL)))
        elif len(v) > 63:
            causes.append(("metadata.labels", "FieldValueInvalid",
                           'Invalid value: "%s": must be no more than 63 characters' % v))
        kn = k.split("/")[-1]
        if len(kn) > 63 or not RE_QNAME.match(kn):
            causes.append(("metadata.labels", "FieldValueInvalid",
                           'Invalid value: "%s": name part must consist of alphanumeric characters, '
                           "'-', '_' or '.', and must start and end with an alphanumeric character" % k))
    spec = obj.get("spec")
    tmpl_path = None
    if res.kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
        spec = spec or {}
        sel = spec.get("selector")
        if not sel:
            causes.append(("spec.selector", "FieldValueRequired", "Required value"))
        tlabels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if sel and not selector_matches_obj(sel, tlabels):
            causes.append(("spec.template.metadata.labels", "FieldValueInvalid",
                           "Invalid value: %s: `selector` does not match template `labels`"
                           % go_map(tlabels)))
        tmpl_path = "spec.template.spec"
        pspec = (spec.get("template") or {}).get("spec") or {}
    elif res.kind == "Job":
        tmpl_path = "spec.template.spec"
        pspec = ((spec or {}).get("template") or {}).get("spec") or {}
        rp = pspec.get("restartPolicy")
        if rp not in ("Never", "OnFailure"):
            causes.append(("spec.template.spec.restartPolicy", "FieldValueNotSupported",
                           'Unsupported value: "%s": supported values: "OnFailure", "Never"'
                           % (rp or "Always")))
    elif res.kind == "Pod":
        tmpl_path = "spec"
        pspec = spec or {}
    if tmpl_path:
        cs = pspec.get("containers") or []
        if not cs:
            causes.append((tmpl_path + ".containers", "FieldValueRequired", "Required value"))
        for i, c in enumerate(cs):
            for f in ("name", "image"):
                if not c.get(f):
                    causes.append(("%s.containers[%d].%s" % (tmpl_path, i, f),
                                   "FieldValueRequired", "Required value"))
    if res.kind == "Service":
        for i, p in enumerate(((spec or {}).get("ports") or [])):
            if "port" not in p:
                causes.append(("spec.ports[%d].port" % i, "FieldValueRequired", "Required value"))
    if causes:
        raise err_invalid(res, name, causes)


def drop_type_dependent_fields(spec, old):
    """A Service whose type changes to ExternalName loses what the server
    allocated for its old type when the update left it as it was (the API
    server's dropTypeDependentFields, since 1.20): its cluster IPs and IP
    families, so an update (an apply) can turn a ClusterIP Service into an
    ExternalName one."""
    ospec = (old or {}).get("spec") or {}
    if spec.get("type") != "ExternalName" or ospec.get("type", "ClusterIP") == "ExternalName":
        return
    if spec.get("clusterIP") == ospec.get("clusterIP"):
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
    for f in ("ipFamilies", "ipFamilyPolicy", "internalTrafficPolicy"):
        if f in spec and spec.get(f) == ospec.get(f):
            spec.pop(f)


def go_map(d):
    return "map[string]string{%s}" % ", ".join('"%s":"%s"' % (k, d[k]) for k in sorted(d))


# --------------------------------------------------------------------------- selectors

def _split_top(s):
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [x.strip() for x in out if x.strip()]


def parse_label_selector(s):
    reqs = []
    if not s:
        return reqs
    for term in _split_top(s):
        m = re.match(r"^([^\s!=<>]+)\s+(in|notin)\s*\(([^)]*)\)$", term)
        if m:
            reqs.append((m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",") if v.strip()}))
            continue
        m = re.match(r"^!\s*([^\s!=<>]+)$", term)
        if m:
            reqs.append((m.group(1), "!", None))
            continue
        m = re.match(r"^([^\s!=<>]+)\s*(==|!=|=|<|>)\s*([^\s!=<>]*)$", term)
        if m:
            reqs.append((m.group(1), m.group(2), m.group(3)))
            continue
        if re.match(r"^[^\s!=<>(),]+$", term):
            reqs.append((term, "exists", None))
            continue
        raise err_bad_request("unable to parse requirement: found '%s', expected: identifier" % term)
    return reqs


def label_match(reqs, labels):
    labels = labels or {}
    for key, op, val in reqs:
        have = key in labels
        v = labels.get(key)
        if op in ("=", "=="):
            if v != val:
                return False
        elif op == "!=":
            if have and v == val:
                return False
        elif op == "in":
            if not have or v not in val:
                return False
        elif op == "notin":
            if have and v in val:
                return False
        elif op == "exists":
            if not have:
                return False
        elif op == "!":
            if have:
                return False
        elif op in ("<", ">"):
            try:
                if not have or not (int(v) < int(val) if op == "<" else int(v) > int(val)):
                    return False
            except ValueError:
                return False
    return True


def selector_matches_obj(sel, labels):
    """A LabelSelector object (matchLabels/matchExpressions) against labels."""
    for k, v in (sel.get("matchLabels") or {}).items():
        if (labels or {}).get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        op = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}.get(e.get("operator"))
        if not label_match([(e.get("key"), op, set(e.get("values") or []))], labels):
            return False
    return True


FIELD_LABELS = {
    "*": {"metadata.name", "metadata.namespace"},
    "events": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
               "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
               "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"},
    "pods": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
             "status.phase", "status.podIP", "status.nominatedNodeName"},
    "secrets": {"type"},
    "namespaces": {"status.phase"},
    "jobs": {"status.successful"},
}


def parse_field_selector(s, res):
    reqs = []
    if not s:
        return reqs
    for term in s.split(","):
        term = term.strip()
        m = re.match(r"^([^=!]+)(==|!=|=)(.*)$", term)
        if not m:
            raise err_bad_request("invalid selector: '%s'; can't understand '%s'" % (s, term))
        f = m.group(1).strip()
        if f not in FIELD_LABELS["*"] and f not in FIELD_LABELS.get(res.plural, ()) and not res.crd:
            raise err_bad_request('field label not supported: %s' % f)
        reqs.append((f, m.group(2), m.group(3)))
    return reqs


def field_value(obj, path):
    cur = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    if cur is None:
        return ""
    if isinstance(cur, dict):  # "source" on events is source.component
        return cur.get("component", "")
    return str(cur)


def field_match(reqs, obj):
    for f, op, v in reqs:
        have = field_value(obj, f)
        if op in ("=", "==") and have != v:
            return False
        if op == "!=" and have == v:
            return False
    return True


# --------------------------------------------------------------------------- server-side apply field sets
# A path is a tuple of ("f", field) and ("k", key-json) elements; the set of a
# manager holds leaves and keyed list elements (rendered with "." in fieldsV1).

LIST_KEYS = {"containers": ["name"], "initContainers": ["name"], "ephemeralContainers": ["name"],
             "env": ["name"], "volumes": ["name"], "volumeMounts": ["mountPath"],
             "imagePullSecrets": ["name"], "conditions": ["type"], "hostAliases": ["ip"]}

SYSTEM_MD = {"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
             "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "name", "namespace"}


def _list_keys(field, items):
    if not items or not all(isinstance(e, dict) for e in items):
        return None
    if field == "ports":
        if all("containerPort" in e for e in items):
            return ["containerPort", "protocol"]
        if all("port" in e for e in items):
            return ["port", "protocol"]
        return None
    keys = LIST_KEYS.get(field)
    if keys and all(all(k in e for k in keys) for e in items):
        return keys
    return None


def _elem_key(keys, e):
    kv = {}
    for k in keys:
        v = e.get(k)
        if v is None and k == "protocol":
            v = "TCP"
        kv[k] = v
    return dumps(kv)


def obj_paths(obj, top=True):
    out = set()

    def walk(node, prefix):
        for k, v in node.items():
            if top and not prefix and k in ("kind", "apiVersion", "status"):
                continue
            if top and prefix == (("f", "metadata"),) and k in SYSTEM_MD:
                continue
            p = prefix + (("f", k),)
            if isinstance(v, dict) and v:
                walk(v, p)
            elif isinstance(v, list):
                keys = _list_keys(k, v)
                if keys:
                    for e in v:
                        ep = p + (("k", _elem_key(keys, e)),)
                        out.add(ep)
                        walk(e, ep)
                else:
                    out.add(p)
            else:
                out.add(p)
    walk(obj, ())
    return out


def paths_to_fields(paths):
    root = {}
    for p in sorted(paths):
        node = root
        for kind, name in p:
            node = node.setdefault(("f:" if kind == "f" else "k:") + name, {})
    # mark keyed elements that have children with "."
    for p in paths:
        node = root
        for kind, name in p:
            node = node[("f:" if kind == "f" else "k:") + name]
        if node and "." not in node:
            node["."] = {}

    def order(n):
        return {k: order(n[k]) for k in sorted(n, key=lambda x: (x != ".", x))}
    return order(root)


def fields_to_paths(fv1, prefix=()):
    out = set()
    for k, v in (fv1 or {}).items():
        if k == ".":
            out.add(prefix)
            continue
        if k.startswith("f:"):
            p = prefix + (("f", k[2:]),)
        elif k.startswith("k:"):
            p = prefix + (("k", dumps(json.loads(k[2:]))),)
        else:
            continue
        if v:
            out |= fields_to_paths(v, p)
        else:
            out.add(p)
    return out


def _find_elem(lst, keyjson):
    kv = json.loads(keyjson)
    for i, e in enumerate(lst):
        if isinstance(e, dict) and _elem_key(list(kv.keys()), e) == keyjson:
            return i
    return None


_MISSING = object()


def path_get(obj, path):
    cur = obj
    for kind, name in path:
        if kind == "f":
            if not isinstance(cur, dict) or name not in cur:
                return _MISSING
            cur = cur[name]
        else:
            if not isinstance(cur, list):
                return _MISSING
            i = _find_elem(cur, name)
            if i is None:
                return _MISSING
            cur = cur[i]
    return cur


def path_delete(obj, path):
    parent = path_get(obj, path[:-1]) if len(path) > 1 else obj
    if parent is _MISSING:
        return
    kind, name = path[-1]
    if kind == "f" and isinstance(parent, dict):
        parent.pop(name, None)
    elif kind == "k" and isinstance(parent, list):
        i = _find_elem(parent, name)
        if i is not None:
            del parent[i]


def apply_merge(live, cfg, field=None):
    """Merges an applied configuration into the live value."""
    if isinstance(live, dict) and isinstance(cfg, dict):
        out = dict(live)
        for k, v in cfg.items():
            out[k] = apply_merge(live.get(k), v, k) if k in live else copy.deepcopy(v)
        return out
    if isinstance(live, list) and isinstance(cfg, list):
        keys = _list_keys(field, cfg)
        if keys and _list_keys(field, live) == keys:
            out = [copy.deepcopy(e) for e in live]
            for e in cfg:
                i = _find_elem(out, _elem_key(keys, e))
                if i is None:
                    out.append(copy.deepcopy(e))
                else:
                    out[i] = apply_merge(out[i], e, None)
            # order as in the config, extra live elements kept after
            order = {_elem_key(keys, e): n for n, e in enumerate(cfg)}
            out.sort(key=lambda e: order.get(_elem_key(keys, e), len(order)))
            return out
    return copy.deepcopy(cfg)


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def strategic_merge(target, patch, field=None):
    """Approximates strategic merge patch: merge patch, keyed lists merged by key."""
    if isinstance(patch, dict):
        if patch.get("$patch") == "replace":
            return {k: v for k, v in patch.items() if k != "$patch"}
        out = dict(target) if isinstance(target, dict) else {}
        for k, v in patch.items():
            if k.startswith("$"):
                continue
            if v is None:
                out.pop(k, None)
            else:
                out[k] = strategic_merge(out.get(k), v, k)
        return out
    if isinstance(patch, list) and isinstance(target, list):
        keys = _list_keys(field, [e for e in patch if not (isinstance(e, dict) and "$patch" in e)])
        if keys and _list_keys(field, target) == keys:
            out = [copy.deepcopy(e) for e in target]
            for e in patch:
                i = _find_elem(out, _elem_key(keys, e))
                if isinstance(e, dict) and e.get("$patch") == "delete":
                    if i is not None:
                        del out[i]
                elif i is None:
                    out.append(copy.deepcopy(e))
                else:
                    out[i] = strategic_merge(out[i], e)
            return out
    return copy.deepcopy(patch)


def _ptr(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError("invalid JSON pointer %r" % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json_patch(doc, ops):
    doc = copy.deepcopy(doc)
    if not isinstance(ops, list):
        raise ValueError("json patch must be an array")

    def parent_of(d, toks):
        cur = d
        for t in toks[:-1]:
            cur = cur[int(t)] if isinstance(cur, list) else cur[t]
        return cur

    def get(d, toks):
        cur = d
        for t in toks:
            cur = cur[int(t)] if isinstance(cur, list) else cur[t]
        return cur

    def add(d, toks, val):
        if not toks:
            return val
        par = parent_of(d, toks)
        last = toks[-1]
        if isinstance(par, list):
            if last == "-":
                par.append(val)
            else:
                par.insert(int(last), val)
        else:
            par[last] = val
        return d

    def remove(d, toks):
        par = parent_of(d, toks)
        last = toks[-1]
        if isinstance(par, list):
            del par[int(last)]
        else:
            if last not in par:
                raise KeyError(last)
            del par[last]

    for op in ops:
        o = op.get("op")
        toks = _ptr(op.get("path", ""))
        try:
            if o == "add":
                doc = add(doc, toks, copy.deepcopy(op.get("value")))
            elif o == "remove":
                remove(doc, toks)
            elif o == "replace":
                get(doc, toks)
                if not toks:
                    doc = copy.deepcopy(op.get("value"))
                else:
                    par = parent_of(doc, toks)
                    par[int(toks[-1]) if isinstance(par, list) else toks[-1]] = copy.deepcopy(op.get("value"))
            elif o in ("move", "copy"):
                ft = _ptr(op.get("from", ""))
                v = copy.deepcopy(get(doc, ft))
                if o == "move":
                    remove(doc, ft)
                doc = add(doc, toks, v)
            elif o == "test":
                if get(doc, toks) != op.get("value"):
                    raise ValueError("testing value %s failed" % op.get("path"))
            else:
                raise ValueError("Unexpected kind: %s" % o)
        except (KeyError, IndexError, TypeError) as e:
            raise ValueError("%s operation does not apply: doc is missing path: \"%s\": %s"
                             % (o, op.get("path"), e))
    return doc


# --------------------------------------------------------------------------- defaulting

def _pull_policy(image):
    tag = image.rsplit("/", 1)[-1]
    if "@" in tag:
        return "IfNotPresent"
    if ":" not in tag or tag.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def default_pod_spec(ps, restart="Always"):
    for lst in ("initContainers", "containers"):
        for c in ps.get(lst) or []:
            for p in c.get("ports") or []:
                p.setdefault("protocol", "TCP")
            c.setdefault("resources", {})
            c.setdefault("terminationMessagePath", "/dev/termination-log")
            c.setdefault("terminationMessagePolicy", "File")
            c.setdefault("imagePullPolicy", _pull_policy(c.get("image") or ""))
            for e in c.get("env") or []:
                vf = e.get("valueFrom") or {}
                if "fieldRef" in vf:
                    vf["fieldRef"].setdefault("apiVersion", "v1")
    ps.setdefault("restartPolicy", restart)
    ps.setdefault("terminationGracePeriodSeconds", 30)
    ps.setdefault("dnsPolicy", "ClusterFirst")
    ps.setdefault("securityContext", {})
    ps.setdefault("schedulerName", "default-scheduler")


def default_template(spec, restart="Always"):
    t = spec.setdefault("template", {})
    tm = t.get("metadata") or {}
    if "creationTimestamp" not in tm:
        t["metadata"] = dict([("creationTimestamp", None)] + list(tm.items()))
    default_pod_spec(t.setdefault("spec", {}), restart)


class Allocator:
    def __init__(self):
        self.lock = threading.Lock()
        self.ip = 10
        self.port = 30000

    def cluster_ip(self):
        with self.lock:
            self.ip += 1
            return "10.96.%d.%d" % (self.ip // 250, self.ip % 250 + 1)

    def node_port(self):
        with self.lock:
            self.port += 1
            return self.port


ALLOC = Allocator()


def apply_defaults(res, obj, old=None):
    k = res.kind
    spec = obj.get("spec")
    if k == "Namespace":
        obj.setdefault("metadata", {}).setdefault("labels", {})["kubernetes.io/metadata.name"] = \
            obj["metadata"]["name"]
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
    elif k == "Deployment":
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        default_template(spec)
        spec.setdefault("strategy", {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        obj.setdefault("status", {})
    elif k == "StatefulSet":
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        default_template(spec)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("persistentVolumeClaimRetentionPolicy",
                        {"whenDeleted": "Retain", "whenScaled": "Retain"})
        obj.setdefault("status", {"replicas": 0, "availableReplicas": 0})
    elif k == "DaemonSet":
        spec = obj.setdefault("spec", {})
        default_template(spec)
        spec.setdefault("updateStrategy", {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        spec.setdefault("revisionHistoryLimit", 10)
        obj.setdefault("status", {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                                  "desiredNumberScheduled": 0, "numberReady": 0})
    elif k == "ReplicaSet":
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        default_template(spec)
        obj.setdefault("status", {"replicas": 0})
    elif k == "Job":
        spec = obj.setdefault("spec", {})
        spec.setdefault("parallelism", 1)
        spec.setdefault("completions", 1)
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
        spec.setdefault("manualSelector", False)
        uid = obj["metadata"]["uid"]
        name = obj["metadata"]["name"]
        if "selector" not in spec:
            spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        default_template(spec, "Never")
        tl = spec["template"]["metadata"].setdefault("labels", {})
        for lk, lv in (("batch.kubernetes.io/controller-uid", uid), ("batch.kubernetes.io/job-name", name),
                       ("controller-uid", uid), ("job-name", name)):
            tl.setdefault(lk, lv)
        obj.setdefault("status", {})
    elif k == "CronJob":
        spec = obj.setdefault("spec", {})
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        obj.setdefault("status", {})
    elif k == "Pod":
        spec = obj.setdefault("spec", {})
        default_pod_spec(spec)
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("priority", 0)
        obj.setdefault("status", {"phase": "Pending", "qosClass": "BestEffort"})
    elif k == "Service":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        drop_type_dependent_fields(spec, old)
        for p in spec.get("ports") or []:
            p.setdefault("protocol", "TCP")
            p.setdefault("targetPort", p.get("port"))
            if spec["type"] in ("NodePort", "LoadBalancer") and "nodePort" not in p:
                oldp = [q for q in (((old or {}).get("spec") or {}).get("ports") or [])
                        if q.get("port") == p.get("port")]
                p["nodePort"] = oldp[0].get("nodePort") if oldp and oldp[0].get("nodePort") \
                    else ALLOC.node_port()
        if spec["type"] != "ExternalName":
            if "clusterIP" not in spec:
                oldip = ((old or {}).get("spec") or {}).get("clusterIP")
                spec["clusterIP"] = oldip or ALLOC.cluster_ip()
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        obj["status"] = (old or {}).get("status") or obj.get("status") or {"loadBalancer": {}}
    elif k == "Secret":
        obj.setdefault("type", "Opaque")
        if "stringData" in obj:
            data = obj.setdefault("data", {})
            for sk, sv in obj.pop("stringData").items():
                data[sk] = base64.b64encode(str(sv).encode()).decode()
    elif k == "Ingress":
        obj.setdefault("status", {"loadBalancer": {}})
    elif k == "PersistentVolumeClaim":
        spec = obj.setdefault("spec", {})
        spec.setdefault("volumeMode", "Filesystem")
        spec.setdefault("storageClassName", "standard")
        obj.setdefault("status", {"phase": "Pending"})
    elif k == "Event":
        obj.setdefault("eventTime", None)
    return obj


MD_ORDER = ["name", "generateName", "namespace", "uid", "resourceVersion", "generation",
            "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
            "annotations", "ownerReferences", "finalizers", "managedFields"]


def ordered(obj):
    out = {}
    for k in ("kind", "apiVersion", "metadata"):
        if k in obj:
            out[k] = obj[k]
    md = out.get("metadata") or {}
    out["metadata"] = {k: md[k] for k in MD_ORDER if k in md}
    out["metadata"].update({k: v for k, v in md.items() if k not in out["metadata"]})
    for k, v in obj.items():
        if k not in out and k != "status":
            out[k] = v
    if "status" in obj:
        out["status"] = obj["status"]
    return out


# --------------------------------------------------------------------------- managed fields

def mf_get(obj):
    return list((obj.get("metadata") or {}).get("managedFields") or [])


def mf_sets(obj):
    out = []
    for e in mf_get(obj):
        out.append([e, fields_to_paths(e.get("fieldsV1"))])
    return out


def mf_store(obj, sets):
    """sets: list of [entry, paths]; entries with no paths are dropped."""
    ents = []
    for e, paths in sets:
        if not paths:
            continue
        e = dict(e)
        e["fieldsType"] = "FieldsV1"
        e["fieldsV1"] = paths_to_fields(paths)
        if "subresource" in e:
            sub = e.pop("subresource")
            e["subresource"] = sub
        ents.append(e)
    md = obj.setdefault("metadata", {})
    if ents:
        md["managedFields"] = ents
    else:
        md.pop("managedFields", None)


def mf_entry(sets, manager, operation, api_version, subresource=None):
    for s in sets:
        e = s[0]
        if e.get("manager") == manager and e.get("operation") == operation and \
                e.get("subresource") == subresource:
            return s
    e = {"manager": manager, "operation": operation, "apiVersion": api_version, "time": now_ts()}
    if subresource:
        e["subresource"] = subresource
    s = [e, set()]
    sets.append(s)
    return s


def _strip_for_compare(obj):
    o = copy.deepcopy(obj)
    md = o.get("metadata") or {}
    for k in ("resourceVersion", "managedFields"):
        md.pop(k, None)
    return o


def _spec_part(obj):
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}


# --------------------------------------------------------------------------- the cluster state

class Cluster:
    def __init__(self, opts):
        self.opts = opts
        self.reg = Registry()
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.data = {}          # rkey -> {ns -> {name -> obj}}
        self.owned = {}         # owner uid -> set((rkey, ns, name))
        self.rv = 100
        self.hist = []          # (rv, rkey, ns, type, obj, prev)
        self.compacted_rv = 0   # watches from below this answer 410
        self.listeners = []     # callables(res, obj, type)
        self.terminating = {}   # ns -> time to finish
        self.dirty = False
        for n in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self._seed("", "v1", "namespaces", {"metadata": {"name": n}})
        crd = copy.deepcopy(WIDGET_CRD)
        self._seed("apiextensions.k8s.io", "v1", "customresourcedefinitions", crd)

    def _seed(self, g, v, plural, obj):
        res = self.reg.get(g, v, plural)
        obj = copy.deepcopy(obj)
        obj["kind"], obj["apiVersion"] = res.kind, res.gv
        self.create(res, "", obj, manager="kube-apiserver", seed=True)

    # ---- low level (call with lock held)
    def _bucket(self, res, ns):
        return self.data.setdefault(res.key, {}).setdefault(ns or "", {})

    def _get(self, res, ns, name):
        return self.data.get(res.key, {}).get(ns or "", {}).get(name)

    def _record(self, res, ns, etype, obj, prev):
        self.hist.append((self.rv, res.key, ns or "", etype, obj, prev))
        lim = self.opts.history
        if len(self.hist) > 2 * lim:
            drop = len(self.hist) - lim
            self.compacted_rv = self.hist[drop - 1][0]
            del self.hist[:drop]
        self.dirty = True
        self.cond.notify_all()
        for fn in self.listeners:
            try:
                fn(res, obj, etype)
            except Exception:  # a listener must never break a write
                import traceback
                traceback.print_exc()

    def _index_owner(self, key, old, new):
        for o in ((old or {}).get("metadata") or {}).get("ownerReferences") or []:
            self.owned.get(o.get("uid"), set()).discard(key)
        for o in ((new or {}).get("metadata") or {}).get("ownerReferences") or []:
            self.owned.setdefault(o.get("uid"), set()).add(key)

    def _put(self, res, obj, etype, prev=None):
        self.rv += 1
        md = obj["metadata"]
        md["resourceVersion"] = str(self.rv)
        obj = ordered(obj)
        ns = md.get("namespace", "")
        self._bucket(res, ns)[md["name"]] = obj
        self._index_owner((res.key, ns, md["name"]), prev, obj)
        self._record(res, ns, etype, obj, prev)
        if res.kind == "CustomResourceDefinition":
            self._crd_changed(obj, deleted=False)
        return obj

    def _remove(self, res, obj):
        md = obj["metadata"]
        ns = md.get("namespace", "")
        b = self._bucket(res, ns)
        if b.get(md["name"]) is None:
            return None
        del b[md["name"]]
        self._index_owner((res.key, ns, md["name"]), obj, None)
        self.rv += 1
        gone = copy.deepcopy(obj)
        gone["metadata"]["resourceVersion"] = str(self.rv)
        self._record(res, ns, "DELETED", gone, obj)
        if res.kind == "CustomResourceDefinition":
            self._crd_changed(obj, deleted=True)
        return gone

    def _crd_changed(self, crd, deleted):
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        g, plural = spec.get("group", ""), names.get("plural", "")
        if deleted:
            for r in self.reg.all():
                if r.crd and r.group == g and r.plural == plural:
                    for nsb in list(self.data.get(r.key, {}).values()):
                        for o in list(nsb.values()):
                            self._remove(r, o)
            self.reg.remove_crd(g, plural)
            return
        for v in spec.get("versions") or []:
            if not v.get("served", True):
                continue
            self.reg.add(Res(g, v["name"], plural, names.get("kind", ""),
                             spec.get("scope") == "Namespaced", names.get("shortNames") or [],
                             cats=names.get("categories") or [], singular=names.get("singular"),
                             crd=True, subs=[ST] if (v.get("subresources") or {}).get("status") is not None else []))

    def items(self, res, ns=None):
        with self.lock:
            buckets = self.data.get(res.key, {})
            if ns is not None:
                return [buckets.get(ns, {})[n] for n in sorted(buckets.get(ns, {}))]
            out = []
            for n in sorted(buckets):
                b = buckets[n]
                out.extend(b[k] for k in sorted(b))
            return out

    def get(self, res, ns, name):
        with self.lock:
            o = self._get(res, ns, name)
            if o is None:
                raise err_not_found(res, name)
            return o

    def find(self, res, ns, name):
        with self.lock:
            return self._get(res, ns, name)

    def res_of(self, key):
        g, plural = key.split("/", 1)
        for r in self.reg.all():
            if r.key == key:
                return r
        return None

    # ---- namespace checks
    def check_ns(self, res, ns, name, creating=True):
        if not res.namespaced:
            return
        nsres = self.reg.get("", "v1", "namespaces")
        n = self._get(nsres, "", ns)
        if n is None:
            raise err_ns_not_found(ns)
        if creating and n["metadata"].get("deletionTimestamp"):
            raise ApiError(403, "Forbidden",
                           '%s "%s" is forbidden: unable to create new content in namespace %s '
                           'because it is being terminated' % (res.qualified, name, ns),
                           _details(res, name, {"causes": [{
                               "reason": "NamespaceTerminating",
                               "message": "namespace %s is being terminated" % ns,
                               "field": "metadata.namespace"}]}))

    # ---- writes
    def _finish_new(self, res, ns, obj):
        md = obj.setdefault("metadata", {})
        if res.namespaced:
            md["namespace"] = ns
        else:
            md.pop("namespace", None)
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = now_ts()
        if res.group in GEN_GROUPS or res.crd or res.kind == "Pod":
            md["generation"] = 1
        obj["kind"], obj["apiVersion"] = res.kind, res.gv

    def create(self, res, ns, obj, manager="unknown", dry_run=False, seed=False):
        with self.lock:
            md = obj.setdefault("metadata", {})
            if not md.get("name") and md.get("generateName"):
                md["name"] = md["generateName"] + "".join(
                    random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
            name = md.get("name", "")
            if not seed:
                self.check_ns(res, ns, name)
            for k in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
                      "generation", "managedFields"):
                md.pop(k, None)
            self._finish_new(res, ns, obj)
            apply_defaults(res, obj)
            validate(res, obj)
            if self._get(res, ns, name) is not None:
                raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (res.qualified, name),
                               _details(res, name))
            sets = []
            mf_entry(sets, manager, "Update", res.gv)[1] |= obj_paths(obj)
            mf_store(obj, sets)
            if dry_run:
                obj["metadata"]["resourceVersion"] = ""
                return ordered(obj)
            return self._put(res, obj, "ADDED")

    def _update_ownership(self, res, old, new, manager, subresource=None):
        sets = mf_sets(old)
        if subresource == "status":
            newp = obj_paths({"status": new.get("status") or {}}, top=False)
            oldp = obj_paths({"status": old.get("status") or {}}, top=False)
        else:
            newp, oldp = obj_paths(new), obj_paths(old)
        changed = {p for p in newp if path_get(old, p) != path_get(new, p)}
        gone = oldp - newp
        for s in sets:
            s[1] -= changed | gone
        if changed:
            mf_entry(sets, manager, "Update", res.gv, subresource)[1] |= changed
            for s in sets:
                if s[0].get("manager") == manager and s[0].get("operation") == "Update":
                    s[0]["time"] = now_ts()
        mf_store(new, sets)

    def _commit_update(self, res, old, new, dry_run=False):
        """Keeps system metadata, bumps generation, writes unless a no-op."""
        md, omd = new.setdefault("metadata", {}), old["metadata"]
        for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "namespace", "name"):
            if k in omd:
                md[k] = omd[k]
            else:
                md.pop(k, None)
        new["kind"], new["apiVersion"] = res.kind, res.gv
        if "generation" in omd:
            md["generation"] = omd["generation"] + (1 if _spec_part(new) != _spec_part(old) else 0)
        new = ordered(new)
        if _strip_for_compare(new) == _strip_for_compare(old) and \
                (new["metadata"].get("managedFields") or []) == (omd.get("managedFields") or []):
            return old
        if dry_run:
            return new
        if md.get("deletionTimestamp") and not md.get("finalizers"):
            self._remove(res, old)
            return new
        return self._put(res, new, "MODIFIED", old)

    def update(self, res, ns, name, obj, manager, subresource=None, dry_run=False):
        with self.lock:
            old = self._get(res, ns, name)
            if old is None:
                raise err_not_found(res, name)
            md = obj.setdefault("metadata", {})
            if md.get("name") and md["name"] != name:
                raise err_bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                                      % (md["name"], name))
            rv = md.get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise err_conflict_modified(res, name)
            if subresource == "status":
                new = copy.deepcopy(old)
                new["status"] = obj.get("status")
                if new["status"] is None:
                    new.pop("status")
            else:
                new = copy.deepcopy(obj)
                new["metadata"]["managedFields"] = old["metadata"].get("managedFields")
                if "status" in old and res.subs and ST in res.subs:
                    new["status"] = copy.deepcopy(old["status"])
                md = new["metadata"]
                md["name"] = name
                self._finish_keep(res, old, new)
                apply_defaults(res, new, old)
                validate(res, new)
                check_immutable(res, old, new)
            self._update_ownership(res, old, new, manager, subresource)
            return self._commit_update(res, old, new, dry_run)

    def _finish_keep(self, res, old, new):
        md = new["metadata"]
        if res.namespaced:
            md["namespace"] = old["metadata"].get("namespace")
        if res.kind == "Namespace":
            new["status"] = copy.deepcopy(old.get("status"))

    def patch(self, res, ns, name, ptype, body, manager, subresource=None, dry_run=False):
        with self.lock:
            old = self._get(res, ns, name)
            if old is None:
                raise err_not_found(res, name)
            base = copy.deepcopy(old)
            try:
                if ptype == "json":
                    new = json_patch(base, body)
                elif ptype == "merge":
                    new = merge_patch(base, body)
                else:
                    new = strategic_merge(base, body)
            except ValueError as e:
                raise ApiError(422, "Invalid", str(e))
            if not isinstance(new, dict):
                raise err_bad_request("patch produced a non-object")
            if subresource == "status":
                keep = copy.deepcopy(old)
                keep["status"] = new.get("status")
                new = keep
            elif "status" in old and ST in res.subs:
                new["status"] = copy.deepcopy(old["status"])
            new.setdefault("metadata", {})["resourceVersion"] = new["metadata"].get("resourceVersion")
            nrv = new["metadata"].get("resourceVersion")
            if nrv and nrv != old["metadata"]["resourceVersion"]:
                raise err_conflict_modified(res, name)
            new["metadata"]["name"] = name
            self._finish_keep(res, old, new)
            apply_defaults(res, new, old)
            validate(res, new)
            check_immutable(res, old, new)
            new["metadata"]["managedFields"] = old["metadata"].get("managedFields")
            self._update_ownership(res, old, new, manager, subresource)
            return self._commit_update(res, old, new, dry_run)

    def ssa_quirks(self, res, cfg):
        """Server-side apply of Kubernetes < 1.21 (kubernetes#98576): a Service
        port without `protocol` (a key of the ports list, defaulted only later)
        fails with HTTP 500, body and message as recorded from a real 1.20.2."""
        ver = tuple(int(x) for x in re.findall(r"\d+", self.opts.k8s_version)[:2])
        if ver >= (1, 21) or res.kind != "Service" or res.group:
            return
        for i, p in enumerate((cfg.get("spec") or {}).get("ports") or []):
            if isinstance(p, dict) and "protocol" not in p:
                raise ApiError(500, "", "failed to create typed patch object: .spec.ports: element %d: "
                               "associative list with keys has an element that omits key field "
                               "\"protocol\" (and doesn't have default value)" % i)

    def apply(self, res, ns, name, cfg, manager, force, dry_run=False):
        """Server-side apply. Returns (obj, created)."""
        with self.lock:
            if not isinstance(cfg, dict):
                raise err_bad_request("apply patch must be an object")
            self.ssa_quirks(res, cfg)
            if cfg.get("apiVersion") != res.gv:
                raise err_bad_request("Incorrect version specified in apply patch. Specified patch "
                                      "version: %s, expected: %s" % (cfg.get("apiVersion", ""), res.gv))
            if cfg.get("kind") != res.kind:
                raise err_bad_request("Incorrect kind specified in apply patch. Specified patch "
                                      "kind: %s, expected: %s" % (cfg.get("kind", ""), res.kind))
            cmd = cfg.setdefault("metadata", {})
            if cmd.get("name", name) != name:
                raise err_bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                                      % (cmd.get("name"), name))
            if res.namespaced and cmd.get("namespace", ns) != ns:
                raise err_bad_request("the namespace of the provided object does not match the "
                                      "namespace sent on the request")
            cfg = copy.deepcopy(cfg)
            cfg.pop("status", None)
            for k in SYSTEM_MD - {"name", "namespace"}:
                cfg["metadata"].pop(k, None)
            cfg_paths = obj_paths(cfg)
            old = self._get(res, ns, name)
            if old is None:
                self.check_ns(res, ns, name)
                obj = copy.deepcopy(cfg)
                obj["metadata"]["name"] = name
                self._finish_new(res, ns, obj)
                apply_defaults(res, obj)
                validate(res, obj)
                sets = []
                mf_entry(sets, manager, "Apply", res.gv)[1] |= cfg_paths
                mf_store(obj, sets)
                if dry_run:
                    return ordered(obj), True
                return self._put(res, obj, "ADDED"), True
            sets = mf_sets(old)
            conflicts = []
            for s in sets:
                if s[0].get("manager") == manager and s[0].get("operation") == "Apply":
                    continue
                for p in sorted(cfg_paths & s[1]):
                    if p and p[-1][0] == "k":
                        continue
                    if path_get(old, p) != path_get(cfg, p):
                        conflicts.append((s, p))
            if conflicts and not force:
                def fmt(p):
                    return "".join("." + n if k == "f" else "[" + ",".join(
                        "%s=%s" % (a, json.dumps(b)) for a, b in json.loads(n).items()) + "]"
                        for k, n in p)
                mgrs = sorted({s[0]["manager"] for s, _ in conflicts})
                if len(conflicts) == 1:
                    msg = 'Apply failed with 1 conflict: conflict with "%s": %s' % (
                        conflicts[0][0][0]["manager"], fmt(conflicts[0][1]))
                else:
                    lines = []
                    for m in mgrs:
                        lines.append('conflicts with "%s":' % m)
                        lines.extend("- " + fmt(p) for s, p in conflicts if s[0]["manager"] == m)
                    msg = "Apply failed with %d conflicts: %s" % (len(conflicts), "\n".join(lines))
                causes = [{"reason": "FieldManagerConflict",
                           "message": 'conflict with "%s"' % s[0]["manager"]
                           + (' using %s' % s[0].get("apiVersion") if s[0].get("operation") == "Update" else ""),
                           "field": fmt(p)} for s, p in conflicts]
                raise ApiError(409, "Conflict", msg, {"causes": causes})
            for s, p in conflicts:
                s[1].discard(p)
            mine = mf_entry(sets, manager, "Apply", res.gv)
            others = set()
            for s in sets:
                if s is not mine:
                    others |= s[1]
            removed = mine[1] - cfg_paths - others
            new = copy.deepcopy(old)
            for p in sorted(removed, key=len, reverse=True):
                path_delete(new, p)
            new = apply_merge(new, cfg)
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            new["metadata"]["name"] = name
            self._finish_keep(res, old, new)
            apply_defaults(res, new, old)
            validate(res, new)
            check_immutable(res, old, new)
            changed = mine[1] != cfg_paths or any(
                path_get(old, p) != path_get(new, p) for p in cfg_paths)
            mine[1] = set(cfg_paths)
            if changed:
                mine[0]["time"] = now_ts()
            live = obj_paths(new)
            for s in sets:
                if s[0].get("subresource") != "status":
                    s[1] &= live
            mf_store(new, sets)
            return self._commit_update(res, old, new, dry_run), False

    def delete(self, res, ns, name, propagation=None, preconditions=None, dry_run=False):
        """Returns (object-or-None, deleted_now)."""
        with self.lock:
            old = self._get(res, ns, name)
            if old is None:
                raise err_not_found(res, name)
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != old["metadata"]["uid"]:
                raise ApiError(409, "Conflict",
                               'Operation cannot be fulfilled on %s "%s": Precondition failed: '
                               'UID in precondition: %s, UID in object meta: %s'
                               % (res.qualified, name, pre["uid"], old["metadata"]["uid"]),
                               _details(res, name))
            if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
                raise err_conflict_modified(res, name)
            if dry_run:
                return old, False
            if res.kind == "Namespace":
                if old["metadata"].get("deletionTimestamp"):
                    return old, False
                new = copy.deepcopy(old)
                new["metadata"]["deletionTimestamp"] = now_ts()
                new["status"] = {"phase": "Terminating"}
                self.terminating[name] = time.time() + self.opts.terminate_delay
                return self._put(res, new, "MODIFIED", old), False
            fin = list(old["metadata"].get("finalizers") or [])
            if propagation == "Foreground" and self.owned.get(old["metadata"]["uid"]):
                fin.append("foregroundDeletion")
            if fin:
                if old["metadata"].get("deletionTimestamp"):
                    return old, False
                new = copy.deepcopy(old)
                new["metadata"]["deletionTimestamp"] = now_ts()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                new["metadata"]["finalizers"] = fin
                return self._put(res, new, "MODIFIED", old), False
            gone = self._remove(res, old)
            self._gc(old["metadata"]["uid"], propagation or "Background")
            return gone, True

    def _gc(self, uid, propagation):
        keys = list(self.owned.pop(uid, ()))
        for rkey, ns, name in keys:
            r = self.res_of(rkey)
            o = self._get(r, ns, name) if r else None
            if o is None:
                continue
            if propagation == "Orphan":
                new = copy.deepcopy(o)
                new["metadata"]["ownerReferences"] = [x for x in new["metadata"].get("ownerReferences", [])
                                                      if x.get("uid") != uid]
                if not new["metadata"]["ownerReferences"]:
                    del new["metadata"]["ownerReferences"]
                self._put(r, new, "MODIFIED", o)
            else:
                self._remove(r, o)
                self._gc(o["metadata"]["uid"], "Background")

    def finish_foreground(self):
        """Removes objects whose foregroundDeletion finalizer can be dropped."""
        with self.lock:
            for r in self.reg.all():
                for nsb in list(self.data.get(r.key, {}).values()):
                    for o in list(nsb.values()):
                        fin = o["metadata"].get("finalizers") or []
                        if "foregroundDeletion" in fin and o["metadata"].get("deletionTimestamp"):
                            uid = o["metadata"]["uid"]
                            self._gc(uid, "Background")
                            rest = [f for f in fin if f != "foregroundDeletion"]
                            if rest:
                                new = copy.deepcopy(o)
                                new["metadata"]["finalizers"] = rest
                                self._put(r, new, "MODIFIED", o)
                            else:
                                self._remove(r, o)

    def finish_namespaces(self):
        now = time.time()
        with self.lock:
            for ns, due in list(self.terminating.items()):
                if due > now:
                    continue
                del self.terminating[ns]
                for r in self.reg.all():
                    if not r.namespaced:
                        continue
                    for o in list(self.data.get(r.key, {}).get(ns, {}).values()):
                        self._remove(r, o)
                nsres = self.reg.get("", "v1", "namespaces")
                o = self._get(nsres, "", ns)
                if o is not None:
                    self._remove(nsres, o)

    def set_status(self, res, obj, status, manager="kube-controller-manager"):
        """Controller status write; skipped when nothing changed."""
        with self.lock:
            cur = self._get(res, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            if cur is None or cur["metadata"]["uid"] != obj["metadata"]["uid"]:
                return None
            if cur.get("status") == status:
                return cur
            new = copy.deepcopy(cur)
            new["status"] = status
            self._update_ownership(res, cur, new, manager, "status")
            return self._put(res, new, "MODIFIED", cur)

    def put_raw(self, res, obj, etype="MODIFIED"):
        with self.lock:
            md = obj["metadata"]
            prev = self._get(res, md.get("namespace", ""), md["name"])
            return self._put(res, obj, "ADDED" if prev is None else etype, prev)

    def remove_raw(self, res, obj):
        with self.lock:
            return self._remove(res, obj)

    def snapshot(self):
        with self.lock:
            return {rk: {ns: dict(b) for ns, b in m.items() if b} for rk, m in self.data.items()}


# --------------------------------------------------------------------------- controller

SAFE = "bcdfghjklmnpqrstvwxz2456789"


def safe_hash(obj, n=10):
    h = hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).digest()
    return "".join(SAFE[b % len(SAFE)] for b in h[:n])


def rand_suffix(n=5):
    return "".join(random.choice(SAFE) for _ in range(n))


def _int_or_pct(v, total, round_up):
    if isinstance(v, str) and v.endswith("%"):
        x = total * int(v[:-1]) / 100.0
        return int(-(-x // 1)) if round_up else int(x)
    return int(v or 0)


def _cond(old_conds, ctype, status, reason, message, now, with_update=True):
    for c in old_conds or []:
        if c.get("type") == ctype and c.get("status") == status and c.get("reason") == reason \
                and c.get("message") == message:
            return c
    c = {"type": ctype, "status": status}
    prev = [x for x in old_conds or [] if x.get("type") == ctype]
    if with_update:
        c["lastUpdateTime"] = now
    c["lastTransitionTime"] = prev[0]["lastTransitionTime"] if prev and prev[0].get("status") == status \
        and prev[0].get("lastTransitionTime") else now
    c["reason"], c["message"] = reason, message
    return c


def crash_log(pod, container, image, restarts):
    lines = []
    for i in range(40):
        lines.append("2026-01-01T00:00:%02d.%03dZ INFO %s starting: loading module %d of 40 (image %s)"
                     % (i % 60, i * 7 % 1000, container, i + 1, image))
    lines.append("2026-01-01T00:00:41.000Z INFO connecting to database at db:5432")
    lines.append("panic: runtime error: invalid memory address or nil pointer dereference")
    lines.append("[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a2b3c]")
    lines.append("")
    lines.append("goroutine 1 [running]:")
    lines.append("main.connect(...)")
    lines.append("\t/src/main.go:42 +0x1c")
    lines.append("main.main()")
    lines.append("\t/src/main.go:17 +0x25")
    lines.append("exit status 2 (restart %d of pod %s)" % (restarts, pod))
    return lines


class Clock:
    """When things happened, for the wait benchmarks (issue 15 item 6):
    per namespace the time (server's time.time()) of the last write to any
    object in it - after a deploy only the controller writes there, so that
    is when it made the last object ready - and the time the namespace was
    removed for good. GET /_test/clock?namespace=NS answers
    {"last_write": t|null, "gone": t|null, "now": t}."""

    def __init__(self, cluster):
        self.lock = threading.Lock()
        self.last_write, self.gone = {}, {}
        cluster.listeners.append(self.on_change)

    def on_change(self, res, obj, etype):
        md, now = obj["metadata"], time.time()
        with self.lock:
            if res.kind == "Namespace":
                if etype == "DELETED":
                    self.gone[md["name"]] = now
                else:
                    self.gone.pop(md["name"], None)
            elif md.get("namespace") and etype in ("ADDED", "MODIFIED"):
                self.last_write[md["namespace"]] = now

    def get(self, ns):
        with self.lock:
            return {"last_write": self.last_write.get(ns), "gone": self.gone.get(ns), "now": time.time()}


class Controller(threading.Thread):
    WORKLOADS = {"apps/deployments", "apps/replicasets", "apps/statefulsets", "apps/daemonsets",
                 "batch/jobs", "/pods", "/namespaces", "/persistentvolumeclaims"}
    OWNER_KEYS = {"Deployment": "apps/deployments", "ReplicaSet": "apps/replicasets",
                  "StatefulSet": "apps/statefulsets", "DaemonSet": "apps/daemonsets", "Job": "batch/jobs"}

    def __init__(self, cluster, opts):
        super().__init__(daemon=True)
        self.c, self.opts = cluster, opts
        self.qlock = threading.Lock()
        self.queue = {}       # (rkey, ns, name) -> due
        self.born = {}        # pod uid -> start time (float)
        self.progress = {}    # deployment uid -> [generation, signature, since]
        self.events = {}      # (pod uid, reason) -> event name
        self.podip = 1
        self.stop = False
        cluster.listeners.append(self.on_change)

    def enqueue(self, key, due=0.0):
        with self.qlock:
            cur = self.queue.get(key)
            if cur is None or due < cur:
                self.queue[key] = due

    def on_change(self, res, obj, etype):
        md = obj["metadata"]
        ns = md.get("namespace", "")
        if res.key in self.WORKLOADS and etype != "DELETED":
            self.enqueue((res.key, ns, md["name"]))
        for o in md.get("ownerReferences") or []:
            k = self.OWNER_KEYS.get(o.get("kind"))
            if k:
                self.enqueue((k, ns, o.get("name")))

    def run(self):
        last_fg = 0.0
        while not self.stop:
            time.sleep(0.05)
            now = time.time()
            with self.qlock:
                due = [k for k, t in self.queue.items() if t <= now]
                for k in due:
                    del self.queue[k]
            for k in due:
                try:
                    self.reconcile(k)
                except Exception:
                    import traceback
                    traceback.print_exc()
            try:
                self.c.finish_namespaces()
                if now - last_fg > 0.3:
                    last_fg = now
                    self.c.finish_foreground()
            except Exception:
                import traceback
                traceback.print_exc()

    def reconcile(self, key):
        rkey, ns, name = key
        res = self.c.res_of(rkey)
        if res is None:
            return
        obj = self.c.find(res, ns, name)
        if obj is None or (obj["metadata"].get("deletionTimestamp") and res.kind != "Namespace"):
            return
        fn = getattr(self, "r_" + res.kind, None)
        if fn:
            nxt = fn(res, obj)
            if nxt:
                self.enqueue(key, nxt)

    # ---- helpers
    def R(self, g, plural):
        return self.c.reg.get(g, "v1", plural)

    def owned_pods(self, owner):
        pods = self.R("", "pods")
        out = []
        with self.c.lock:
            for rkey, ns, name in sorted(self.c.owned.get(owner["metadata"]["uid"], ())):
                if rkey == "/pods":
                    p = self.c._get(pods, ns, name)
                    if p is not None and not p["metadata"].get("deletionTimestamp"):
                        out.append(p)
        return out

    def owned_of(self, owner, rkey):
        res = self.c.res_of(rkey)
        with self.c.lock:
            return [o for o in (self.c._get(res, ns, name) for rk, ns, name in
                                sorted(self.c.owned.get(owner["metadata"]["uid"], ())) if rk == rkey)
                    if o is not None]

    def owner_ref(self, res, obj):
        return {"apiVersion": res.gv, "kind": res.kind, "name": obj["metadata"]["name"],
                "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}

    def make_pod(self, owner_res, owner, name, template, extra_labels=None):
        pods = self.R("", "pods")
        t = copy.deepcopy(template)
        md = t.get("metadata") or {}
        labels = dict(md.get("labels") or {})
        labels.update(extra_labels or {})
        pod = {"kind": "Pod", "apiVersion": "v1",
               "metadata": {"name": name, "labels": labels,
                            "ownerReferences": [self.owner_ref(owner_res, owner)]},
               "spec": t.get("spec") or {}}
        if md.get("annotations"):
            pod["metadata"]["annotations"] = md["annotations"]
        pod["spec"]["nodeName"] = NODE
        try:
            return self.c.create(pods, owner["metadata"]["namespace"], pod, manager="kube-controller-manager")
        except ApiError:
            return None

    def delete_pod(self, p):
        try:
            self.c.delete(self.R("", "pods"), p["metadata"]["namespace"], p["metadata"]["name"])
        except ApiError:
            pass

    def warn_event(self, obj, reason, message, kind="Pod", api_version="v1", fieldpath=None,
                   component="kubelet"):
        evres = self.R("", "events")
        md = obj["metadata"]
        key = (md["uid"], reason)
        ns = md["namespace"]
        now = now_ts()
        with self.c.lock:
            name = self.events.get(key)
            cur = self.c._get(evres, ns, name) if name else None
            if cur is not None:
                if cur.get("message") == message and cur.get("count", 1) >= 1 and \
                        time.time() - self.events.get(key + ("t",), 0) < 1.0:
                    return
                new = copy.deepcopy(cur)
                new["count"] = cur.get("count", 1) + 1
                new["lastTimestamp"] = now
                new["message"] = message
                self.events[key + ("t",)] = time.time()
                self.c._put(evres, new, "MODIFIED", cur)
                return
            name = "%s.%016x" % (md["name"], random.getrandbits(64))
            self.events[key] = name
            self.events[key + ("t",)] = time.time()
            io = {"kind": kind, "namespace": ns, "name": md["name"], "uid": md["uid"],
                  "apiVersion": api_version, "resourceVersion": md.get("resourceVersion")}
            if fieldpath:
                io["fieldPath"] = fieldpath
            ev = {"metadata": {"name": name}, "involvedObject": io, "reason": reason,
                  "message": message, "source": {"component": component, "host": NODE}
                  if component == "kubelet" else {"component": component},
                  "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": "Warning",
                  "eventTime": None, "reportingComponent": component,
                  "reportingInstance": NODE if component == "kubelet" else ""}
        try:
            self.c.create(evres, ns, ev, manager=component)
        except ApiError:
            pass

    # ---- pods
    def container_state(self, image, age, is_job, pod, cname):
        rd = self.opts.ready_delay
        img = image.lower()
        if "imagepull" in img or "doesnotexist" in img:
            if age < rd:
                return ("waiting", "ErrImagePull",
                        'failed to pull and unpack image "%s": failed to resolve reference "%s": '
                        '%s: not found' % (image, image, image), 0), rd - age
            return ("waiting", "ImagePullBackOff", 'Back-off pulling image "%s"' % image, 0), None
        if "configerror" in img:
            return ("waiting", "CreateContainerConfigError", 'configmap "app-config" not found', 0), None
        if age < rd:
            return ("waiting", "ContainerCreating", None, 0), rd - age
        if "crashloop" in img:
            n = 1 + int((age - rd) / self.opts.crash_period)
            return ("waiting", "CrashLoopBackOff",
                    "back-off %ds restarting failed container=%s pod=%s_%s(%s)"
                    % (min(300, 10 * 2 ** min(n - 1, 5)), cname, pod["metadata"]["name"],
                       pod["metadata"]["namespace"], pod["metadata"]["uid"]), n), \
                self.opts.crash_period - ((age - rd) % self.opts.crash_period) + 0.01
        if is_job:
            if "fail" in img:
                return ("terminated", "Error", None, 0), None
            return ("terminated", "Completed", None, 0), None
        return ("running", None, None, 0), None

    def r_Pod(self, res, pod):
        uid = pod["metadata"]["uid"]
        now = time.time()
        born = self.born.setdefault(uid, now)
        age = now - born
        is_job = any(o.get("kind") == "Job" for o in pod["metadata"].get("ownerReferences") or []) or \
            (pod.get("spec") or {}).get("restartPolicy") in ("Never", "OnFailure") and \
            any("fail" in (c.get("image") or "") for c in pod["spec"].get("containers") or [])
        old = pod.get("status") or {}
        started = old.get("startTime") or now_ts(born)
        cstats, nxt, all_ready, phase = [], None, True, "Running"
        waiting_reasons = []
        for c in (pod.get("spec") or {}).get("containers") or []:
            (state, reason, msg, restarts), due = self.container_state(c.get("image") or "", age, is_job,
                                                                         pod, c.get("name"))
            if due:
                nxt = min(nxt or due, due)
            cs = {"name": c.get("name"), "state": {}, "lastState": {}, "ready": False,
                  "restartCount": restarts, "image": c.get("image"),
                  "imageID": "", "started": False}
            ts = now_ts(born + self.opts.ready_delay)
            if state == "running":
                cs["state"] = {"running": {"startedAt": ts}}
                cs["ready"], cs["started"] = True, True
                cs["imageID"] = "docker.io/library/%s@sha256:%s" % (
                    (c.get("image") or "").split(":")[0], hashlib.sha256((c.get("image") or "").encode()).hexdigest())
                cs["containerID"] = "containerd://" + hashlib.sha256((uid + c.get("name", "")).encode()).hexdigest()
            elif state == "terminated":
                code = 1 if reason == "Error" else 0
                cs["state"] = {"terminated": {"exitCode": code, "reason": reason, "startedAt": ts,
                                              "finishedAt": ts,
                                              "containerID": "containerd://" + uid.replace("-", "")}}
                all_ready = False
                phase = "Failed" if code else ("Succeeded" if phase != "Failed" else phase)
            else:
                w = {"reason": reason}
                if msg:
                    w["message"] = msg
                cs["state"] = {"waiting": w}
                all_ready = False
                waiting_reasons.append((c.get("name"), reason, msg, c.get("image")))
                if reason == "CrashLoopBackOff":
                    cs["lastState"] = {"terminated": {"exitCode": 2, "reason": "Error", "startedAt": ts,
                                                      "finishedAt": ts}}
                    cs["containerID"] = "containerd://" + uid.replace("-", "")
                elif phase == "Running":
                    phase = "Pending"
            cstats.append(cs)
        if phase == "Running" and any(r == "CrashLoopBackOff" for _, r, _, _ in waiting_reasons):
            phase = "Running"
        ready_s = "True" if all_ready and phase == "Running" else "False"
        conds = [
            {"type": "PodReadyToStartContainers", "status": "True" if age >= self.opts.ready_delay else "False"},
            {"type": "Initialized", "status": "True"},
            {"type": "Ready", "status": ready_s},
            {"type": "ContainersReady", "status": ready_s},
            {"type": "PodScheduled", "status": "True"},
        ]
        for cnd in conds:
            prev = [x for x in old.get("conditions") or [] if x.get("type") == cnd["type"]]
            cnd["lastProbeTime"] = None
            cnd["lastTransitionTime"] = prev[0]["lastTransitionTime"] if prev and \
                prev[0]["status"] == cnd["status"] else now_ts()
            if cnd["status"] == "False" and cnd["type"] in ("Ready", "ContainersReady"):
                notready = [cs["name"] for cs in cstats if not cs["ready"]]
                cnd["reason"] = "PodCompleted" if phase in ("Succeeded", "Failed") else "ContainersNotReady"
                if cnd["reason"] == "ContainersNotReady":
                    cnd["message"] = "containers with unready status: [%s]" % " ".join(notready)
        if pod["metadata"].get("name") and "podIP" in old:
            ip = old["podIP"]
        else:
            self.podip += 1
            ip = "10.244.%d.%d" % (self.podip // 250, self.podip % 250 + 1)
        st = {"phase": phase, "conditions": conds, "hostIP": "172.18.0.2",
              "hostIPs": [{"ip": "172.18.0.2"}], "podIP": ip, "podIPs": [{"ip": ip}],
              "startTime": started, "containerStatuses": cstats, "qosClass": "BestEffort"}
        self.c.set_status(res, pod, st, manager="kubelet")
        for cname, reason, msg, image in waiting_reasons:
            fp = "spec.containers{%s}" % cname
            if reason == "CrashLoopBackOff":
                self.warn_event(pod, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)"
                                % (cname, pod["metadata"]["name"], pod["metadata"]["namespace"],
                                   pod["metadata"]["uid"]), fieldpath=fp)
            elif reason in ("ErrImagePull", "ImagePullBackOff"):
                self.warn_event(pod, "Failed", 'Failed to pull image "%s": %s' % (image, msg
                                if reason == "ErrImagePull" else "not found"), fieldpath=fp)
                if reason == "ImagePullBackOff":
                    self.warn_event(pod, "BackOff", 'Back-off pulling image "%s"' % image, fieldpath=fp)
            elif reason == "CreateContainerConfigError":
                self.warn_event(pod, "Failed", "Error: %s" % msg, fieldpath=fp)
        return time.time() + nxt if nxt else None

    # ---- workloads
    def _pods_counts(self, pods):
        ready = sum(1 for p in pods if any(c.get("type") == "Ready" and c.get("status") == "True"
                                           for c in (p.get("status") or {}).get("conditions") or []))
        return len(pods), ready

    def r_ReplicaSet(self, res, rs):
        spec = rs.get("spec") or {}
        want = spec.get("replicas", 1)
        pods = self.owned_pods(rs)
        for p in pods[want:]:
            self.delete_pod(p)
        pods = pods[:want]
        for _ in range(want - len(pods)):
            p = self.make_pod(res, rs, rs["metadata"]["name"] + "-" + rand_suffix(), spec.get("template") or {})
            if p:
                pods.append(p)
        n, ready = self._pods_counts(pods)
        st = {"replicas": n}
        if n:
            st["fullyLabeledReplicas"] = n
        if ready:
            st["readyReplicas"] = ready
            st["availableReplicas"] = ready
        st["observedGeneration"] = rs["metadata"].get("generation", 1)
        self.c.set_status(res, rs, st)

    def r_Deployment(self, res, d):
        spec = d.get("spec") or {}
        md = d["metadata"]
        want = spec.get("replicas", 1)
        tmpl = spec.get("template") or {}
        h = safe_hash(tmpl)
        rsres = self.R("apps", "replicasets")
        rsname = "%s-%s" % (md["name"], h)
        owned_rs = self.owned_of(d, "apps/replicasets")
        revision = 1 + max([int((r["metadata"].get("annotations") or {}).get(
            "deployment.kubernetes.io/revision", "0")) for r in owned_rs] or [0])
        cur = [r for r in owned_rs if r["metadata"]["name"] == rsname]
        created_new = False
        if not cur:
            t = copy.deepcopy(tmpl)
            t.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
            sel = copy.deepcopy(spec.get("selector") or {})
            sel.setdefault("matchLabels", {})["pod-template-hash"] = h
            rs = {"kind": "ReplicaSet", "apiVersion": "apps/v1",
                  "metadata": {"name": rsname, "labels": dict(t["metadata"]["labels"]),
                               "annotations": {"deployment.kubernetes.io/desired-replicas": str(want),
                                               "deployment.kubernetes.io/max-replicas": str(want + _int_or_pct(
                                                   ((spec.get("strategy") or {}).get("rollingUpdate") or {}).get(
                                                       "maxSurge", "25%"), want, True)),
                                               "deployment.kubernetes.io/revision": str(revision)},
                               "ownerReferences": [self.owner_ref(res, d)]},
                  "spec": {"replicas": want, "selector": sel, "template": t}}
            try:
                self.c.create(rsres, md["namespace"], rs, manager="kube-controller-manager")
                created_new = True
            except ApiError:
                return 0.2
        else:
            r = cur[0]
            if (r.get("spec") or {}).get("replicas") != want:
                new = copy.deepcopy(r)
                new["spec"]["replicas"] = want
                self.c.update(rsres, md["namespace"], rsname, new, "kube-controller-manager")
        for r in owned_rs:
            if r["metadata"]["name"] != rsname and (r.get("spec") or {}).get("replicas", 0) != 0:
                new = copy.deepcopy(r)
                new["spec"]["replicas"] = 0
                self.c.update(rsres, md["namespace"], r["metadata"]["name"], new, "kube-controller-manager")
        new_pods, all_pods = [], []
        for r in self.owned_of(d, "apps/replicasets"):
            ps = self.owned_pods(r)
            all_pods += ps
            if r["metadata"]["name"] == rsname:
                new_pods = ps
        total, ready = self._pods_counts(all_pods)
        updated = len(new_pods)
        available = ready
        now = now_ts()
        gen = md.get("generation", 1)
        sig = (gen, updated, ready, total)
        pr = self.progress.get(md["uid"])
        t = time.time()
        if pr is None or pr[1] != sig:
            if pr is None or pr[0] != gen or ready > pr[1][2] or updated > pr[1][1]:
                since = t
            else:
                since = pr[2]
            pr = [gen, sig, since]
            self.progress[md["uid"]] = pr
        max_unavail = _int_or_pct(((spec.get("strategy") or {}).get("rollingUpdate") or {}).get(
            "maxUnavailable", "25%"), want, False)
        old_st = d.get("status") or {}
        oc = old_st.get("conditions") or []
        if available >= want - max_unavail and want > 0 or want == 0:
            avail = _cond(oc, "Available", "True", "MinimumReplicasAvailable",
                          "Deployment has minimum availability.", now)
        else:
            avail = _cond(oc, "Available", "False", "MinimumReplicasUnavailable",
                          "Deployment does not have minimum availability.", now)
        complete = updated == want and available == want and total == want
        nxt = None
        deadline = spec.get("progressDeadlineSeconds", 600)
        prev_prog = [c for c in oc if c.get("type") == "Progressing"]
        if complete:
            prog = _cond(oc, "Progressing", "True", "NewReplicaSetAvailable",
                         'ReplicaSet "%s" has successfully progressed.' % rsname, now)
        elif prev_prog and prev_prog[0].get("reason") == "ProgressDeadlineExceeded" and pr[0] == gen \
                and t - pr[2] > deadline:
            prog = prev_prog[0]
        elif t - pr[2] > deadline:
            prog = _cond(oc, "Progressing", "False", "ProgressDeadlineExceeded",
                         'ReplicaSet "%s" has timed out progressing.' % rsname, now)
        else:
            if created_new:
                prog = _cond(oc, "Progressing", "True", "NewReplicaSetCreated",
                             'Created new replica set "%s"' % rsname, now)
            else:
                prog = _cond(oc, "Progressing", "True", "ReplicaSetUpdated",
                             'ReplicaSet "%s" is progressing.' % rsname, now)
            nxt = time.time() + max(0.05, deadline - (t - pr[2]) + 0.01)
        st = {"observedGeneration": gen}
        if total:
            st["replicas"] = total
        if updated:
            st["updatedReplicas"] = updated
        if ready:
            st["readyReplicas"] = ready
        if available:
            st["availableReplicas"] = available
        if want - available > 0:
            st["unavailableReplicas"] = want - available
        st["conditions"] = [avail, prog]
        self.c.set_status(res, d, st)
        return nxt

    def r_StatefulSet(self, res, s):
        spec = s.get("spec") or {}
        want = spec.get("replicas", 1)
        md = s["metadata"]
        rev = "%s-%s" % (md["name"], safe_hash(spec.get("template") or {}))
        pods = {p["metadata"]["name"]: p for p in self.owned_pods(s)}
        for name, p in list(pods.items()):
            idx = name.rsplit("-", 1)[-1]
            if not idx.isdigit() or int(idx) >= want or \
                    (p["metadata"].get("labels") or {}).get("controller-revision-hash") != rev:
                self.delete_pod(p)
                del pods[name]
        for i in range(want):
            name = "%s-%d" % (md["name"], i)
            if name not in pods:
                p = self.make_pod(res, s, name, spec.get("template") or {},
                                  {"controller-revision-hash": rev, "apps.kubernetes.io/pod-index": str(i),
                                   "statefulset.kubernetes.io/pod-name": name})
                if p:
                    pods[name] = p
        n, ready = self._pods_counts(list(pods.values()))
        st = {"observedGeneration": md.get("generation", 1), "replicas": n, "readyReplicas": ready,
              "currentReplicas": n, "updatedReplicas": n, "currentRevision": rev, "updateRevision": rev,
              "collisionCount": 0, "availableReplicas": ready}
        if not ready:
            del st["readyReplicas"]
        self.c.set_status(res, s, st)

    def r_DaemonSet(self, res, ds):
        spec = ds.get("spec") or {}
        md = ds["metadata"]
        h = safe_hash(spec.get("template") or {})
        pods = self.owned_pods(ds)
        for p in pods:
            if (p["metadata"].get("labels") or {}).get("controller-revision-hash") != h:
                self.delete_pod(p)
        pods = [p for p in pods if (p["metadata"].get("labels") or {}).get("controller-revision-hash") == h]
        if not pods:
            p = self.make_pod(res, ds, "%s-%s" % (md["name"], rand_suffix()), spec.get("template") or {},
                              {"controller-revision-hash": h, "pod-template-generation": str(md.get("generation", 1))})
            if p:
                pods = [p]
        n, ready = self._pods_counts(pods)
        st = {"currentNumberScheduled": n, "numberMisscheduled": 0, "desiredNumberScheduled": 1,
              "numberReady": ready, "observedGeneration": md.get("generation", 1),
              "updatedNumberScheduled": n}
        if ready:
            st["numberAvailable"] = ready
        else:
            st["numberUnavailable"] = 1
        self.c.set_status(res, ds, st)

    def r_Job(self, res, job):
        spec = job.get("spec") or {}
        md = job["metadata"]
        old = job.get("status") or {}
        if any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in old.get("conditions") or []):
            return None
        pods = self.owned_pods(job)
        if not pods and not spec.get("suspend"):
            p = self.make_pod(res, job, "%s-%s" % (md["name"], rand_suffix()), spec.get("template") or {})
            pods = [p] if p else []
        now = now_ts()
        st = {"startTime": old.get("startTime") or now, "uncountedTerminatedPods": {}, "terminating": 0}
        phases = [(p.get("status") or {}).get("phase") for p in pods]
        if "Failed" in phases:
            lim = spec.get("backoffLimit", 6)
            st["failed"] = lim + 1
            st["ready"] = 0
            msg = "Job has reached the specified backoff limit"
            st["conditions"] = [
                {"type": "FailureTarget", "status": "True", "lastProbeTime": now, "lastTransitionTime": now,
                 "reason": "BackoffLimitExceeded", "message": msg},
                {"type": "Failed", "status": "True", "lastProbeTime": now, "lastTransitionTime": now,
                 "reason": "BackoffLimitExceeded", "message": msg}]
            self.c.set_status(res, job, st)
            self.warn_event(job, "BackoffLimitExceeded", msg, kind="Job", api_version="batch/v1",
                            component="job-controller")
        elif phases and all(ph == "Succeeded" for ph in phases):
            st["succeeded"] = spec.get("completions", 1)
            st["ready"] = 0
            st["completionTime"] = now
            st["conditions"] = [
                {"type": "SuccessCriteriaMet", "status": "True", "lastProbeTime": now,
                 "lastTransitionTime": now, "reason": "CompletionsReached",
                 "message": "Reached expected number of succeeded pods"},
                {"type": "Complete", "status": "True", "lastProbeTime": now, "lastTransitionTime": now,
                 "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods"}]
            self.c.set_status(res, job, st)
            self.job_writes_configmap(job)
        else:
            st["active"] = len(pods)
            _, ready = self._pods_counts(pods)
            st["ready"] = ready
            self.c.set_status(res, job, st)
        return None

    def job_writes_configmap(self, job):
        """What a Job's container would do through the API before it exits 0
        (test stand-in): annotation test.prenv.dev/writes-configmap: NAME and
        test.prenv.dev/configmap-data: a JSON object -> ConfigMap NAME in the
        Job's namespace, created or replaced by the manager "job-pod"."""
        ann = job["metadata"].get("annotations") or {}
        name = ann.get("test.prenv.dev/writes-configmap")
        if not name:
            return
        try:
            data = {str(k): str(v) for k, v in json.loads(ann.get("test.prenv.dev/configmap-data") or "{}").items()}
        except (ValueError, AttributeError):
            data = {}
        ns = job["metadata"]["namespace"]
        r = self.R("", "configmaps")
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": data}
        try:
            if self.c.find(r, ns, name) is None:
                self.c.create(r, ns, obj, manager="job-pod")
            else:
                self.c.update(r, ns, name, obj, "job-pod")
        except ApiError:
            pass

    def r_PersistentVolumeClaim(self, res, pvc):
        spec = pvc.get("spec") or {}
        if (pvc.get("status") or {}).get("phase") == "Bound":
            return None
        st = {"phase": "Bound", "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
              "capacity": {"storage": ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")}}
        self.c.set_status(res, pvc, st)
        return None

    def r_Namespace(self, res, ns):
        if ns["metadata"].get("deletionTimestamp"):
            return None
        name = ns["metadata"]["name"]
        if name in ("kube-system", "kube-public", "kube-node-lease") or not self.opts.ns_defaults:
            return None
        for plural, obj in (("serviceaccounts", {"metadata": {"name": "default"}}),
                            ("configmaps", {"metadata": {"name": "kube-root-ca.crt", "annotations": {
                                "kubernetes.io/description": "Contains a CA bundle that can be used to "
                                "verify the kube-apiserver when using internal endpoints such as the "
                                "internal service IP or kubernetes.default.svc. No other usage is "
                                "guaranteed across distributions of Kubernetes clusters."}},
                                "data": {"ca.crt": self.opts.ca_pem}})):
            r = self.R("", plural)
            if self.c.find(r, name, obj["metadata"]["name"]) is None:
                try:
                    self.c.create(r, name, copy.deepcopy(obj), manager="kube-controller-manager")
                except ApiError:
                    pass
        return None


# --------------------------------------------------------------------------- OpenAPI

class OpenAPI:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self._v2 = None
        self._v3 = {}
        self._doc = None

    def doc(self):
        with self.lock:
            if self._doc is None:
                with open(self.path, "rb") as f:
                    self._v2 = f.read()
                self._doc = json.loads(self._v2)
            return self._doc

    def v2(self):
        self.doc()
        return self._v2

    @staticmethod
    def gv_prefix(p):
        s = p.strip("/").split("/")
        if s[0] == "api" and len(s) >= 2:
            return "api/" + s[1]
        if s[0] == "apis" and len(s) >= 3:
            return "apis/%s/%s" % (s[1], s[2])
        return None

    def v3_index(self):
        d = self.doc()
        out = {}
        for p in d["paths"]:
            g = self.gv_prefix(p)
            if g and g not in out:
                out[g] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (g, safe_hash(g, 16).upper())}
        return {"paths": {k: out[k] for k in sorted(out)}}

    def v3(self, gvp):
        with self.lock:
            if gvp in self._v3:
                return self._v3[gvp]
        d = self.doc()
        paths = {p: v for p, v in d["paths"].items() if self.gv_prefix(p) == gvp}
        if not paths:
            return None
        raw = json.dumps(paths)
        refs, todo = set(), re.findall(r'"#/definitions/([^"]+)"', raw)
        while todo:
            n = todo.pop()
            if n in refs or n not in d["definitions"]:
                continue
            refs.add(n)
            todo.extend(re.findall(r'"#/definitions/([^"]+)"', json.dumps(d["definitions"][n])))
        v3paths = {}
        for p, item in paths.items():
            ni = {}
            for m, op in item.items():
                if m == "parameters":
                    ni[m] = [self._param(x) for x in op if x.get("in") != "body"]
                    continue
                op = dict(op)
                params = op.get("parameters") or []
                body = [x for x in params if x.get("in") == "body"]
                op["parameters"] = [self._param(x) for x in params if x.get("in") != "body"]
                if not op["parameters"]:
                    del op["parameters"]
                if body:
                    cts = op.pop("consumes", None) or ["application/json"]
                    op["requestBody"] = {"content": {ct: {"schema": body[0].get("schema")} for ct in cts},
                                         "required": bool(body[0].get("required"))}
                prod = op.pop("produces", None) or ["application/json"]
                resp = {}
                for code, r in (op.get("responses") or {}).items():
                    nr = {"description": r.get("description", "")}
                    if "schema" in r:
                        nr["content"] = {ct: {"schema": r["schema"]} for ct in prod}
                    resp[code] = nr
                op["responses"] = resp
                op.pop("schemes", None)
                ni[m] = op
            v3paths[p] = ni
        doc = {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": self.version},
               "paths": v3paths,
               "components": {"schemas": {n: d["definitions"][n] for n in sorted(refs)},
                              "securitySchemes": {"BearerToken": {
                                  "type": "apiKey", "description": "Bearer Token authentication",
                                  "name": "authorization", "in": "header"}}}}
        body = json.dumps(doc).replace('"#/definitions/', '"#/components/schemas/').encode()
        with self.lock:
            self._v3[gvp] = body
        return body

    version = "v1.36.0"

    def _param(self, x):
        x = dict(x)
        if "$ref" in x:
            name = x["$ref"].split("/")[-1]
            x = dict(self.doc()["parameters"].get(name, {}))
        sch = {}
        for k in ("type", "format", "enum", "items"):
            if k in x:
                sch[k] = x.pop(k)
        x.pop("collectionFormat", None)
        x.pop("uniqueItems", None)
        if sch:
            x["schema"] = sch
        return x


# --------------------------------------------------------------------------- HTTP

class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.state = {}

    def set(self, d):
        with self.lock:
            for k, v in d.items():
                self.state[str(k)] = v
            return dict(self.state)

    def get(self):
        with self.lock:
            return dict(self.state)

    def reset(self):
        with self.lock:
            self.state = {}

    def pick(self, method, path):
        """Returns (kind, arg) of the fault to inject for this request, or (None, 0).
        "after": N lets the next N matching requests through first (a fault at
        request N+1 of a run); "hang": answers nothing for hang_s seconds, then
        closes the connection (a time-out, as the client sees it)."""
        with self.lock:
            m = self.state.get("match")
            if m and m not in method + " " + path:
                return None, 0, self.state.get("slow_ms", 0)
            slow = self.state.get("slow_ms", 0)
            if self.state.get("after", 0) > 0:
                self.state["after"] -= 1
                return None, 0, slow
            for k in ("drop", "hang", "429", "503", "500", "502", "504", "403"):
                n = self.state.get(k, 0)
                if n:
                    self.state[k] = n - 1
                    return k, self.state.get("hang_s" if k == "hang" else "retry_after", 1), slow
            return None, 0, slow


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.gen = 0        # bumped by reset(): a connection is classified once per generation
        self.open = 0       # connections open now (a gauge: reset() keeps it)
        self.serial = 0     # the number of the last accepted connection (never reset)
        self.reset()

    def reset(self):
        with self.lock:
            self.total = 0
            self.by_method, self.by_path, self.by_verb = {}, {}, {}
            self.log = []
            self.gen += 1
            # connections: accepted TCP connections; TLS handshakes completed (resumed
            # ones also counted apart) and failed; what the first request on each
            # connection (since the reset) was: an admin /_test/ call or an API request
            # (by User-Agent); the most connections open at once.
            self.conns = {"accepted": 0, "tls_handshakes": 0, "tls_resumed": 0, "tls_failed": 0,
                          "admin": 0, "api": 0, "by_user_agent": {}, "max_open": self.open}

    def conn_accepted(self):
        with self.lock:
            self.serial += 1
            self.conns["accepted"] += 1
            self.open += 1
            self.conns["max_open"] = max(self.conns["max_open"], self.open)

    def conn_closed(self):
        with self.lock:
            self.open -= 1

    def tls_handshake(self, ok, resumed=False):
        with self.lock:
            if not ok:
                self.conns["tls_failed"] += 1
                return
            self.conns["tls_handshakes"] += 1
            if resumed:
                self.conns["tls_resumed"] += 1

    def first_request(self, handler, admin, ua):
        """Classifies handler's connection by its first request since the last reset."""
        with self.lock:
            if getattr(handler, "_stats_gen", None) == self.gen:
                return
            handler._stats_gen = self.gen
            if admin:
                self.conns["admin"] += 1
            else:
                self.conns["api"] += 1
                bu = self.conns["by_user_agent"]
                bu[ua] = bu.get(ua, 0) + 1

    def add(self, method, path, verb=None):
        with self.lock:
            self.total += 1
            self.by_method[method] = self.by_method.get(method, 0) + 1
            self.by_path[path] = self.by_path.get(path, 0) + 1
            if verb:
                self.by_verb[verb] = self.by_verb.get(verb, 0) + 1

    def record(self, entry):
        with self.lock:
            self.log.append(entry)
            if len(self.log) > 5000:
                del self.log[:1000]

    def dump(self, with_log):
        with self.lock:
            c = dict(self.conns, by_user_agent=dict(self.conns["by_user_agent"]), open=self.open)
            d = {"total": self.total, "by_verb": dict(self.by_method), "by_path": dict(self.by_path),
                 "by_k8s_verb": dict(self.by_verb), "connections": c}
            if with_log:
                d["log"] = list(self.log)
            return d


PATCH_TYPES = {"application/json-patch+json": "json", "application/merge-patch+json": "merge",
               "application/strategic-merge-patch+json": "strategic",
               "application/apply-patch+yaml": "apply", "application/apply-patch+json": "apply"}


def _pb_fields(buf):
    """Yields (field number, wire type, value) of one protobuf message."""
    i, n = 0, len(buf)

    def varint():
        nonlocal i
        shift = v = 0
        while True:
            b = buf[i]
            i += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v
    while i < n:
        key = varint()
        fn, wt = key >> 3, key & 7
        if wt == 0:
            yield fn, wt, varint()
        elif wt == 2:
            ln = varint()
            yield fn, wt, buf[i:i + ln]
            i += ln
        elif wt == 1:
            yield fn, wt, buf[i:i + 8]
            i += 8
        elif wt == 5:
            yield fn, wt, buf[i:i + 4]
            i += 4
        else:
            raise ValueError("unsupported wire type %d" % wt)


def _pb_map(b, bytes_values=False):
    k = v = ""
    for fn, _, val in _pb_fields(b):
        if fn == 1:
            k = val.decode()
        elif fn == 2:
            v = base64.b64encode(val).decode() if bytes_values else val.decode()
    return k, v


def _pb_meta(b):
    md = {}
    names = {1: "name", 2: "generateName", 3: "namespace"}
    for fn, _, v in _pb_fields(b):
        if fn in names:
            if v:
                md[names[fn]] = v.decode()
        elif fn in (11, 12):
            k, val = _pb_map(v)
            md.setdefault("labels" if fn == 11 else "annotations", {})[k] = val
        elif fn == 14:
            md.setdefault("finalizers", []).append(v.decode())
    return md


def decode_k8s_protobuf(body):
    """The kubectl-create subset of application/vnd.kubernetes.protobuf: the k8s\\0 envelope
    (runtime.Unknown) around a Namespace, ConfigMap or Secret. Other kinds → None."""
    if not body.startswith(b"k8s\x00"):
        return None
    av = kind = ""
    raw = b""
    for fn, _, v in _pb_fields(body[4:]):
        if fn == 1:
            for f2, _, v2 in _pb_fields(v):
                if f2 == 1:
                    av = v2.decode()
                elif f2 == 2:
                    kind = v2.decode()
        elif fn == 2:
            raw = v
    obj = {"apiVersion": av, "kind": kind, "metadata": {}}
    if kind not in ("Namespace", "ConfigMap", "Secret"):
        return None
    for fn, wt, v in _pb_fields(raw):
        if fn == 1:
            obj["metadata"] = _pb_meta(v)
        elif kind == "Namespace" and fn == 2:
            for f2, _, v2 in _pb_fields(v):
                if f2 == 1:
                    obj.setdefault("spec", {}).setdefault("finalizers", []).append(v2.decode())
        elif kind == "ConfigMap" and fn in (2, 3):
            k, val = _pb_map(v, fn == 3)
            obj.setdefault("data" if fn == 2 else "binaryData", {})[k] = val
        elif kind == "Secret" and fn in (2, 4):
            k, val = _pb_map(v, fn == 2)
            obj.setdefault("data" if fn == 2 else "stringData", {})[k] = val
        elif kind == "Secret" and fn == 3:
            obj["type"] = v.decode()
        elif fn in (4, 5) and wt == 0 and kind in ("ConfigMap", "Secret"):
            obj["immutable"] = bool(v)
    return obj


def parse_yaml_or_json(text):
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        import yaml  # Debian python3-yaml; only needed for YAML (not JSON) apply bodies
    except ImportError:
        raise err_bad_request("error decoding YAML: YAML apply bodies need python3-yaml on the test host")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise err_bad_request("error decoding YAML: %s" % str(e).replace("\n", " "))


def _truthy(q, k):
    return q.get(k, [""])[0] in ("1", "true", "True")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "k8s-test-apiserver"
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.server.opts.verbose:
            sys.stderr.write("k8s_server: %s %s\n" % (self.address_string(), fmt % args))

    # ---- plumbing
    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            out = b""
            while True:
                line = self.rfile.readline()
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(n)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def record_sent(self, code):
        """Logs the request being answered before its answer leaves: a
        client that has its answer and then reads /_test/requests (or
        resets them) always finds the request there (or cleared)."""
        entry, self.pending_entry = getattr(self, "pending_entry", None), None
        if entry is not None:
            entry["status"] = code
            entry["ms"] = int((time.time() - self.t0) * 1000)
            self.server.stats.record(entry)

    def send_bytes(self, code, body, ctype="application/json", headers=None):
        self.record_sent(code)
        self.send_response(code)
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.status_sent = code

    def send_json(self, code, obj, headers=None):
        pretty = self.pretty
        body = (json.dumps(obj, indent=2, ensure_ascii=False) if pretty else dumps(obj)) + "\n"
        self.send_bytes(code, body.encode(), "application/json", headers)

    def send_error_obj(self, e):
        self.send_json(e.code, e.body(), e.headers)

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def dispatch(self):
        self.status_sent = 0
        self.pending_entry = None
        self.t0 = t0 = time.time()
        u = urllib.parse.urlsplit(self.path)
        path, self.q = u.path, urllib.parse.parse_qs(u.query, keep_blank_values=True)
        ua = self.headers.get("User-Agent") or ""
        self.pretty = _truthy(self.q, "pretty") or ua.startswith("curl/") or ua.startswith("Wget")
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        srv = self.server
        srv.stats.first_request(self, path.startswith("/_test/"), ua)
        if path.startswith("/_test/"):
            try:
                self.admin(path, body)
            except Exception as e:  # admin errors are plain
                self.send_bytes(500, ("%s\n" % e).encode(), "text/plain")
            return
        verb = None
        try:
            verb = self.k8s_verb(path)
        except Exception:
            pass
        srv.stats.add(self.command, path, verb)
        kind, arg, slow = srv.faults.pick(self.command, path)
        if slow:
            time.sleep(slow / 1000.0)
        entry = {"t": round(t0, 3), "method": self.command, "path": path, "query": u.query,
                 "content_type": self.headers.get("Content-Type"), "user_agent": ua,
                 "accept": self.headers.get("Accept"), "conn": getattr(srv.conn_local, "id", None)}
        self.pending_entry = entry
        try:
            if kind == "hang":
                time.sleep(float(arg))
                kind = "drop"
            if kind == "drop":
                self.record_sent("dropped")
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if kind == "429":
                raise ApiError(429, "TooManyRequests", "Too many requests, please try again later.",
                               {"retryAfterSeconds": int(arg)}, {"Retry-After": int(arg)})
            if kind in ("500", "502", "503", "504"):
                code = int(kind)
                reason = {500: "InternalError", 502: "BadGateway", 503: "ServiceUnavailable",
                          504: "Timeout"}[code]
                msg = {500: "Internal error occurred: injected fault",
                       502: "bad gateway", 503: "service unavailable",
                       504: "the server was unable to return a response in the time allotted"}[code]
                raise ApiError(code, reason if code != 502 else "", msg,
                               {"retryAfterSeconds": int(arg)} if code in (503, 504) else None,
                               {"Retry-After": int(arg)} if code in (503, 504) else None)
            user = self.authenticate()
            if kind == "403":
                raise ApiError(403, "Forbidden", '%s: User "%s" cannot %s here (injected fault)'
                               % (path, user, (verb or self.command).lower()), {})
            self.route(path, body, user)
        except ApiError as e:
            self.send_error_obj(e)
        except PlainNotFound:
            self.send_bytes(404, b"404 page not found\n", "text/plain; charset=utf-8")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        except Exception as e:
            import traceback
            traceback.print_exc()
            try:
                self.send_error_obj(ApiError(500, "InternalError", "Internal error occurred: %s" % e))
            except OSError:
                self.close_connection = True
        # not answered through send_bytes (a watch stream, a reset
        # connection): logged once it is over
        self.record_sent(self.status_sent)

    def k8s_verb(self, path):
        m = self.command
        if m == "GET":
            if _truthy(self.q, "watch"):
                return "watch"
            segs = path.strip("/").split("/")
            if segs[0] in ("api", "apis"):
                base = 2 if segs[0] == "api" else 3
                rest = segs[base:]
                if rest and rest[0] == "namespaces" and len(rest) >= 3:
                    rest = rest[2:]
                return "get" if len(rest) >= 2 else "list"
            return "get"
        if m == "PATCH":
            ct = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            return "apply" if PATCH_TYPES.get(ct) == "apply" else "patch"
        return {"POST": "create", "PUT": "update", "DELETE": "delete"}.get(m, m.lower())

    # ---- auth
    def authenticate(self):
        srv = self.server
        auth = self.headers.get("Authorization") or ""
        tokens = srv.valid_tokens()
        if auth.startswith("Bearer "):
            tok = auth[7:].strip()
            if tok in tokens:
                return tokens[tok]
            raise ApiError(401, "Unauthorized", "Unauthorized")
        if auth:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        if isinstance(self.connection, ssl.SSLSocket):
            cert = self.connection.getpeercert()
            if cert:
                for rdn in cert.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            return v
        if srv.opts.anonymous:
            return "system:anonymous"
        raise ApiError(401, "Unauthorized", "Unauthorized")

    # ---- admin
    def admin(self, path, body):
        srv = self.server
        if path == "/_test/faults":
            if self.command == "POST":
                d = json.loads(body or b"{}")
                return self.send_json(200, srv.faults.set(d))
            return self.send_json(200, srv.faults.get())
        if path == "/_test/requests":
            return self.send_json(200, srv.stats.dump(_truthy(self.q, "log")))
        if path == "/_test/reset":
            d = json.loads(body or b"{}") if body else {}
            srv.stats.reset()
            srv.faults.reset()
            if d.get("state"):
                with srv.cluster.lock:
                    for rk in list(srv.cluster.data):
                        r = srv.cluster.res_of(rk)
                        for nsb in list(srv.cluster.data[rk].values()):
                            for o in list(nsb.values()):
                                if r.kind == "Namespace" and o["metadata"]["name"] in (
                                        "default", "kube-system", "kube-public", "kube-node-lease"):
                                    continue
                                if r.kind == "CustomResourceDefinition" and \
                                        o["metadata"]["name"] == "widgets.example.com":
                                    continue
                                srv.cluster.remove_raw(r, o)
            return self.send_json(200, {"reset": True})
        if path == "/_test/terminate-delay":
            # The test controls how long a deleted namespace stays
            # Terminating: {"seconds": N} for later deletions, and already
            # terminating namespaces finish no later than N from now.
            d = json.loads(body or b"{}")
            secs = float(d.get("seconds", srv.opts.terminate_delay))
            with srv.cluster.lock:
                srv.opts.terminate_delay = secs
                cap = time.time() + secs
                for ns, due in list(srv.cluster.terminating.items()):
                    srv.cluster.terminating[ns] = min(due, cap) if secs < 1e6 else due
            return self.send_json(200, {"terminate_delay": secs})
        if path == "/_test/end-watches":
            # Ends every open watch stream now, cleanly (the terminating chunk),
            # as a real API server does when it restarts, when its watch cache
            # is re-initialised or when a load balancer in front of it cuts an
            # idle stream: a client must resume (with a credential that is
            # still valid).
            with srv.cluster.lock:
                srv.watch_epoch += 1
                srv.cluster.cond.notify_all()
            return self.send_json(200, {"watch_epoch": srv.watch_epoch})
        if path == "/_test/compact":
            with srv.cluster.lock:
                srv.cluster.compacted_rv = srv.cluster.rv
                srv.cluster.hist = []
            return self.send_json(200, {"compacted": srv.cluster.rv})
        if path == "/_test/clock":
            return self.send_json(200, srv.clock.get(self.q.get("namespace", [""])[0]))
        if path == "/_test/objects":
            snap = srv.cluster.snapshot()
            return self.send_json(200, {rk: {ns: list(b.values()) for ns, b in m.items()}
                                        for rk, m in snap.items()})
        raise_404 = self.send_bytes
        raise_404(404, b"404 page not found\n", "text/plain; charset=utf-8")

    # ---- routing
    def route(self, path, body, user):
        srv = self.server
        c = srv.cluster
        segs = [urllib.parse.unquote(s) for s in path.strip("/").split("/")] if path.strip("/") else []
        if self.command not in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
            raise ApiError(405, "MethodNotAllowed",
                           "the server does not allow this method on the requested resource", {})
        if not segs:
            return self.send_json(200, {"paths": sorted(srv.root_paths())})
        if path in ("/healthz", "/livez", "/readyz"):
            return self.send_bytes(200, b"ok", "text/plain; charset=utf-8")
        if path == "/version":
            return self.send_json(200, srv.version_doc())
        if segs[0] == "openapi":
            return self.openapi(segs)
        if segs[0] == "api":
            if len(segs) == 1:
                if self.command != "GET":
                    raise ApiError(405, "MethodNotAllowed",
                                   "the server does not allow this method on the requested resource", {})
                return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                            "serverAddressByClientCIDRs": [{
                                                "clientCIDR": "0.0.0.0/0",
                                                "serverAddress": "127.0.0.1:%d" % srv.port}]})
            group, version, rest = "", segs[1], segs[2:]
        elif segs[0] == "apis":
            if len(segs) == 1:
                return self.send_json(200, srv.group_list())
            if len(segs) == 2:
                g = srv.group_doc(segs[1])
                if g is None:
                    raise PlainNotFound()
                return self.send_json(200, g)
            group, version, rest = segs[1], segs[2], segs[3:]
        else:
            raise PlainNotFound()
        if not c.reg.gv_known(group, version):
            raise PlainNotFound()
        if not rest:
            return self.send_json(200, srv.resource_list(group, version))
        ns = None
        if rest[0] == "namespaces" and len(rest) >= 3 and group == "" or \
                rest[0] == "namespaces" and len(rest) >= 3 and group != "":
            r = c.reg.get(group, version, rest[2])
            if r is not None and r.namespaced:
                ns, rest = rest[1], rest[2:]
            elif group != "":
                raise PlainNotFound()
        res = c.reg.get(group, version, rest[0])
        if res is None:
            raise PlainNotFound()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if len(rest) > 3:
            raise PlainNotFound()
        if res.namespaced and ns is None and name is not None:
            raise PlainNotFound()
        if sub is not None and sub not in [s for s, _ in res.subs]:
            raise PlainNotFound()
        self.res, self.ns, self.user = res, ns, user
        m = self.command
        if name is None:
            if m in ("GET", "HEAD"):
                if _truthy(self.q, "watch"):
                    return self.watch(res, ns, None)
                return self.list(res, ns)
            if m == "POST":
                if res.namespaced and ns is None:
                    raise ApiError(405, "MethodNotAllowed",
                                   "the server does not allow this method on the requested resource", {})
                return self.create(res, ns or "", body)
            if m == "DELETE":
                return self.delete_collection(res, ns)
            raise ApiError(405, "MethodNotAllowed",
                           "the server does not allow this method on the requested resource", {})
        if sub == "log":
            if m != "GET":
                raise ApiError(405, "MethodNotAllowed",
                               "the server does not allow this method on the requested resource", {})
            return self.pod_log(res, ns, name)
        if sub == "scale":
            return self.scale(res, ns or "", name, body)
        if sub == "finalize":
            if m != "PUT":
                raise ApiError(405, "MethodNotAllowed",
                               "the server does not allow this method on the requested resource", {})
            return self.update(res, ns or "", name, body, None)
        if m in ("GET", "HEAD"):
            if _truthy(self.q, "watch"):
                return self.watch(res, ns, name)
            obj = c.get(res, ns or "", name)
            if self.wants_table():
                return self.send_json(200, self.table(res, [obj], {
                    "resourceVersion": obj["metadata"].get("resourceVersion", "")}))
            return self.send_json(200, obj)
        if m == "PUT":
            return self.update(res, ns or "", name, body, sub)
        if m == "PATCH":
            return self.patch(res, ns or "", name, body, sub)
        if m == "DELETE":
            if sub:
                raise ApiError(405, "MethodNotAllowed",
                               "the server does not allow this method on the requested resource", {})
            return self.delete(res, ns or "", name, body)
        raise ApiError(405, "MethodNotAllowed",
                       "the server does not allow this method on the requested resource", {})

    def openapi(self, segs):
        srv = self.server
        if srv.openapi is None:
            raise PlainNotFound()
        if segs == ["openapi", "v2"]:
            acc = self.headers.get("Accept") or "*/*"
            if "json" not in acc and "*/*" not in acc:
                raise ApiError(406, "NotAcceptable",
                               "only the following media types are accepted: application/json", {})
            data = srv.openapi.v2()
            etag = '"%s"' % hashlib.sha256(data).hexdigest()[:32].upper()
            if self.headers.get("If-None-Match") == etag:
                self.record_sent(304)
                self.send_response(304)
                self.send_header("Etag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            return self.send_bytes(200, data, "application/json", {"Etag": etag})
        if segs == ["openapi", "v3"]:
            return self.send_json(200, srv.openapi.v3_index())
        if len(segs) >= 4 and segs[:2] == ["openapi", "v3"]:
            body = srv.openapi.v3("/".join(segs[2:]))
            if body is None:
                raise PlainNotFound()
            return self.send_bytes(200, body, "application/json",
                                   {"Etag": '"%s"' % hashlib.sha256(body).hexdigest()[:32].upper(),
                                    "Cache-Control": "public, immutable"})
        raise PlainNotFound()

    def manager(self, default_op):
        fm = self.q.get("fieldManager", [""])[0]
        if fm:
            return fm
        ua = self.headers.get("User-Agent") or "unknown"
        return ua.split("/")[0] or "unknown"

    def dry_run(self):
        dr = self.q.get("dryRun", [])
        if dr and dr[0] not in ("All",):
            raise err_bad_request('dryRun: Unsupported value: "%s": supported values: "All"' % dr[0])
        return bool(dr)

    def parse_obj(self, body):
        ct0 = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ct0 == "application/vnd.kubernetes.protobuf":
            try:
                obj = decode_k8s_protobuf(body)
            except (ValueError, IndexError, UnicodeDecodeError):
                obj = None
            if obj is None:
                raise ApiError(415, "UnsupportedMediaType",
                               "the body of the request was in an unknown format - accepted media "
                               "types include: application/json, application/yaml (this test server "
                               "decodes protobuf only for Namespace, ConfigMap and Secret)", {})
            return obj
        try:
            obj = json.loads(body or b"null")
        except ValueError as e:
            ct = (self.headers.get("Content-Type") or "").split(";")[0]
            if ct and "json" not in ct and "yaml" not in ct:
                raise ApiError(415, "UnsupportedMediaType",
                               'the body of the request was in an unknown format - accepted media '
                               'types include: application/json, application/yaml, '
                               'application/vnd.kubernetes.protobuf, application/cbor', {})
            obj = parse_yaml_or_json(body.decode("utf-8", "replace")) if "yaml" in ct else None
            if obj is None:
                raise err_bad_request("couldn't get version/kind; json parse error: %s" % e)
        if not isinstance(obj, dict):
            raise err_bad_request("Object 'Kind' is missing in '%s'" % (body.decode("utf-8", "replace")[:200]))
        return obj

    def check_gvk(self, res, obj):
        av, k = obj.get("apiVersion"), obj.get("kind")
        if av and av != res.gv:
            raise err_bad_request("the API version in the data (%s) does not match the expected API "
                                  "version (%s)" % (av, res.gv))
        if k and k != res.kind:
            raise err_bad_request("the kind in the data (%s) does not match the expected kind (%s)"
                                  % (k, res.kind))

    def strict_fields(self, res, obj):
        fv = self.q.get("fieldValidation", [""])[0]
        if fv not in ("", "Ignore", "Warn", "Strict"):
            raise err_bad_request('fieldValidation: Unsupported value: "%s": supported values: '
                                  '"Ignore", "Strict", "Warn"' % fv)
        unknown = self.server.unknown_fields(res, obj)
        if not unknown:
            return {}
        if fv == "Strict":
            if self.command == "PATCH" and PATCH_TYPES.get(
                    (self.headers.get("Content-Type") or "").split(";")[0].strip()) == "apply":
                raise err_bad_request(".%s: field not declared in schema" % unknown[0])
            raise err_bad_request("strict decoding error: %s" % ", ".join(
                'unknown field "%s"' % u for u in unknown))
        if fv == "Ignore":
            return {}
        return {"Warning": ", ".join('299 - "unknown field \\"%s\\""' % u for u in unknown)}

    def create(self, res, ns, body):
        obj = self.parse_obj(body)
        self.check_gvk(res, obj)
        md = obj.setdefault("metadata", {})
        if res.namespaced and md.get("namespace") and md["namespace"] != ns:
            raise err_bad_request("the namespace of the provided object does not match the namespace "
                                  "sent on the request")
        hdrs = self.strict_fields(res, obj)
        out = self.server.cluster.create(res, ns, obj, self.manager("create"), self.dry_run())
        self.send_json(201, out, hdrs)

    def update(self, res, ns, name, body, sub):
        obj = self.parse_obj(body)
        self.check_gvk(res, obj)
        hdrs = self.strict_fields(res, obj)
        out = self.server.cluster.update(res, ns, name, obj, self.manager("update"), sub, self.dry_run())
        self.send_json(200, out, hdrs)

    def patch(self, res, ns, name, body, sub):
        ct = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        ptype = PATCH_TYPES.get(ct)
        if ptype is None or (ptype == "strategic" and res.crd):
            acc = ["application/json-patch+json", "application/merge-patch+json"]
            if not res.crd:
                acc.append("application/strategic-merge-patch+json")
            acc.append("application/apply-patch+yaml")
            raise ApiError(415, "UnsupportedMediaType",
                           "the body of the request was in an unknown format - accepted media types "
                           "include: " + ", ".join(acc), {})
        force = self.q.get("force", [None])[0]
        fm = self.q.get("fieldManager", [""])[0]
        c = self.server.cluster
        if ptype == "apply":
            if not fm:
                raise ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: '
                               'Required value: is required for apply patch',
                               {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [{
                                   "reason": "FieldValueRequired",
                                   "message": "Required value: is required for apply patch",
                                   "field": "fieldManager"}]})
            cfg = parse_yaml_or_json(body.decode("utf-8", "replace"))
            if isinstance(cfg, dict):
                hdrs = self.strict_fields(res, cfg)
            else:
                hdrs = {}
            if sub == "status":
                old = c.get(res, ns, name)
                obj = copy.deepcopy(old)
                obj["status"] = (cfg or {}).get("status")
                out = c.set_status(res, old, obj["status"], fm)
                return self.send_json(200, out, hdrs)
            if sub:
                raise ApiError(405, "MethodNotAllowed",
                               "the server does not allow this method on the requested resource", {})
            out, created = c.apply(res, ns, name, cfg, fm, force in ("true", "1"), self.dry_run())
            return self.send_json(201 if created else 200, out, hdrs)
        if force is not None:
            raise ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: '
                           'may not be specified for non-apply patch',
                           {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [{
                               "reason": "FieldValueForbidden",
                               "message": "Forbidden: may not be specified for non-apply patch",
                               "field": "force"}]})
        try:
            p = json.loads(body or b"null")
        except ValueError as e:
            raise err_bad_request("error decoding patch: %s" % e)
        out = c.patch(res, ns, name, ptype, p, self.manager("patch"), sub, self.dry_run())
        self.send_json(200, out)

    def delete_options(self, body):
        opts = {}
        if body:
            try:
                opts = json.loads(body) or {}
            except ValueError as e:
                raise err_bad_request("error decoding DeleteOptions: %s" % e)
        prop = self.q.get("propagationPolicy", [opts.get("propagationPolicy")])[0]
        if prop not in (None, "Orphan", "Background", "Foreground"):
            raise ApiError(422, "Invalid", 'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: '
                           'Unsupported value: "%s": supported values: "Foreground", "Background", '
                           '"Orphan", "nil"' % prop, {"group": "meta.k8s.io", "kind": "DeleteOptions"})
        return prop, opts.get("preconditions") or {}

    def delete(self, res, ns, name, body):
        prop, pre = self.delete_options(body)
        c = self.server.cluster
        obj, gone = c.delete(res, ns, name, prop, pre, self.dry_run())
        if not gone or res.kind == "Pod":
            if res.kind == "Pod" and gone:
                obj = copy.deepcopy(obj)
                obj["metadata"]["deletionTimestamp"] = now_ts()
                obj["metadata"]["deletionGracePeriodSeconds"] = 0
            return self.send_json(200, obj)
        det = {"name": name}
        if res.group:
            det["group"] = res.group
        det["kind"] = res.plural
        det["uid"] = obj["metadata"]["uid"]
        self.send_json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                             "details": det})

    def delete_collection(self, res, ns):
        if "deletecollection" not in res.verbs:
            raise ApiError(405, "MethodNotAllowed",
                           "the server does not allow this method on the requested resource", {})
        c = self.server.cluster
        lsel = parse_label_selector(self.q.get("labelSelector", [""])[0])
        fsel = parse_field_selector(self.q.get("fieldSelector", [""])[0], res)
        out = []
        for o in c.items(res, ns):
            if label_match(lsel, o["metadata"].get("labels")) and field_match(fsel, o):
                try:
                    g, _ = c.delete(res, o["metadata"].get("namespace", ""), o["metadata"]["name"])
                    out.append(self.list_item(res, g or o))
                except ApiError:
                    pass
        with c.lock:
            rv = c.rv
        self.send_json(200, {"kind": res.kind + "List", "apiVersion": res.gv,
                             "metadata": {"resourceVersion": str(rv)}, "items": out})

    def list_item(self, res, o):
        if res.crd:
            return o
        return {k: v for k, v in o.items() if k not in ("kind", "apiVersion")}

    def list(self, res, ns):
        c = self.server.cluster
        if ns is not None:
            with c.lock:
                c.check_ns(res, ns, "", creating=False) if False else None
        lsel = parse_label_selector(self.q.get("labelSelector", [""])[0])
        fsel = parse_field_selector(self.q.get("fieldSelector", [""])[0], res)
        limit = int(self.q.get("limit", ["0"])[0] or 0)
        cont = self.q.get("continue", [""])[0]
        start = ""
        with c.lock:
            rv = c.rv
            allitems = c.items(res, ns)
        if cont:
            try:
                pad = "=" * (-len(cont) % 4)
                tok = json.loads(base64.urlsafe_b64decode(cont + pad))
                start = tok["start"]
                if tok.get("v") != "meta.k8s.io/v1":
                    raise ValueError("bad version")
                rv = int(tok.get("rv", rv))
            except (ValueError, KeyError, TypeError):
                raise err_bad_request("continue key is not valid: incorrect encoded start resourceVersion "
                                      "(version meta.k8s.io/v1)")
            if rv <= c.compacted_rv:
                raise ApiError(410, "Expired", "The provided continue parameter is too old to display a "
                               "consistent list result. You can start a new list without the continue "
                               "parameter.", {})

        def key(o):
            md = o["metadata"]
            return (md.get("namespace", "") + "/" + md["name"]) if ns is None and res.namespaced else md["name"]
        items = [o for o in allitems if (not start or key(o) + "\0" > start)
                 and label_match(lsel, o["metadata"].get("labels")) and field_match(fsel, o)]
        md = {"resourceVersion": str(rv)}
        if limit and len(items) > limit:
            page = items[:limit]
            last = key(page[-1]) + "\0"
            md["continue"] = base64.urlsafe_b64encode(dumps(
                {"v": "meta.k8s.io/v1", "rv": rv, "start": last}).encode()).decode().rstrip("=")
            if not lsel and not fsel:
                md["remainingItemCount"] = len(items) - limit
            items = page
        out = {"kind": res.kind + "List", "apiVersion": res.gv, "metadata": md,
               "items": [self.list_item(res, o) for o in items]}
        if self.wants_table():
            return self.send_json(200, self.table(res, items, md))
        self.send_json(200, out)

    def wants_table(self):
        return "as=Table" in (self.headers.get("Accept") or "") and self.server.opts.tables

    def table(self, res, items, md):
        cols = [{"name": "Name", "type": "string", "format": "name",
                 "description": "Name must be unique within a namespace.", "priority": 0}]
        extra = TABLE_COLUMNS.get(res.key, [])
        for n, _ in extra:
            cols.append({"name": n, "type": "string", "format": "", "description": n, "priority": 0})
        cols.append({"name": "Age", "type": "string", "format": "",
                     "description": "CreationTimestamp is a timestamp representing the server time when "
                     "this object was created.", "priority": 0})
        rows = []
        for o in items:
            m = dict(o["metadata"])
            m.pop("managedFields", None)
            cells = [m["name"]] + [fn(o) for _, fn in extra] + [age_of(m.get("creationTimestamp"))]
            rows.append({"cells": cells,
                         "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                    "metadata": m}})
        return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                "metadata": {k: v for k, v in md.items() if k in ("resourceVersion", "continue",
                                                                   "remainingItemCount")},
                "columnDefinitions": cols, "rows": rows}

    def watch(self, res, ns, name):
        srv = self.server
        c = srv.cluster
        lsel = parse_label_selector(self.q.get("labelSelector", [""])[0])
        fsel = parse_field_selector(self.q.get("fieldSelector", [""])[0], res)
        if name:
            fsel = fsel + [("metadata.name", "=", name)]
        rvq = self.q.get("resourceVersion", [""])[0]
        timeout = float(self.q.get("timeoutSeconds", [str(srv.opts.watch_timeout)])[0] or 0) or \
            srv.opts.watch_timeout
        bookmarks = _truthy(self.q, "allowWatchBookmarks")
        initial_events = _truthy(self.q, "sendInitialEvents")
        deadline = time.time() + timeout
        epoch = srv.watch_epoch

        def matches(o):
            if o is None:
                return False
            md = o["metadata"]
            if ns is not None and md.get("namespace", "") != ns:
                return False
            return label_match(lsel, md.get("labels")) and field_match(fsel, o)

        self.send_response(200)
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.status_sent = 200

        def send(etype, obj):
            data = (dumps({"type": etype, "object": obj}) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        pending = []
        with c.lock:
            if rvq in ("", "0") or initial_events:
                last = c.rv
                for o in c.items(res, ns):
                    if matches(o):
                        pending.append(("ADDED", o))
                if initial_events and bookmarks:
                    pending.append(("BOOKMARK", {"kind": res.kind, "apiVersion": res.gv, "metadata": {
                        "resourceVersion": str(last), "creationTimestamp": None,
                        "annotations": {"k8s.io/initial-events-end": "true"}}}))
            else:
                try:
                    last = int(rvq)
                except ValueError:
                    last = -1
                if last < 0:
                    pending.append(("ERROR", ApiError(400, "BadRequest", "invalid resource version: %s"
                                                      % rvq).body()))
                    last = None
                elif last < c.compacted_rv:
                    pending.append(("ERROR", ApiError(410, "Expired", "too old resource version: %d (%d)"
                                                      % (last, c.compacted_rv + 1)).body()))
                    last = None
        try:
            for et, o in pending:
                send(et, o)
            if last is None:
                self.wfile.write(b"0\r\n\r\n")
                return
            next_bm = time.time() + srv.opts.bookmark_interval
            while not srv.stopping:
                now = time.time()
                if now >= deadline or srv.watch_epoch != epoch:
                    break
                evs = []
                with c.lock:
                    h = c.hist
                    if last < c.compacted_rv:
                        evs.append(("ERROR", ApiError(410, "Expired", "too old resource version: %d (%d)"
                                                      % (last, c.compacted_rv + 1)).body()))
                        last = None
                    else:
                        if not h or h[-1][0] <= last:
                            c.cond.wait(min(deadline - now, max(0.05, next_bm - now)))
                            h = c.hist
                        if h and h[-1][0] > last:
                            i = max(0, last + 1 - h[0][0])
                            for (erv, rk, ens, et, o, prev) in h[i:]:
                                if erv <= last or rk != res.key:
                                    continue
                                now_m, was_m = matches(o), et == "MODIFIED" and matches(prev)
                                if et == "MODIFIED":
                                    if now_m and was_m:
                                        evs.append(("MODIFIED", o))
                                    elif now_m:
                                        evs.append(("ADDED", o))
                                    elif was_m:
                                        evs.append(("DELETED", o))
                                elif now_m:
                                    evs.append((et, o))
                            last = h[-1][0]
                if evs and res.kind == "Pod" and srv.opts.pod_watch_lag > 0:
                    time.sleep(srv.opts.pod_watch_lag)
                for et, o in evs:
                    send(et, o)
                if last is None:
                    break
                if bookmarks and time.time() >= next_bm:
                    next_bm = time.time() + srv.opts.bookmark_interval
                    send("BOOKMARK", {"kind": res.kind, "apiVersion": res.gv,
                                      "metadata": {"resourceVersion": str(last), "creationTimestamp": None}})
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True

    def pod_log(self, res, ns, name):
        c = self.server.cluster
        pod = c.get(res, ns, name)
        cs = [x.get("name") for x in (pod.get("spec") or {}).get("containers") or []]
        cname = self.q.get("container", [""])[0]
        if not cname:
            if len(cs) != 1:
                raise err_bad_request("a container name must be specified for pod %s, choose one of: [%s]"
                                      % (name, " ".join(cs)))
            cname = cs[0]
        if cname not in cs:
            raise err_bad_request("container %s is not valid for pod %s" % (cname, name))
        st = [x for x in (pod.get("status") or {}).get("containerStatuses") or [] if x.get("name") == cname]
        image = [x.get("image") for x in pod["spec"]["containers"] if x.get("name") == cname][0] or ""
        waiting = (st[0].get("state") or {}).get("waiting") if st else {"reason": "ContainerCreating"}
        if waiting and waiting.get("reason") != "CrashLoopBackOff":
            r = waiting.get("reason")
            why = {"ErrImagePull": "trying and failing to pull image",
                   "ImagePullBackOff": "trying and failing to pull image",
                   "ContainerCreating": "ContainerCreating"}.get(r, r)
            raise err_bad_request('container "%s" in pod "%s" is waiting to start: %s' % (cname, name, why))
        if "crashloop" in image:
            lines = crash_log(name, cname, image, st[0].get("restartCount", 1) if st else 1)
        elif "fail" in image:
            lines = ["job %s starting" % name, "error: task failed: exit code 1"]
        else:
            lines = ["%s: starting %s" % (cname, image), "%s: listening on :80" % cname,
                     '%s: 10.244.0.1 - - "GET / HTTP/1.1" 200 615' % cname]
        tail = self.q.get("tailLines", [""])[0]
        if tail:
            lines = lines[-int(tail):] if int(tail) > 0 else []
        text = "".join(x + "\n" for x in lines)
        self.send_bytes(200, text.encode(), "text/plain")

    def scale(self, res, ns, name, body):
        c = self.server.cluster
        obj = c.get(res, ns, name)
        if self.command in ("PUT", "PATCH"):
            if self.command == "PUT":
                sc = self.parse_obj(body)
            else:
                p = json.loads(body or b"{}")
                sc = merge_patch({"spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)}}, p)
            n = (sc.get("spec") or {}).get("replicas")
            c.patch(res, ns, name, "merge", {"spec": {"replicas": n}}, self.manager("update"))
            obj = c.get(res, ns, name)
        sel = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        self.send_json(200, {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {
            k: obj["metadata"][k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in obj["metadata"]},
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                       "selector": ",".join("%s=%s" % kv for kv in sorted(sel.items()))}})


def _st(o):
    return o.get("status") or {}


def _pod_ready(o):
    cs = _st(o).get("containerStatuses") or []
    n = len((o.get("spec") or {}).get("containers") or [])
    return "%d/%d" % (sum(1 for c in cs if c.get("ready")), n)


def _pod_status(o):
    for c in _st(o).get("containerStatuses") or []:
        w = (c.get("state") or {}).get("waiting")
        if w and w.get("reason"):
            return w["reason"]
        t = (c.get("state") or {}).get("terminated")
        if t and t.get("reason"):
            return t["reason"]
    return _st(o).get("phase", "Pending")


def _svc_ports(o):
    return ",".join("%s%s/%s" % (p.get("port"), (":%s" % p["nodePort"]) if p.get("nodePort") else "",
                                 p.get("protocol", "TCP"))
                    for p in (o.get("spec") or {}).get("ports") or []) or "<none>"


TABLE_COLUMNS = {
    "apps/deployments": [
        ("Ready", lambda o: "%d/%d" % (_st(o).get("readyReplicas", 0), (o.get("spec") or {}).get("replicas", 1))),
        ("Up-to-date", lambda o: _st(o).get("updatedReplicas", 0)),
        ("Available", lambda o: _st(o).get("availableReplicas", 0))],
    "/pods": [("Ready", _pod_ready), ("Status", _pod_status),
              ("Restarts", lambda o: sum(c.get("restartCount", 0) for c in _st(o).get("containerStatuses") or []))],
    "/namespaces": [("Status", lambda o: _st(o).get("phase", ""))],
    "/services": [("Type", lambda o: (o.get("spec") or {}).get("type", "")),
                  ("Cluster-IP", lambda o: (o.get("spec") or {}).get("clusterIP", "<none>")),
                  ("External-IP", lambda o: "<none>"), ("Port(s)", _svc_ports)],
    "/configmaps": [("Data", lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}))],
    "batch/jobs": [("Status", lambda o: next((c["type"] for c in _st(o).get("conditions") or []
                                              if c.get("type") in ("Complete", "Failed")), "Running")),
                   ("Completions", lambda o: "%d/%d" % (_st(o).get("succeeded", 0),
                                                        (o.get("spec") or {}).get("completions", 1)))],
}


def age_of(ts):
    if not ts:
        return "<unknown>"
    try:
        t = time.mktime(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    except ValueError:
        return "<unknown>"
    s = max(0, int(time.time() - t))
    if s < 120:
        return "%ds" % s
    if s < 7200:
        return "%dm" % (s // 60)
    return "%dh" % (s // 3600)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, opts, ssl_ctx=None):
        self.opts = opts
        self.ssl_ctx = ssl_ctx
        self.stopping = False
        self.cluster = Cluster(opts)
        self.clock = Clock(self.cluster)
        self.faults = Faults()
        self.stats = Stats()
        self.watch_epoch = 0                 # /_test/end-watches bumps it: open watches end
        self.conn_ids = {}                   # accepted socket -> connection number
        self.conn_local = threading.local()  # .id: the connection this thread serves
        sw = opts.openapi or next((p for p in SWAGGER_CANDIDATES if os.path.exists(p)), None)
        self.openapi = OpenAPI(sw) if sw and os.path.exists(sw) else None
        if self.openapi:
            OpenAPI.version = "v" + opts.k8s_version
        self._gvk_defs = None
        super().__init__(addr, Handler)
        self.port = self.server_address[1]

    def process_request(self, request, client_address):
        self.stats.conn_accepted()  # counted at accept(), before the TLS handshake
        self.conn_ids[request] = self.stats.serial
        super().process_request(request, client_address)

    def finish_request(self, request, client_address):
        # this thread serves this one connection: its number goes into the request log
        self.conn_local.id = self.conn_ids.pop(request, None)
        try:
            self._finish_request(request, client_address)
        finally:
            self.stats.conn_closed()

    def _finish_request(self, request, client_address):
        if self.ssl_ctx is not None:
            request.settimeout(30)
            try:
                request = self.ssl_ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                self.stats.tls_handshake(False)
                try:
                    request.close()
                except OSError:
                    pass
                return
            self.stats.tls_handshake(True, request.session_reused)
            request.settimeout(None)
        try:
            self.RequestHandlerClass(request, client_address, self)
        finally:
            if self.ssl_ctx is not None:
                try:
                    request.close()
                except OSError:
                    pass

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionResetError, BrokenPipeError, ssl.SSLError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def valid_tokens(self):
        toks = {}
        for t in self.opts.token or []:
            toks[t] = "prenv-test"
        if self.opts.token_file:
            try:
                with open(self.opts.token_file) as f:
                    for line in f:
                        line = line.strip()
                        if not line or line.startswith("#"):
                            continue
                        parts = line.split(",")
                        # an optional third column: when the token expires (unix
                        # seconds), as short-lived tokens (EKS, OIDC) are refused
                        # by a real API server's authenticator once they expire
                        if len(parts) > 2 and parts[2].strip() and time.time() >= float(parts[2]):
                            continue
                        toks[parts[0].strip()] = parts[1].strip() if len(parts) > 1 else "prenv-test"
            except OSError:
                pass
        return toks

    def version_doc(self):
        v = self.opts.k8s_version
        major, minor = v.split(".")[:2]
        return {"major": major, "minor": minor, "emulationMajor": major, "emulationMinor": minor,
                "minCompatibilityMajor": major, "minCompatibilityMinor": str(max(0, int(minor) - 1)),
                "gitVersion": "v" + v, "gitCommit": "0000000000000000000000000000000000000000",
                "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                "goVersion": "go1.25.0", "compiler": "gc", "platform": "linux/amd64"}

    def root_paths(self):
        p = ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version",
             "/openapi/v2", "/openapi/v3"]
        for r in self.cluster.reg.all():
            if r.group:
                p.append("/apis/" + r.group)
                p.append("/apis/" + r.gv)
        return sorted(set(p))

    def group_doc(self, group):
        vs = sorted(self.cluster.reg.versions(group), reverse=True)
        if not group or not vs:
            return None
        vers = [{"groupVersion": group + "/" + v, "version": v} for v in vs]
        return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": vers,
                "preferredVersion": vers[0]}

    def group_list(self):
        groups = []
        for g in self.cluster.reg.groups:
            if g:
                d = self.group_doc(g)
                if d:
                    d = dict(d)
                    d.pop("kind")
                    d.pop("apiVersion")
                    groups.append(d)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def resource_list(self, group, version):
        out = []
        rs = sorted((r for r in self.cluster.reg.all() if r.group == group and r.version == version),
                    key=lambda r: r.plural)
        for r in rs:
            e = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                 "kind": r.kind, "verbs": r.verbs}
            if r.short:
                e["shortNames"] = r.short
            if r.cats:
                e["categories"] = r.cats
            e["storageVersionHash"] = base64.b64encode(hashlib.sha256(r.key.encode()).digest()[:8]).decode()
            out.append(e)
            for s, verbs in r.subs:
                se = {"name": r.plural + "/" + s, "singularName": "", "namespaced": r.namespaced,
                      "kind": r.kind, "verbs": verbs}
                if s == "scale":
                    se.update({"group": "autoscaling", "version": "v1", "kind": "Scale"})
                out.append(se)
        d = {"kind": "APIResourceList"}
        if group:
            d["apiVersion"] = "v1"
        d["groupVersion"] = version if not group else group + "/" + version
        d["resources"] = out
        return d

    def unknown_fields(self, res, obj):
        if self.openapi is None or res.crd:
            return []
        doc = self.openapi.doc()
        if self._gvk_defs is None:
            m = {}
            for n, d in doc["definitions"].items():
                for g in d.get("x-kubernetes-group-version-kind") or []:
                    m[(g.get("group", ""), g.get("version"), g.get("kind"))] = n
            self._gvk_defs = m
        name = self._gvk_defs.get((res.group, res.version, res.kind))
        if not name:
            return []
        out = []

        def walk(val, sch, path, depth=0):
            if depth > 40:
                return
            while "$ref" in sch:
                sch = doc["definitions"].get(sch["$ref"].split("/")[-1], {})
            if sch.get("x-kubernetes-preserve-unknown-fields"):
                return
            if isinstance(val, dict):
                props = sch.get("properties")
                if props is not None:
                    for k, v in val.items():
                        if k not in props:
                            out.append((path + "." + k).lstrip("."))
                        else:
                            walk(v, props[k], path + "." + k, depth + 1)
                elif isinstance(sch.get("additionalProperties"), dict):
                    for k, v in val.items():
                        walk(v, sch["additionalProperties"], path + "." + k, depth + 1)
            elif isinstance(val, list) and isinstance(sch.get("items"), dict):
                for i, v in enumerate(val):
                    walk(v, sch["items"], "%s[%d]" % (path, i), depth + 1)
        walk(obj, doc["definitions"][name], "")
        return out


def state_dumper(srv, d):
    os.makedirs(d, exist_ok=True)
    while not srv.stopping:
        time.sleep(1.0)
        if srv.cluster.dirty:
            srv.cluster.dirty = False
            snap = srv.cluster.snapshot()
            tmp = os.path.join(d, "state.json.tmp")
            with open(tmp, "w") as f:
                json.dump(snap, f, indent=1)
            os.replace(tmp, os.path.join(d, "state.json"))


def main(argv=None):
    ap = argparse.ArgumentParser(description="test Kubernetes API server")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--tls", action="store_true", help="HTTPS (default)")
    mode.add_argument("--plain", action="store_true", help="plain HTTP")
    ap.add_argument("--certs-dir", help="where ca.crt, server.crt/key, client.crt/key are (created if missing)")
    ap.add_argument("--token", action="append", help="accepted bearer token (repeatable)")
    ap.add_argument("--token-file", help="file of accepted tokens (token[,user] per line), re-read per request")
    ap.add_argument("--anonymous", action="store_true",
                    help="requests without credentials act as system:anonymous instead of 401")
    ap.add_argument("--ready-delay", type=float, default=0.5, help="seconds until pods are ready")
    ap.add_argument("--crash-period", type=float, default=1.0, help="seconds per CrashLoopBackOff restart")
    ap.add_argument("--terminate-delay", type=float, default=0.5,
                    help="seconds a deleted namespace stays Terminating")
    ap.add_argument("--pod-watch-lag", type=float, default=0.0,
                    help="seconds every batch of Pod watch events waits before it is sent (a pod "
                         "stream that lags the other kinds' streams, as on a loaded cluster)")
    ap.add_argument("--history", type=int, default=10000, help="watch events kept (older → 410)")
    ap.add_argument("--watch-timeout", type=float, default=1800.0)
    ap.add_argument("--bookmark-interval", type=float, default=5.0)
    ap.add_argument("--k8s-version", default="1.36.0")
    ap.add_argument("--openapi", help="swagger.json to serve at /openapi/v2 (default: shared/refdata)")
    ap.add_argument("--no-tables", dest="tables", action="store_false",
                    help="never answer Accept: as=Table with a Table")
    ap.add_argument("--no-ns-defaults", dest="ns_defaults", action="store_false",
                    help="do not create serviceaccount/default and configmap/kube-root-ca.crt in new namespaces")
    ap.add_argument("--state-dir", help="dump the state as JSON here (debugging)")
    ap.add_argument("--fault", action="append", default=[],
                    help='initial fault, e.g. 429=2, 503=1, drop=1, slow_ms=200, match=PATCH')
    ap.add_argument("-v", "--verbose", action="store_true")
    opts = ap.parse_args(argv)

    ctx = None
    opts.ca_pem = ""
    if not opts.plain:
        import certs
        pki = certs.make_pki(opts.certs_dir)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki["server_cert"], pki["server_key"])
        ctx.load_verify_locations(pki["ca"])
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        with open(pki["ca"]) as f:
            opts.ca_pem = f.read()
        opts.certs_dir = pki["dir"]
    srv = Server((opts.host, opts.port), opts, ctx)
    for f in opts.fault:
        k, _, v = f.partition("=")
        srv.faults.set({k: v if k == "match" else int(v)})
    ctl = Controller(srv.cluster, opts)
    ctl.start()
    if opts.state_dir:
        threading.Thread(target=state_dumper, args=(srv, opts.state_dir), daemon=True).start()
    scheme = "http" if opts.plain else "https"
    if opts.port_file:
        tmp = opts.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.port)
        os.replace(tmp, opts.port_file)
    print("k8s_server: listening on %s://%s:%d%s" % (scheme, opts.host, srv.port,
                                                    (" certs in " + opts.certs_dir) if ctx else ""),
          flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.stopping = True
        ctl.stop = True


if __name__ == "__main__":
    main()
