#!/usr/bin/env python3
"""check-deps.py - the include rules of runner/ and providers/ (standard library only).

    python3 test/check-deps.py [--root DIR] [-v]   check the tree (default: this repository)
    python3 test/check-deps.py --self-test         prove the checker can fail (temporary trees)

Reads every .c/.h under runner/ and providers/, resolves quoted includes like
the compiler with -Irunner -Iproviders (the including file's directory first,
then runner/, then providers/; <...> includes: runner/, providers/, else
system), and fails (exit 1) with one line per violation, "file:line: [rule] ...":

  module-cycle              an include cycle between modules (module = path
                            without extension: a .c and its .h are one node,
                            except SEPARATE_MODULES)
  folder-cycle              a cycle between folders (see FOLDERS below)
  folder-edge               folder X includes folder Y and "X -> Y" is not in ALLOWED
  lib-home                  <curl/...>, <git2.h>, <yaml.h> outside their one home (LIB_HOMES)
  runner-includes-provider  a file under runner/ includes anything under providers/
                            except providers/provider.h and providers/registry.h
  cross-provider            providers/a/ includes providers/b/

An include reported as runner-includes-provider or cross-provider is not
reported again as folder-edge. Last line: "check-deps: N files, M includes,
K violations". Exit 0 clean, 1 violations, 2 usage error or a broken table.
"""
import argparse
import collections
import fnmatch
import os
import re
import subprocess
import sys
import tempfile

# --------------------------------------------------------------------------- the rules (edit here)
#
# FOLDERS: every file belongs to one folder node:
#   runner/<x>/...           -> "<x>"            (cli, context, config, render, report, lifecycle, resolve, util)
#   runner/main.c (any file directly in runner/) -> "main"
#   providers/provider.{c,h} -> "provider"       (the provider interface and what the core
#                                                  does with any provider)
#   providers/registry.{c,h} -> "registry"       (the one table of providers)
#   providers/<name>/...     -> "providers/<name>"
#
# ALLOWED: "X -> Y Z" means files in folder X may include files in folders Y and Z.
# A folder may always include itself. "providers/*" stands for every providers/<name>.
# Anything not listed is a folder-edge violation. The table itself must be acyclic.
ALLOWED = """
main        -> cli
cli         -> context config render report lifecycle resolve util provider registry
resolve     -> config context render util
lifecycle   -> report config context util provider
report      -> config context util
render      -> util
config      -> context util render
context     -> util
util        ->
provider    -> util config
providers/* -> util config context render provider
registry    -> provider providers/*
"""
# config -> render: the plan renders its own templates (name, namespace,
# url, values) with the Mustache engine. resolve (what to deploy, asked
# from outside: services' branches through ls-remote) sits between the plan
# and the render: it asks through util/git.h and hands the answers to the
# plan; only the tool (cli) calls it. report never includes render or a
# provider; only the tool (cli) knows the table of providers.

# LIB_HOMES: (include-name regex, the one file that may include it, what to call it).
LIB_HOMES = [
    (r"^curl/", "runner/util/http.c", "<curl/curl.h>"),
    (r"^git2(\.h$|/)", "runner/util/git.c", "<git2.h>"),
    (r"^yaml\.h$", "runner/util/yaml.c", "<yaml.h>"),
]

PROVIDER_INTERFACE = "providers/provider.h"
# What runner/ may include from providers/ (the folder table says who).
PROVIDER_PUBLIC = {"providers/provider.h", "providers/registry.h"}

# SEPARATE_MODULES: files that are their own module node although a .c/.h
# pair shares their name (none today: the interface and the registry are
# separate pairs, so no provider sits in a cycle with the table).
SEPARATE_MODULES = set()
SOURCE_DIRS = ("runner", "providers")

# --------------------------------------------------------------------------- parsing

INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"\n]+)[>"]')


def strip_comments(text):
    """text with /* */ and // comments blanked (newlines kept, so line numbers
    stay right); string and character literals are skipped, not blanked."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "/" and i + 1 < n and text[i + 1] == "*":
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif c == "/" and i + 1 < n and text[i + 1] == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(text[i:j])
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_includes(text):
    """[(line number, '<' or '"', name)] of the #include lines of a C file."""
    res = []
    for no, line in enumerate(strip_comments(text).split("\n"), 1):
        m = INCLUDE_RE.match(line)
        if m:
            res.append((no, m.group(1), m.group(2).strip()))
    return res


# --------------------------------------------------------------------------- the table

def parse_allowed(text):
    """{folder pattern: [allowed target patterns]}; raises ValueError."""
    rules = collections.OrderedDict()
    for no, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if "->" not in line:
            raise ValueError("ALLOWED line %d: expected 'X -> Y Z': %r" % (no, line))
        lhs, rhs = line.split("->", 1)
        lhs = lhs.strip()
        if not lhs or " " in lhs or lhs in rules:
            raise ValueError("ALLOWED line %d: bad or repeated folder %r" % (no, lhs))
        rules[lhs] = rhs.split()
    return rules


def table_cycle(rules):
    """A cycle in the allow-list itself (patterns as nodes), or None."""
    nodes = set(rules) | {t for ts in rules.values() for t in ts}

    def succ(x):
        out = set()
        for pat, ts in rules.items():
            if pat == x or fnmatch.fnmatchcase(x, pat):
                out.update(t for t in ts if t != x)
        return sorted(out)
    g = {x: succ(x) for x in nodes}
    for comp in sccs(g):
        if len(comp) > 1:
            return find_cycle(g, comp)
    return None


def folder_of(path):
    parts = path.split("/")
    if parts[0] == "runner":
        return "main" if len(parts) == 2 else parts[1]
    if parts[0] == "providers":
        if len(parts) == 2:
            return "registry" if parts[1].startswith("registry.") else "provider"
        return "providers/" + parts[1]
    return None


def module_of(path):
    """A .c and its .h are one module; a private header "<m>_int.h" (shared
    by the files that implement <m>, with no .c of its own) belongs to <m>."""
    if path in SEPARATE_MODULES:
        return path
    base = os.path.splitext(path)[0]
    if path.endswith("_int.h"):
        return base[:-len("_int")]
    return base


def edge_allowed(rules, src, dst):
    if src == dst:
        return True
    for pat, targets in rules.items():
        if pat == src or fnmatch.fnmatchcase(src, pat):
            if any(t == dst or fnmatch.fnmatchcase(dst, t) for t in targets):
                return True
    return False


def allowed_targets(rules, src):
    out = []
    for pat, targets in rules.items():
        if pat == src or fnmatch.fnmatchcase(src, pat):
            out += [t for t in targets if t not in out]
    return out


# --------------------------------------------------------------------------- graphs

def sccs(graph):
    """Strongly connected components (Tarjan, iterative), each a sorted list."""
    index, low, onstack, stack, res = {}, {}, set(), [], []
    counter = [0]
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(graph.get(root, ())))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        onstack.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    onstack.add(w)
                    work.append((w, iter(graph.get(w, ()))))
                    advanced = True
                    break
                if w in onstack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    onstack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                res.append(sorted(comp))
    return res


def find_cycle(graph, comp):
    """The shortest cycle through the smallest node of an SCC: [a, b, ..., a]."""
    members = set(comp)
    start = comp[0]
    prev = {start: None}
    queue = collections.deque([start])
    while queue:
        v = queue.popleft()
        for w in graph.get(v, ()):
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w in members and w not in prev:
                prev[w] = v
                queue.append(w)
    return [start, start]


# --------------------------------------------------------------------------- the check

class Include:
    __slots__ = ("file", "line", "bracket", "name", "target")

    def __init__(self, file, line, bracket, name, target):
        self.file, self.line, self.bracket, self.name, self.target = file, line, bracket, name, target

    @property
    def where(self):
        return "%s:%d" % (self.file, self.line)

    @property
    def spelled(self):
        return ('"%s"' % self.name) if self.bracket == '"' else "<%s>" % self.name


def resolve(root, file, bracket, name):
    """The repository-relative path an include resolves to, or None (system/absent)."""
    cands = []
    if bracket == '"':
        cands.append(os.path.join(os.path.dirname(file), name))
    cands += [os.path.join(d, name) for d in SOURCE_DIRS]
    for c in cands:
        p = os.path.normpath(c).replace(os.sep, "/")
        if p.startswith("../") or os.path.isabs(p):
            continue
        if os.path.isfile(os.path.join(root, p)):
            return p
    return None


def scan(root):
    """(files, includes): the .c/.h files under runner/ and providers/ (sorted) and
    every #include in them (plus any in-tree non-.c/.h file they include)."""
    files = []
    for d in SOURCE_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, d)):
            dirnames.sort()
            for fn in sorted(filenames):
                if fn.endswith((".c", ".h")):
                    files.append(os.path.relpath(os.path.join(dirpath, fn), root).replace(os.sep, "/"))
    files.sort()
    includes, seen, todo = [], set(files), list(files)
    while todo:
        f = todo.pop(0)
        with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        for line, bracket, name in parse_includes(text):
            t = resolve(root, f, bracket, name)
            includes.append(Include(f, line, bracket, name, t))
            if t and t not in seen and t.split("/")[0] in SOURCE_DIRS:
                seen.add(t)
                todo.append(t)  # e.g. a .inc file
    includes.sort(key=lambda i: (i.file, i.line))
    return files, includes


def check(root, rules):
    """[(file, line, rule, message)] sorted; plus (files, includes)."""
    files, includes = scan(root)
    out = []
    libs = [(re.compile(rx), home, label) for rx, home, label in LIB_HOMES]
    local = [i for i in includes if i.target and i.target.split("/")[0] in SOURCE_DIRS]

    # 2. third-party library headers only in their one home
    for i in includes:
        if i.target and i.target.split("/")[0] in SOURCE_DIRS:
            continue
        for rx, home, label in libs:
            if rx.search(i.name) and i.file != home:
                out.append((i.file, i.line, "lib-home", "%s: %s may only be included by %s"
                            % (i.spelled, label, home)))

    # 3, 4 and the folder allow-list
    folder_edges = collections.OrderedDict()   # (src folder, dst folder) -> first Include
    for i in local:
        src, dst = folder_of(i.file), folder_of(i.target)
        if src is None or dst is None:
            continue
        if src != dst:
            folder_edges.setdefault((src, dst), i)
        if i.file.startswith("runner/") and i.target.startswith("providers/") \
                and i.target not in PROVIDER_PUBLIC:
            out.append((i.file, i.line, "runner-includes-provider",
                        "%s -> %s: runner/ may include only %s from providers/"
                        % (i.spelled, i.target, " and ".join(sorted(PROVIDER_PUBLIC)))))
            continue
        if src.startswith("providers/") and dst.startswith("providers/") and src != dst:
            out.append((i.file, i.line, "cross-provider",
                        "%s -> %s: %s/ must not include another provider's files (%s/)"
                        % (i.spelled, i.target, src, dst)))
            continue
        if not edge_allowed(rules, src, dst):
            may = allowed_targets(rules, src)
            out.append((i.file, i.line, "folder-edge",
                        "%s -> %s: folder %s -> %s is not allowed (%s may include: %s)"
                        % (i.spelled, i.target, src, dst, src, ", ".join(may) or "only itself")))

    # 1a. module cycles
    mod_edges = collections.OrderedDict()      # (module, module) -> first Include
    for i in local:
        a, b = module_of(i.file), module_of(i.target)
        if a != b:
            mod_edges.setdefault((a, b), i)
    out += cycles(mod_edges, "module-cycle", "include cycle between modules")

    # 1b. folder cycles
    out += cycles(folder_edges, "folder-cycle", "cycle between folders")

    out.sort(key=lambda v: (v[0], v[1], v[2]))
    return out, files, includes


def cycles(edges, rule, what):
    g = collections.defaultdict(list)
    for a, b in edges:
        g[a].append(b)
        g.setdefault(b, [])
    res = []
    for comp in sccs(g):
        if len(comp) < 2:
            continue
        cyc = find_cycle(g, comp)
        steps = ["%s %s" % (edges[(cyc[k], cyc[k + 1])].where, edges[(cyc[k], cyc[k + 1])].spelled)
                 for k in range(len(cyc) - 1)]
        first = edges[(cyc[0], cyc[1])]
        msg = "%s: %s (%s)" % (what, " -> ".join(cyc), "; ".join(steps))
        if len(comp) > len(cyc) - 1:
            msg += "; all of: " + ", ".join(comp)
        res.append((first.file, first.line, rule, msg))
    return res


def run(root, verbose=False):
    try:
        rules = parse_allowed(ALLOWED)
    except ValueError as e:
        print("check-deps: %s" % e)
        return 2
    cyc = table_cycle(rules)
    if cyc:
        print("check-deps: the ALLOWED table has a cycle: %s" % " -> ".join(cyc))
        return 2
    if not any(os.path.isdir(os.path.join(root, d)) for d in SOURCE_DIRS):
        print("check-deps: no runner/ or providers/ under %s" % root)
        return 2
    viol, files, includes = check(root, rules)
    for f, line, rule, msg in viol:
        print("%s:%d: [%s] %s" % (f, line, rule, msg))
    if verbose:
        edges = collections.Counter()
        for i in includes:
            if i.target and i.target.split("/")[0] in SOURCE_DIRS:
                a, b = folder_of(i.file), folder_of(i.target)
                if a and b and a != b:
                    edges[(a, b)] += 1
        for (a, b), n in sorted(edges.items()):
            print("# folder edge %s -> %s (%d include%s)%s"
                  % (a, b, n, "" if n == 1 else "s", "" if edge_allowed(rules, a, b) else "  NOT ALLOWED"))
    if viol:
        by = collections.Counter(v[2] for v in viol)
        print("check-deps: by rule: " + ", ".join("%s %d" % kv for kv in sorted(by.items())))
    print("check-deps: %d files, %d includes, %d violations" % (len(files), len(includes), len(viol)))
    return 1 if viol else 0


# --------------------------------------------------------------------------- self-test

# A miniature of the intended layout that passes; each case below adds one kind
# of violation to it. Lines ending in DECOY are inside comments and must not count.
CLEAN = {
    "runner/main.c": '#include "cli/cmd.h"\nint main(void) { return 0; }\n',
    "runner/cli/cmd.h": "",
    "runner/cli/cmd.c": '#include "cli/cmd.h"\n#include "lifecycle/deploy.h"\n#include "report/report.h"\n'
                        '#include "render/render.h"\n#include "config/config.h"\n#include "context/ci.h"\n'
                        '#include "util/log.h"\n#include "provider.h"\n#include "registry.h"\n#include <stdio.h>\n',
    "runner/lifecycle/deploy.h": '#include "provider.h"\n',
    "runner/lifecycle/deploy.c": '#include "lifecycle/deploy.h"\n#include "report/report.h"\n'
                                 '#include "config/config.h"\n#include "util/log.h"\n',
    "runner/report/report.h": '#include "util/buf.h"\n',
    "runner/report/report.c": '#include "report/report.h"\n#include "config/config.h"\n'
                              '#include "context/ci.h"\n#include <util/http.h>\n',
    "runner/render/tmpl.h": '#include "util/buf.h"\n',
    "runner/render/render.h": '#include "tmpl.h"\n',
    "runner/render/render.c": '#include "render/render.h"\n#include "util/buf.h"\n#include "util/yaml.h"\n',
    "runner/config/config.h": '#include "config/schema.h"\n#include <cjson/cJSON.h>\n',
    "runner/config/schema.h": "",
    "runner/config/plan.c": '#include "config/config.h"\n#include "render/tmpl.h"\n',
    "runner/config/config.c": '#include "config/config.h"\n#include "context/ci.h"\n#include "util/yaml.h"\n'
                              '#include <stdlib.h>\n',
    "runner/context/ci.h": "",
    "runner/context/ci.c": '#include "context/ci.h"\n#include "util/git.h"\n',
    "runner/util/buf.h": "#include <stddef.h>\n",
    "runner/util/buf.c": '#include "buf.h"\n',
    "runner/util/http.h": '#include "util/buf.h"\n',
    "runner/util/http.c": '#include "util/http.h"\n#include <curl/curl.h>\n',
    "runner/util/git.h": "",
    "runner/util/git.c": '#include "util/git.h"\n#include <git2.h>\n',
    "runner/util/yaml.h": "",
    "runner/util/yaml.c": '#include "util/yaml.h"\n#include <yaml.h>\n',
    "runner/util/log.h": "",
    "runner/util/log.c": ('#include "util/log.h"\n'
                          '/* a comment that looks like an include:\n'
                          '#include "config/config.h" DECOY\n'
                          '*/\n'
                          '// #include <curl/curl.h> DECOY\n'
                          'static const char *s = "/* not a comment start";\n'
                          '#include "util/buf.h"\n'),
    "providers/provider.h": '#include <cjson/cJSON.h>\n#include "config/schema.h"\n',
    "providers/provider.c": '#include "provider.h"\n#include "util/buf.h"\n',
    "providers/registry.h": "",
    "providers/registry.c": '#include "registry.h"\n#include "provider.h"\n#include "kubernetes/k8s.h"\n'
                            '#include "pages/pages.h"\n',
    "providers/kubernetes/k8s.h": '#include "provider.h"\n',
    "providers/kubernetes/k8s_int.h": '#include "util/http.h"\n',
    "providers/kubernetes/k8s.c": '#include "kubernetes/k8s.h"\n#include "k8s_int.h"\n#include "config/config.h"\n'
                                  '#include "context/ci.h"\n#include "render/render.h"\n#include "util/log.h"\n',
    "providers/pages/pages.h": '#include "provider.h"\n',
    "providers/pages/pages.c": '#include "pages/pages.h"\n#include "util/git.h"\n#include "render/tmpl.h"\n',
}


def _add(files, path, line):
    files = dict(files)
    files[path] = files.get(path, "") + line + "\n"
    return files


SELF_TEST_CASES = [
    # (name, changes to CLEAN, {rule: expected count})
    ("clean tree", [], {}),
    ("module cycle", [("runner/util/a.h", ""), ("runner/util/a.c", '#include "util/b.h"'),
                      ("runner/util/b.h", '#include "util/a.h"'), ("runner/util/b.c", '#include "b.h"')],
     {"module-cycle": 1}),
    ("three-module cycle (context/ci -> util/log -> util/err -> context/ci)",
     [("runner/context/ci.h", '#include "util/log.h"'), ("runner/util/log.h", '#include "util/err.h"'),
      ("runner/util/err.h", ""), ("runner/util/err.c", '#include "context/ci.h"')],
     {"module-cycle": 1, "folder-edge": 1, "folder-cycle": 1}),
    ("<curl/curl.h> outside runner/util/http.c", [("runner/report/report.c", "#include <curl/curl.h>")],
     {"lib-home": 1}),
    ("<git2.h> and <yaml.h> outside their homes", [("providers/pages/pages.c", "#include <git2.h>"),
                                                   ("runner/config/config.c", "#include <yaml.h>")],
     {"lib-home": 2}),
    ("a provider's own header from runner/", [("runner/cli/cmd.c", '#include "kubernetes/k8s.h"')],
     {"runner-includes-provider": 1}),
    ("cross-provider include", [("providers/pages/pages.c", '#include "kubernetes/k8s_int.h"')],
     {"cross-provider": 1}),
    ("disallowed folder edge (report -> render)", [("runner/report/report.c", '#include "render/render.h"')],
     {"folder-edge": 1}),
    ("folder cycle (util -> config, via <...>)", [("runner/util/log.c", "#include <config/config.h>")],
     {"folder-edge": 1, "folder-cycle": 1}),
]

VIOLATION_RE = re.compile(r"^(\S+):(\d+): \[([a-z-]+)\] \S")
SUMMARY_RE = re.compile(r"^check-deps: (\d+) files, (\d+) includes, (\d+) violations$")


def self_test():
    failures = []
    with tempfile.TemporaryDirectory(prefix="check-deps-") as tmp:
        for n, (name, changes, expect) in enumerate(SELF_TEST_CASES):
            files = dict(CLEAN)
            for path, line in changes:
                files = _add(files, path, line)
            root = os.path.join(tmp, "case%d" % n)
            for path, text in files.items():
                p = os.path.join(root, path)
                os.makedirs(os.path.dirname(p), exist_ok=True)
                with open(p, "w") as f:
                    f.write(text)
            r = subprocess.run([sys.executable, os.path.abspath(__file__), "--root", root],
                               capture_output=True, text=True, timeout=60)
            lines = r.stdout.splitlines()
            got = collections.Counter(m.group(3) for m in map(VIOLATION_RE.match, lines) if m)
            summ = [m for m in map(SUMMARY_RE.match, lines) if m]
            want_incl = sum(1 for t in files.values() for ln in t.splitlines()
                            if ln.startswith("#include") and "DECOY" not in ln)
            problems = []
            if r.returncode != (1 if expect else 0):
                problems.append("exit %d, want %d" % (r.returncode, 1 if expect else 0))
            if dict(got) != expect:
                problems.append("violations %s, want %s" % (dict(got), expect))
            if len(summ) != 1:
                problems.append("no summary line")
            else:
                nf, ni, nv = (int(x) for x in summ[0].groups())
                if (nf, ni, nv) != (len(files), want_incl, sum(expect.values())):
                    problems.append("summary %d files, %d includes, %d violations; want %d, %d, %d"
                                    % (nf, ni, nv, len(files), want_incl, sum(expect.values())))
            for m in map(VIOLATION_RE.match, lines):
                if m and m.group(1) not in files:
                    problems.append("violation names unknown file %s" % m.group(1))
            print("%s self-test: %s%s" % ("ok  " if not problems else "FAIL", name,
                                          "" if not problems else ": " + "; ".join(problems)))
            if problems:
                failures.append(name)
                sys.stdout.write("".join("    | %s\n" % ln for ln in lines + r.stderr.splitlines()))
    # the parser and the table on their own
    unit = [
        (parse_includes('/* x\n#include "a.h"\n*/ #include "b.h"\n  #  include <c.h> // d\n'),
         [(3, '"', "b.h"), (4, "<", "c.h")]),  # a comment before '#' is whitespace
        (parse_includes('char *p = "//"; \n#include "e.h"\n'), [(2, '"', "e.h")]),
        (table_cycle(parse_allowed("a -> b\nb -> c\nc -> a\n")) is not None, True),
        (table_cycle(parse_allowed(ALLOWED)), None),
        (edge_allowed(parse_allowed(ALLOWED), "providers/kubernetes", "render"), True),
        (edge_allowed(parse_allowed(ALLOWED), "report", "render"), False),
        (edge_allowed(parse_allowed(ALLOWED), "registry", "providers/pages"), True),
    ]
    for k, (got, want) in enumerate(unit):
        if got != want:
            print("FAIL self-test: unit %d: got %r, want %r" % (k, got, want))
            failures.append("unit %d" % k)
    total = len(SELF_TEST_CASES) + len(unit)
    print("check-deps self-test: %d passed, %d failed" % (total - len(failures), len(failures)))
    return 1 if failures else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description="check the include rules of runner/ and providers/")
    ap.add_argument("--root", default=os.path.abspath(os.path.join(os.path.dirname(__file__), "..")),
                    help="repository root (default: the one this script is in)")
    ap.add_argument("--self-test", action="store_true", help="check the checker on temporary trees")
    ap.add_argument("-v", "--verbose", action="store_true", help="also list every folder edge")
    a = ap.parse_args(argv)
    if a.self_test:
        return self_test()
    return run(a.root, a.verbose)


if __name__ == "__main__":
    sys.exit(main())
