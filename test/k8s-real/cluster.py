#!/usr/bin/python3
"""A real single-node Kubernetes v1.20.2 for prenv's tests (built by build.sh).

    python3 test/k8s-real/cluster.py start     # prints the kubeconfig path, URL, timings
    python3 test/k8s-real/cluster.py status    # exit 0 when everything is up
    eval "$(python3 test/k8s-real/cluster.py env)"   # PRENV_K8S_REAL_* and KUBECONFIG
    python3 test/k8s-real/cluster.py stop

From a test (same kind of interface as test/servers/k8s_harness.py):

    from cluster import RealCluster
    c = RealCluster().start()          # or RealCluster.attach() for a running one
    c.kubeconfig, c.url, c.token, c.ca  # admin kubeconfig written by start()
    c.write_kubeconfig(path, token=None, namespace=None, client_cert=False)
    c.api("GET", "/api/v1/namespaces")  # -> (status, headers, parsed body)
    c.kubectl("get", "pods", "-A")      # -> CompletedProcess (text)
    c.stop()

One cluster per machine: the bridge, iptables chains and a few host paths
(/var/log/pods, /run/containerd/s, ...) are fixed. Everything else lives in the
run directory (default /run/prenv-k8s-real, or PRENV_K8S_REAL_RUN): state.json
(pids, ports, what was changed on the host), pki/, logs/, etcd/, containerd/,
kubelet/. `stop` works from any process from state.json, kills only the
recorded PIDs (checked against their start time) and processes that belong
to this cluster's private containerd socket, and undoes the host changes.
`start` first cleans up whatever a crashed run left.

Needs root and the cache built by build.sh (PRENV_CACHE_DIR, default
/var/cache/prenv, or PRENV_K8S_REAL_CACHE for the k8s-real dir itself).
Python 3 standard library only.
"""
import argparse
import contextlib
import fcntl
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def default_cache():
    return os.environ.get("PRENV_K8S_REAL_CACHE") or os.path.join(
        os.environ.get("PRENV_CACHE_DIR") or "/var/cache/prenv", "k8s-real")


def default_run():
    return os.environ.get("PRENV_K8S_REAL_RUN") or "/run/prenv-k8s-real"


NODE = "prenv-node"
BRIDGE = "k8s0"
# The API server's audit log (logs/audit.log): one JSON line per request of
# a client that is not a cluster component (the tests, kubectl, prenv), at
# the Metadata level, so a test can count what prenv asked the real server
# (RealCluster.audit_offset() / audit_events()).
AUDIT_POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    users: [system:kube-controller-manager, system:kube-scheduler, system:kube-proxy,
            system:apiserver]
  - level: None
    userGroups: [system:nodes, "system:serviceaccounts:kube-system"]
  - level: None
    nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
  - level: Metadata
"""
POD_CIDR = "10.244.0.0/24"
BRIDGE_ADDR = "10.244.0.1/24"
SVC_CIDR = "10.96.0.0/20"   # 4094 Service IPs: benchmarks and parallel test runs make hundreds
CNI_NET = "prenv-k8s-real"
CGROUP_ROOT = "prenv-k8s-real"
BUSYBOX = "busybox:local"                # sh, httpd, wget, nc, ... (WorkingDir /var/www)
BUSYBOX_HTTPD = "busybox-httpd:local"    # the same, running `httpd -f -p 8080` by default
PAUSE = "pause:local"
PAUSE_REF = "docker.io/library/pause:local"
IMAGES = {"busybox.tar": BUSYBOX, "busybox-httpd.tar": BUSYBOX_HTTPD, "pause.tar": PAUSE}
# Host paths these versions of kubelet/containerd/CNI use whatever we configure
# (sandbox network namespaces are kept under containerd's state dir:
# netns_mounts_under_state_dir; /run/netns is still checked after a crash)
FIXED_PATHS = ["/var/log/pods", "/var/log/containers", "/run/containerd/s", "/run/containerd",
               "/var/lib/cni/results", "/run/netns"]
PARENT_PATHS = ["/var/lib/cni"]  # removed when we created them and they are empty
# Host sysctls kubelet / kube-proxy / the bridge plugin may change; restored on stop
SYSCTLS = ["net/ipv4/ip_forward", "net/ipv4/conf/all/route_localnet",
           "net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables",
           "net/netfilter/nf_conntrack_max", "net/netfilter/nf_conntrack_tcp_timeout_established",
           "net/netfilter/nf_conntrack_tcp_timeout_close_wait", "vm/overcommit_memory",
           "kernel/panic", "kernel/panic_on_oops"]
# Pod traffic may not leave the machine through the host's interfaces
FWD_RULE = ["FORWARD", "-i", BRIDGE, "!", "-o", BRIDGE, "-m", "comment", "--comment",
            "prenv-k8s-real: pods stay on this machine", "-j", "DROP"]
NO_PROXY_ENV = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY", "no_proxy", "NO_PROXY")
# stop order: node first, then the control plane
STOP_ORDER = ["kubelet", "kube-proxy", "containerd", "kube-scheduler", "kube-controller-manager",
              "kube-apiserver", "etcd"]


class ClusterError(RuntimeError):
    pass


def _say(msg):
    sys.stderr.write("k8s-real: %s\n" % msg)
    sys.stderr.flush()


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _proc_stat(pid):
    """(state, starttime) of a process, or None when it does not exist."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return rest[0], int(rest[19])


def _alive(pid, start):
    st = _proc_stat(pid)
    if st is None or st[0] in ("Z", "X") or (start is not None and st[1] != start):
        if st is not None and st[0] == "Z":
            try:
                os.waitpid(pid, os.WNOHANG)  # our child: reap it
            except ChildProcessError:
                pass
        return False
    return True


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def _children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        ppid = int(s[s.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids


def _descendants(pid, kids=None):
    kids = kids if kids is not None else _children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def _run(argv, check=True, quiet=False, **kw):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if check and r.returncode != 0:
        raise ClusterError("%s failed (%d): %s" % (" ".join(argv), r.returncode,
                                                   (r.stderr or r.stdout).strip()[-2000:]))
    return r


def _write(path, text, mode=0o644):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _read_sysctl(name):
    try:
        with open("/proc/sys/" + name) as f:
            return f.read().strip()
    except OSError:
        return None


def _write_sysctl(name, value):
    try:
        with open("/proc/sys/" + name, "w") as f:
            f.write(value)
        return True
    except OSError:
        return False


def _mounts_under(prefixes):
    out = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                mp = line.split()[4].replace("\\040", " ")
                if any(mp == p or mp.startswith(p.rstrip("/") + "/") for p in prefixes):
                    out.append(mp)
    except OSError:
        pass
    return out


_LOCKS = {}


@contextlib.contextmanager
def _machine_lock(run_dir):
    """One start/stop at a time per run dir, across processes (re-entrant in one)."""
    path = run_dir.rstrip("/") + ".lock"
    held = _LOCKS.get(path)
    if held:
        held[1] += 1
        try:
            yield
        finally:
            held[1] -= 1
        return
    f = open(path, "w")
    fcntl.flock(f, fcntl.LOCK_EX)
    _LOCKS[path] = [f, 1]
    try:
        yield
    finally:
        del _LOCKS[path]
        fcntl.flock(f, fcntl.LOCK_UN)
        f.close()


class RealCluster:
    """A real kube-apiserver + node on 127.0.0.1. See the module docstring."""

    def __init__(self, run_dir=None, cache_dir=None, tokens=(), verbose=True):
        """tokens: extra bearer tokens accepted by the apiserver: strings (admins,
        group system:masters) or (token, user, [groups]) tuples."""
        self.run = os.path.abspath(run_dir or default_run())
        self.cache = os.path.abspath(cache_dir or default_cache())
        self.bin = os.path.join(self.cache, "bin")
        self.extra_tokens = list(tokens)
        self.verbose = verbose
        _ensure_sbin_path()
        self.state = {}
        self._procs = {}
        self.timings = {}

    # ---- what tests use ---------------------------------------------------
    @property
    def port(self):
        return self.state.get("ports", {}).get("apiserver")

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

    server = url

    @property
    def token(self):
        return self.state.get("token")

    @property
    def tokens(self):
        return [self.token] + [t if isinstance(t, str) else t[0] for t in self.state.get("extra_tokens", [])]

    @property
    def certs(self):
        return os.path.join(self.run, "pki")

    @property
    def ca(self):
        return os.path.join(self.certs, "ca.crt")

    @property
    def kubeconfig(self):
        return os.path.join(self.run, "kubeconfig")

    @property
    def node_name(self):
        return NODE

    @property
    def containerd_socket(self):
        return os.path.join(self.run, "containerd", "containerd.sock")

    images = sorted(IMAGES.values())  # busybox:local, busybox-httpd:local, pause:local

    def log_path(self, name):
        """Log file of one component (etcd, kube-apiserver, ..., containerd, kubelet)."""
        return os.path.join(self.run, "logs", name + ".log")

    @property
    def audit_log(self):
        return os.path.join(self.run, "logs", "audit.log")

    def audit_offset(self):
        """Where the audit log ends now: pass it to audit_events() later."""
        try:
            return os.path.getsize(self.audit_log)
        except OSError:
            return 0

    def audit_events(self, offset, user_agent=None, settle=1.0):
        """The audit events (audit.k8s.io/v1 Event, Metadata level) logged
        after offset, optionally only those whose userAgent starts with
        user_agent. The API server writes an event when the response is
        done, which can be a moment after the client has it: a marker
        request is sent and waited for, then `settle` seconds more."""
        if not os.path.exists(self.audit_log):
            raise ClusterError("no audit log at %s: this cluster was started before audit "
                               "logging (stop it; make check starts a new one)" % self.audit_log)
        marker = "/api/v1/namespaces/audit-marker-" + secrets.token_hex(6)
        self.api("GET", marker)
        deadline = time.time() + 30
        while time.time() < deadline:
            with open(self.audit_log, "rb") as f:
                f.seek(offset)
                data = f.read()
            if marker.encode() in data:
                break
            time.sleep(0.2)
        time.sleep(settle)
        with open(self.audit_log, "rb") as f:
            f.seek(offset)
            data = f.read()
        out = []
        for line in data.splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if user_agent is None or (ev.get("userAgent") or "").startswith(user_agent):
                out.append(ev)
        return out

    def read_log(self, name, tail=200):
        try:
            with open(self.log_path(name), errors="replace") as f:
                return "".join(f.readlines()[-tail:])
        except OSError:
            return ""

    def write_kubeconfig(self, path, token=None, namespace=None, client_cert=False):
        user = {}
        if client_cert:
            user = {"client-certificate": os.path.join(self.certs, "client.crt"),
                    "client-key": os.path.join(self.certs, "client.key")}
        else:
            user = {"token": token if token is not None else self.token}
        ctx = {"cluster": "k8s-real", "user": "k8s-real"}
        if namespace:
            ctx["namespace"] = namespace
        cfg = {"apiVersion": "v1", "kind": "Config", "preferences": {},
               "clusters": [{"name": "k8s-real", "cluster": {"server": self.url,
                                                             "certificate-authority": self.ca}}],
               "users": [{"name": "k8s-real", "user": user}],
               "contexts": [{"name": "k8s-real", "context": ctx}], "current-context": "k8s-real"}
        _write(path, json.dumps(cfg, indent=1) + "\n", 0o600)  # JSON is YAML
        return path

    def conn(self, timeout=10):
        ctx = ssl.create_default_context(cafile=self.ca)
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=ctx)

    def api(self, method, path, body=None, token=None, content_type=None, headers=None, raw=False,
            timeout=10):
        c = self.conn(timeout)
        h = {"User-Agent": "k8s-real-harness/1", "Accept": "application/json"}
        tok = self.token if token is None else token
        if tok:
            h["Authorization"] = "Bearer " + tok
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            h["Content-Type"] = content_type or "application/json"
        h.update(headers or {})
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            out = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            if raw:
                return r.status, hdrs, out
            try:
                return r.status, hdrs, json.loads(out)
            except ValueError:
                return r.status, hdrs, out.decode("utf-8", "replace")
        finally:
            c.close()

    def kubectl(self, *args, timeout=120, kubectl=None, input=None):
        exe = kubectl or shutil.which("kubectl") or "kubectl"
        return subprocess.run([exe, "--kubeconfig", self.kubeconfig] + list(args), input=input,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout)

    def ctr(self, *args, check=True):
        """ctr on this cluster's containerd, namespace k8s.io."""
        return _run(["ctr", "--address", self.containerd_socket, "-n", "k8s.io"] + list(args),
                    check=check)

    def import_image(self, tarball):
        """Imports a docker-archive or OCI tarball (its own tags)."""
        return self.ctr("images", "import", tarball).stdout

    def make_image(self, tag, cmd=None, entrypoint=None, env=None, workdir=None, base=BUSYBOX):
        """A new image from the files of a built one (busybox:local by default) with its
        own command, imported under `tag`, e.g.
        make_image("ghcr.io/acme/shop:crash", cmd=["sh", "-c", "echo boom; exit 3"])."""
        src = {v: k for k, v in IMAGES.items()}[base]
        d = os.path.join(self.run, "images")
        os.makedirs(d, exist_ok=True)
        out = os.path.join(d, "%s.tar" % secrets.token_hex(6))
        argv = [sys.executable, os.path.join(HERE, "mkimage.py"), "--from-archive",
                os.path.join(self.cache, "images", src), "--tag", tag, "--out", out]
        if cmd is not None:
            argv += ["--cmd", json.dumps(list(cmd))]
        if entrypoint is not None:
            argv += ["--entrypoint", json.dumps(list(entrypoint))]
        for e in env or []:
            argv += ["--env", e]
        if workdir:
            argv += ["--workdir", workdir]
        _run(argv)
        try:
            self.import_image(out)
        finally:
            os.unlink(out)
        return _normalize(tag)

    def tag_image(self, source, target):
        """Adds another name for an image, e.g. tag_image("busybox:local", "ghcr.io/acme/shop:1")."""
        self.ctr("images", "tag", "--force", _normalize(source), _normalize(target))
        return _normalize(target)

    # ---- life cycle -------------------------------------------------------
    @classmethod
    def attach(cls, run_dir=None, cache_dir=None):
        """The cluster a previous start (maybe in another process) left running, or None."""
        c = cls(run_dir, cache_dir)
        if not c._load() or c.state.get("phase") != "running":
            return None
        if not all(_alive(p, s) for p, s in c.state.get("pids", {}).values()):
            return None
        return c

    def start(self, timeout=240, reuse=False):
        """Starts a fresh cluster (empty etcd, new PKI and tokens), first stopping
        whatever a previous run left, running or crashed. reuse=True: if a
        healthy cluster is already running in this run dir, use it instead."""
        if os.geteuid() != 0:
            raise ClusterError("needs root")
        with _machine_lock(self.run):
            return self._start_locked(timeout, reuse)

    def _start_locked(self, timeout, reuse):
        t0 = time.time()
        if reuse:
            other = RealCluster.attach(self.run, self.cache)
            if other is not None and other.status()["ok"]:
                self.state = other.state
                self._say("reusing the running cluster: %s" % self.url)
                return self
        self._check_cache()
        for attempt in (1, 2):
            self._cleanup_stale()
            try:
                self._start(timeout)
                break
            except BaseException as e:
                # the free ports are picked before the processes bind them: another
                # program may take one in between; then once more with new ports
                in_use = isinstance(e, ClusterError) and attempt == 1 and any(
                    "address already in use" in self.read_log(n, 50) for n in STOP_ORDER)
                self._say("start failed%s; logs in %s" % (
                    " (a port was taken; retrying)" if in_use else "", os.path.join(self.run, "logs")))
                if not in_use:
                    self._dump_failure()
                self.stop(keep_logs=True)
                if not in_use:
                    raise
        self.timings["start"] = round(time.time() - t0, 1)
        self.state["phase"] = "running"
        self.state["timings"] = self.timings
        self._save()
        self._say("ready in %.1f s: %s kubeconfig %s" % (self.timings["start"], self.url, self.kubeconfig))
        return self

    def stop(self, keep_logs=False):
        """Stops everything it started and undoes its host changes. Safe to call twice,
        from any process, and after a crash."""
        with _machine_lock(self.run):
            return self._stop_locked(keep_logs)

    def _stop_locked(self, keep_logs):
        t0 = time.time()
        # what is on disk is what runs (maybe started by another process since)
        if os.path.exists(os.path.join(self.run, "state.json")) or not self.state:
            self._load()
        problems = self._teardown()
        logs = os.path.join(self.run, "logs")
        if os.path.isdir(self.run):
            left = _mounts_under([self.run])
            if left:
                problems.append("mounts left under %s: %s" % (self.run, left))
            else:
                for n in os.listdir(self.run):
                    p = os.path.join(self.run, n)
                    if keep_logs and n in ("logs", "state.json"):
                        continue
                    if os.path.isdir(p) and not os.path.islink(p):
                        shutil.rmtree(p, ignore_errors=True)
                    else:
                        os.unlink(p)
                if not keep_logs:
                    shutil.rmtree(self.run, ignore_errors=True)
        if keep_logs and os.path.isdir(logs):
            self.state["phase"] = "stopped"
            if os.path.isdir(self.run):
                self._save()
        self.timings["stop"] = round(time.time() - t0, 1)
        for p in problems:
            self._say("stop: " + p)
        self._say("stopped in %.1f s%s" % (self.timings["stop"], "" if not problems else
                                         " (%d problems)" % len(problems)))
        self._procs = {}
        return problems

    def status(self):
        """dict: per process alive, readyz, node Ready, default ServiceAccount."""
        out = {"run_dir": self.run, "phase": self.state.get("phase"), "processes": {}}
        for name, (pid, st) in sorted(self.state.get("pids", {}).items()):
            out["processes"][name] = {"pid": pid, "alive": _alive(pid, st)}
        if self.port:
            out["url"] = self.url
            out["kubeconfig"] = self.kubeconfig
            try:
                out["readyz"] = self._readyz()
                out["node_ready"] = self._node_ready()
                out["default_sa"] = self._default_sa()
            except Exception as e:  # noqa: BLE001 - report, don't fail
                out["error"] = str(e)
        out["ok"] = bool(out["processes"]) and all(p["alive"] for p in out["processes"].values()) \
            and out.get("readyz") == "ok" and bool(out.get("node_ready")) and bool(out.get("default_sa"))
        return out

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- internals: start ----------------------------------------------------
    def _say(self, msg):
        if self.verbose:
            _say(msg)

    def _check_cache(self):
        need = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet",
                "kube-proxy", "prenv-cri"]
        missing = [b for b in need if not os.access(os.path.join(self.bin, b), os.X_OK)]
        missing += [i for i in IMAGES if not os.path.exists(os.path.join(self.cache, "images", i))]
        if missing or not os.path.exists(os.path.join(self.cache, "stamp")):
            raise ClusterError("cache %s is not built (missing %s): run test/k8s-real/build.sh"
                               % (self.cache, ", ".join(missing) or "stamp"))
        for exe in ("etcd", "containerd", "containerd-shim-runc-v2", "runc", "ctr", "iptables",
                    "ip", "openssl", "conntrack"):
            if not shutil.which(exe):
                raise ClusterError("%s not found: run test/k8s-real/build.sh (installs it)" % exe)

    def _save(self):
        os.makedirs(self.run, exist_ok=True)
        _write(os.path.join(self.run, "state.json"), json.dumps(self.state, indent=1, sort_keys=True))

    def _load(self):
        try:
            with open(os.path.join(self.run, "state.json")) as f:
                self.state = json.load(f)
            return True
        except (OSError, ValueError):
            self.state = {}
            return False

    def _cleanup_stale(self):
        if self._load() or os.path.exists(self.run) or self._host_dirty():
            self._say("cleaning up a previous run (%s)" % (self.state.get("phase") or "no state"))
            problems = RealCluster(self.run, self.cache, verbose=self.verbose).stop()
            if problems:
                raise ClusterError("could not clean up the previous run: %s" % "; ".join(problems))
        self.state = {}

    def _host_dirty(self):
        if os.path.exists("/sys/class/net/" + BRIDGE):
            return True
        return any(os.path.exists("/sys/fs/cgroup/%s/%s" % (h, CGROUP_ROOT))
                   for h in _cgroup_hierarchies())

    def _spawn(self, name, argv, env=None):
        logf = open(self.log_path(name), "ab")
        e = dict(os.environ)
        for k in NO_PROXY_ENV:
            e.pop(k, None)
        e.update(env or {})
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                             cwd=self.run, env=e, start_new_session=True)
        logf.close()
        st = _proc_stat(p.pid)
        self._procs[name] = p
        self.state.setdefault("pids", {})[name] = [p.pid, st[1] if st else None]
        self._save()
        return p

    def _check_running(self, *names):
        for n in names:
            p = self._procs.get(n)
            if p is not None and p.poll() is not None:
                raise ClusterError("%s exited with %s; log %s:\n%s" % (
                    n, p.returncode, self.log_path(n), self.read_log(n, 40)))

    def _wait(self, what, fn, timeout, procs=()):
        t = time.time()
        end = t + timeout
        last = None
        while time.time() < end:
            self._check_running(*procs)
            try:
                v = fn()
                if v:
                    self.timings[what] = round(time.time() - t, 1)
                    return v
            except Exception as e:  # noqa: BLE001 - keep polling
                last = e
            time.sleep(0.2)
        raise ClusterError("timed out after %ds waiting for %s (last error: %s)" % (timeout, what, last))

    def _start(self, timeout):
        deadline = time.time() + timeout
        left = lambda: max(5, deadline - time.time())  # noqa: E731
        r = self.run
        for d in ("pki", "logs", "etcd", "containerd", "cni/net.d", "cni/ipam", "kubelet",
                  "kube-proxy", "config"):
            os.makedirs(os.path.join(r, d), exist_ok=True)
        os.chmod(os.path.join(r, "etcd"), 0o700)
        self.state = {"phase": "starting", "run_dir": r, "cache_dir": self.cache, "pids": {},
                      "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                      "extra_tokens": self.extra_tokens}
        self.state["preexisting"] = {p: sorted(os.listdir(p)) if os.path.isdir(p) else None
                                     for p in FIXED_PATHS + PARENT_PATHS}
        self.state["sysctls"] = {n: _read_sysctl(n) for n in SYSCTLS if _read_sysctl(n) is not None}
        ports = {k: _free_port() for k in ("etcd", "etcd_peer", "apiserver", "kubelet",
                                           "kubelet_healthz", "proxy_healthz", "proxy_metrics")}
        self.state["ports"] = ports
        self.state["token"] = secrets.token_hex(24)
        self._save()

        t = time.time()
        self._pki()
        self.timings["pki"] = round(time.time() - t, 1)
        self._write_configs()

        # etcd and containerd first (independent), the apiserver once etcd answers
        self._spawn("etcd", [
            "etcd", "--name", "prenv", "--data-dir", os.path.join(r, "etcd"),
            "--listen-client-urls", "http://127.0.0.1:%d" % ports["etcd"],
            "--advertise-client-urls", "http://127.0.0.1:%d" % ports["etcd"],
            "--listen-peer-urls", "http://127.0.0.1:%d" % ports["etcd_peer"],
            "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % ports["etcd_peer"],
            "--initial-cluster", "prenv=http://127.0.0.1:%d" % ports["etcd_peer"],
            "--initial-cluster-state", "new", "--log-level", "warn", "--logger", "zap",
            "--snapshot-count", "10000"])
        self._spawn("containerd", ["containerd", "--config", os.path.join(r, "config", "containerd.toml")],
                    env={"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
                         "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
                         "NO_PROXY": "", "no_proxy": ""})
        self._host_network()

        self._wait("etcd", self._etcd_healthy, left(), ["etcd"])
        self._spawn("kube-apiserver", self._apiserver_argv())

        # while the apiserver starts: images into containerd
        self._wait("containerd", lambda: os.path.exists(self.containerd_socket) and
                   self.ctr("version", check=False).returncode == 0, left(), ["containerd"])
        t = time.time()
        imports = [threading.Thread(target=self.import_image,
                                    args=(os.path.join(self.cache, "images", i),)) for i in IMAGES]
        for th in imports:
            th.start()
        for th in imports:
            th.join()
        have = self.ctr("images", "ls", "-q").stdout.split()
        for ref in map(_normalize, IMAGES.values()):
            if ref not in have:
                raise ClusterError("image %s not imported (have %s)" % (ref, have))
        self.timings["images"] = round(time.time() - t, 1)

        self._wait("apiserver", lambda: self._readyz() == "ok", left(), ["etcd", "kube-apiserver"])
        self._spawn("kube-controller-manager", self._controller_manager_argv())
        self._spawn("kube-scheduler", [
            os.path.join(self.bin, "kube-scheduler"),
            "--kubeconfig", os.path.join(r, "config", "scheduler.kubeconfig"),
            "--leader-elect=false", "--port=0", "--secure-port=0", "--v=1"])
        self._spawn("kubelet", self._kubelet_argv())
        self._spawn("kube-proxy", [
            os.path.join(self.bin, "kube-proxy"),
            "--config", os.path.join(r, "config", "kube-proxy.yaml"), "--v=1"])
        everyone = list(self._procs)
        self._wait("node", self._node_ready, left(), everyone)
        self._wait("default_sa", self._default_sa, left(), everyone)
        self._wait("kube-proxy", self._proxy_healthy, left(), everyone)

    def _etcd_healthy(self):
        c = http.client.HTTPConnection("127.0.0.1", self.state["ports"]["etcd"], timeout=2)
        try:
            c.request("GET", "/health")
            return b'"true"' in c.getresponse().read()
        finally:
            c.close()

    def _readyz(self):
        st, _, body = self.api("GET", "/readyz", timeout=3)
        return body if st == 200 else None

    def _node_ready(self):
        st, _, node = self.api("GET", "/api/v1/nodes/" + NODE, timeout=3)
        if st != 200:
            return False
        ready = any(c["type"] == "Ready" and c["status"] == "True"
                    for c in node.get("status", {}).get("conditions", []))
        blocking = [t for t in node.get("spec", {}).get("taints", []) or []
                    if t.get("effect") in ("NoSchedule", "NoExecute")]
        return ready and not blocking

    def _default_sa(self):
        # pods need the SA's token secret (1.20 ServiceAccount admission)
        st, _, sa = self.api("GET", "/api/v1/namespaces/default/serviceaccounts/default", timeout=3)
        return st == 200 and bool(sa.get("secrets"))

    def _proxy_healthy(self):
        c = http.client.HTTPConnection("127.0.0.1", self.state["ports"]["proxy_healthz"], timeout=2)
        try:
            c.request("GET", "/healthz")
            return c.getresponse().status == 200
        finally:
            c.close()

    def _pki(self):
        d = self.certs
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

        def ossl(*a):
            _run(["openssl"] + list(a), cwd=d)

        ossl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "30",
             "-subj", "/CN=prenv-k8s-real-ca", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature")

        def cert(name, subj, ext):
            ossl("req", "-new", *ec, "-keyout", name + ".key", "-out", name + ".csr", "-subj", subj)
            _write(os.path.join(d, name + ".ext"), "basicConstraints=CA:FALSE\n"
                   "keyUsage=critical,digitalSignature,keyEncipherment\n" + ext)
            ossl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-out", name + ".crt",
                 "-days", "30", "-sha256", "-extfile", name + ".ext")
            os.unlink(os.path.join(d, name + ".csr"))
            os.unlink(os.path.join(d, name + ".ext"))

        server_san = "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.96.0.1,DNS:kubernetes," \
            "DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n"
        cert("apiserver", "/CN=kube-apiserver", server_san + "extendedKeyUsage=serverAuth\n")
        cert("apiserver-kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client",
             "extendedKeyUsage=clientAuth\n")
        cert("kubelet", "/CN=" + NODE, "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:%s\n"
             "extendedKeyUsage=serverAuth\n" % NODE)
        cert("kubelet-client", "/O=system:nodes/CN=system:node:" + NODE, "extendedKeyUsage=clientAuth\n")
        # like test/servers/certs.py: an admin client certificate for client_cert=True
        cert("client", "/O=system:masters/CN=prenv-client", "extendedKeyUsage=clientAuth\n")
        ossl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", "sa.key")
        ossl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub")
        for n in os.listdir(d):
            if n.endswith(".key"):
                os.chmod(os.path.join(d, n), 0o600)

    def _component_kubeconfig(self, name, user):
        u = user
        _write(os.path.join(self.run, "config", name + ".kubeconfig"), json.dumps({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "k", "cluster": {"server": self.url, "certificate-authority": self.ca}}],
            "users": [{"name": "u", "user": u}],
            "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
            "current-context": "c"}, indent=1), 0o600)

    def _write_configs(self):
        r, p = self.run, self.state["ports"]
        toks = {"controller-manager": secrets.token_hex(24), "scheduler": secrets.token_hex(24),
                "kube-proxy": secrets.token_hex(24)}
        lines = ['%s,prenv-admin,prenv-admin,"system:masters"' % self.token,
                 "%s,system:kube-controller-manager,system:kube-controller-manager" % toks["controller-manager"],
                 "%s,system:kube-scheduler,system:kube-scheduler" % toks["scheduler"],
                 "%s,system:kube-proxy,system:kube-proxy" % toks["kube-proxy"]]
        for i, t in enumerate(self.extra_tokens):
            if isinstance(t, str):
                lines.append('%s,prenv-admin-%d,prenv-admin-%d,"system:masters"' % (t, i, i))
            else:
                tok, user = t[0], t[1]
                groups = list(t[2]) if len(t) > 2 else []
                lines.append("%s,%s,%s" % (tok, user, user) +
                             (',"%s"' % ",".join(groups) if groups else ""))
        _write(os.path.join(r, "config", "tokens.csv"), "\n".join(lines) + "\n", 0o600)
        _write(os.path.join(r, "config", "audit-policy.yaml"), AUDIT_POLICY, 0o600)
        self._component_kubeconfig("controller-manager", {"token": toks["controller-manager"]})
        self._component_kubeconfig("scheduler", {"token": toks["scheduler"]})
        self._component_kubeconfig("kube-proxy", {"token": toks["kube-proxy"]})
        self._component_kubeconfig("kubelet", {
            "client-certificate": os.path.join(self.certs, "kubelet-client.crt"),
            "client-key": os.path.join(self.certs, "kubelet-client.key")})
        self.write_kubeconfig(self.kubeconfig)

        ctd = os.path.join(r, "containerd")
        _write(os.path.join(r, "config", "containerd.toml"), CONTAINERD_TOML % {
            "root": os.path.join(ctd, "root"), "state": os.path.join(ctd, "state"),
            "sock": self.containerd_socket, "opt": os.path.join(ctd, "opt"),
            "runc_root": os.path.join(ctd, "runc"), "pause": PAUSE_REF,
            "cni_conf": os.path.join(r, "cni", "net.d")})
        _write(os.path.join(r, "cni", "net.d", "10-prenv.conflist"), json.dumps({
            "cniVersion": "0.4.0", "name": CNI_NET, "plugins": [{
                "type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False,
                "hairpinMode": True,
                "ipam": {"type": "host-local", "dataDir": os.path.join(r, "cni", "ipam"),
                         "ranges": [[{"subnet": POD_CIDR, "gateway": BRIDGE_ADDR.split("/")[0]}]],
                         "routes": [{"dst": "0.0.0.0/0"}]}}]}, indent=1))
        _write(os.path.join(r, "config", "resolv.conf"),
               "# prenv k8s-real: no cluster DNS; nothing answers here\nnameserver 127.0.0.1\n")
        kl = os.path.join(r, "kubelet")
        _write(os.path.join(r, "config", "kubelet.yaml"), json.dumps({
            "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
            "address": "127.0.0.1", "port": p["kubelet"], "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1", "healthzPort": p["kubelet_healthz"],
            "tlsCertFile": os.path.join(self.certs, "kubelet.crt"),
            "tlsPrivateKeyFile": os.path.join(self.certs, "kubelet.key"),
            "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                               "x509": {"clientCAFile": self.ca}},
            "authorization": {"mode": "Webhook"},
            "cgroupDriver": "cgroupfs", "cgroupRoot": "/" + CGROUP_ROOT, "cgroupsPerQOS": True,
            # no cluster DNS; a nameserver that refuses at once (the pod's own loopback)
            # instead of a MissingClusterDNS warning event on every pod
            "clusterDNS": ["127.0.0.1"],
            "clusterDomain": "cluster.local", "resolvConf": os.path.join(r, "config", "resolv.conf"),
            "evictionHard": {"memory.available": "50Mi", "nodefs.available": "1%",
                             "nodefs.inodesFree": "1%", "imagefs.available": "1%"},
            "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
            "imageMinimumGCAge": "1000h",
            "makeIPTablesUtilChains": False, "failSwapOn": False, "protectKernelDefaults": False,
            "serializeImagePulls": False, "rotateCertificates": False, "serverTLSBootstrap": False,
            "volumePluginDir": os.path.join(kl, "volume-plugins"),
            "nodeStatusUpdateFrequency": "4s", "syncFrequency": "10s",
            "fileCheckFrequency": "20s", "runtimeRequestTimeout": "2m",
            "staticPodPath": "", "enableControllerAttachDetach": True,
        }, indent=1))
        _write(os.path.join(r, "config", "kube-proxy.yaml"), json.dumps({
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
            "bindAddress": "127.0.0.1", "clusterCIDR": POD_CIDR, "hostnameOverride": NODE,
            "clientConnection": {"kubeconfig": os.path.join(r, "config", "kube-proxy.kubeconfig")},
            "healthzBindAddress": "127.0.0.1:%d" % p["proxy_healthz"],
            "metricsBindAddress": "127.0.0.1:%d" % p["proxy_metrics"],
            "mode": "iptables",
            # leave the host's conntrack sysctls alone
            "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s",
                          "tcpCloseWaitTimeout": "0s"},
            "iptables": {"syncPeriod": "10s", "minSyncPeriod": "0s", "masqueradeAll": False},
        }, indent=1))

    def _apiserver_argv(self):
        c, p = self.certs, self.state["ports"]
        return [os.path.join(self.bin, "kube-apiserver"),
                "--etcd-servers=http://127.0.0.1:%d" % p["etcd"],
                "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
                "--secure-port=%d" % p["apiserver"], "--insecure-port=0",
                "--cert-dir=" + c,
                "--tls-cert-file=" + os.path.join(c, "apiserver.crt"),
                "--tls-private-key-file=" + os.path.join(c, "apiserver.key"),
                "--client-ca-file=" + self.ca,
                "--token-auth-file=" + os.path.join(self.run, "config", "tokens.csv"),
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",
                "--service-account-key-file=" + os.path.join(c, "sa.pub"),
                "--service-account-signing-key-file=" + os.path.join(c, "sa.key"),
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                "--service-cluster-ip-range=" + SVC_CIDR,
                "--endpoint-reconciler-type=none",
                "--kubelet-client-certificate=" + os.path.join(c, "apiserver-kubelet-client.crt"),
                "--kubelet-client-key=" + os.path.join(c, "apiserver-kubelet-client.key"),
                "--kubelet-certificate-authority=" + self.ca,
                "--kubelet-preferred-address-types=InternalIP",
                "--audit-policy-file=" + os.path.join(self.run, "config", "audit-policy.yaml"),
                "--audit-log-path=" + self.audit_log, "--audit-log-maxsize=4000",
                "--audit-log-mode=blocking",
                "--allow-privileged=true", "--profiling=false", "--v=1"]

    def _controller_manager_argv(self):
        c = self.certs
        return [os.path.join(self.bin, "kube-controller-manager"),
                "--kubeconfig=" + os.path.join(self.run, "config", "controller-manager.kubeconfig"),
                "--service-account-private-key-file=" + os.path.join(c, "sa.key"),
                "--root-ca-file=" + self.ca,
                "--use-service-account-credentials=true",
                "--cluster-signing-cert-file=" + self.ca,
                "--cluster-signing-key-file=" + os.path.join(c, "ca.key"),
                "--service-cluster-ip-range=" + SVC_CIDR,
                "--allocate-node-cidrs=false", "--leader-elect=false",
                "--port=0", "--secure-port=0", "--profiling=false", "--v=1"]

    def _kubelet_argv(self):
        kl = os.path.join(self.run, "kubelet")
        return [os.path.join(self.bin, "kubelet"),
                "--config=" + os.path.join(self.run, "config", "kubelet.yaml"),
                "--kubeconfig=" + os.path.join(self.run, "config", "kubelet.kubeconfig"),
                "--container-runtime=remote",
                "--container-runtime-endpoint=unix://" + self.containerd_socket,
                "--image-service-endpoint=unix://" + self.containerd_socket,
                "--pod-infra-container-image=" + PAUSE_REF,
                "--node-ip=127.0.0.1", "--hostname-override=" + NODE,
                "--root-dir=" + kl, "--cert-dir=" + os.path.join(kl, "pki"),
                "--v=2"]

    def _host_network(self):
        """The bridge (so the Service route can point at it), the route, the FORWARD rule,
        the kubelet's cgroup root. Recorded in state.json as soon as done."""
        host = self.state.setdefault("host", {})
        if not os.path.exists("/sys/class/net/" + BRIDGE):
            _run(["ip", "link", "add", BRIDGE, "type", "bridge"])
        host["bridge"] = True
        self._save()
        _run(["ip", "addr", "replace", BRIDGE_ADDR, "dev", BRIDGE])
        _run(["ip", "link", "set", BRIDGE, "up"])
        _run(["ip", "route", "replace", SVC_CIDR, "dev", BRIDGE, "src", BRIDGE_ADDR.split("/")[0]])
        host["route"] = True
        self._save()
        if _run(["iptables", "-C"] + FWD_RULE, check=False).returncode != 0:
            _run(["iptables", "-I"] + FWD_RULE[:1] + ["1"] + FWD_RULE[1:])
        host["forward_rule"] = True
        self._save()
        for h in _cgroup_hierarchies():
            d = "/sys/fs/cgroup/%s/%s" % (h, CGROUP_ROOT)
            os.makedirs(d, exist_ok=True)
            if h == "cpuset":
                for f in ("cpuset.cpus", "cpuset.mems"):
                    with open("/sys/fs/cgroup/cpuset/" + f) as src:
                        v = src.read().strip()
                    with open(os.path.join(d, f), "w") as dst:
                        dst.write(v)
        host["cgroups"] = True
        self._save()

    def _dump_failure(self):
        for n in ("kubelet", "containerd", "kube-apiserver", "kube-controller-manager", "etcd"):
            txt = self.read_log(n, 15)
            if txt:
                _say("---- last lines of %s ----\n%s" % (self.log_path(n), txt.rstrip()))

    # ---- internals: stop ----------------------------------------------------
    def _stop_pid(self, name, pid, start, timeout=15):
        if not _alive(pid, start):
            return True
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return True
        end = time.time() + timeout
        while time.time() < end:
            p = self._procs.get(name)
            if p is not None:
                try:
                    p.wait(0.1)
                except subprocess.TimeoutExpired:
                    pass
            else:
                time.sleep(0.1)
            if not _alive(pid, start):
                return True
        self._say("%s (pid %d) ignored SIGTERM, SIGKILL" % (name, pid))
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return True
        for _ in range(50):
            if self._procs.get(name) is not None:
                try:
                    self._procs[name].wait(0.1)
                except subprocess.TimeoutExpired:
                    pass
            else:
                time.sleep(0.1)
            if not _alive(pid, start):
                return True
        return False

    def _shims(self):
        """Live processes naming this cluster's containerd socket as an argument: its
        shims (also the short `... delete` clean-up runs containerd starts), ctr."""
        sock = self.containerd_socket.encode()
        out = []
        for d in os.listdir("/proc"):
            if d.isdigit() and sock in _cmdline(int(d)):
                st = _proc_stat(int(d))
                if st and st[0] not in ("Z", "X"):
                    out.append(int(d))
        return out

    def _wait_no_shims(self, timeout):
        end = time.time() + timeout
        while time.time() < end:
            if not self._shims():
                return True
            time.sleep(0.1)
        return not self._shims()

    def _teardown(self):
        problems = []
        pids = self.state.get("pids", {})
        ctd_alive = "containerd" in pids and _alive(*pids["containerd"])
        # 1. kubelet, so that it does not restart what we stop
        if "kubelet" in pids and not self._stop_pid("kubelet", *pids["kubelet"]):
            problems.append("kubelet did not stop")
        # 2. every pod sandbox through the CRI (kills containers, CNI DEL, netns)
        if ctd_alive and os.access(os.path.join(self.bin, "prenv-cri"), os.X_OK):
            r = _run([os.path.join(self.bin, "prenv-cri"), "-endpoint",
                      "unix://" + self.containerd_socket, "-timeout", "60s", "stop-all"], check=False)
            if r.returncode != 0:
                problems.append("CRI stop-all: " + (r.stderr or r.stdout).strip()[-500:])
            # the shims exit on their own once their sandbox is removed; let containerd
            # finish its clean-up runs before it is stopped
            self._wait_no_shims(5)
        # 3. containerd and the rest, in order
        for name in STOP_ORDER:
            if name in pids and name != "kubelet":
                if not self._stop_pid(name, *pids[name]):
                    problems.append("%s (pid %d) did not stop" % (name, pids[name][0]))
        # 4. shims (and their containers) still running for our socket: only after a crash
        if not self._wait_no_shims(1):
            kids = _children_map()
            for shim in self._shims():
                victims = _descendants(shim, kids)
                self._say("killing leftover %s (pid %d) and its %d processes" % (
                    os.path.basename(_cmdline(shim)[0]).decode(errors="replace"), shim, len(victims)))
                for v in victims + [shim]:
                    try:
                        os.kill(v, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            if not self._wait_no_shims(10):
                problems.append("containerd shims left: %s" % self._shims())
        # 5. host state
        problems += self._host_cleanup()
        return problems

    def _host_cleanup(self):
        problems = []
        pre = self.state.get("preexisting", {})
        # mounts: our run dir (rootfs, shm, secrets) and the sandbox network namespaces
        netns_pre = set(pre.get("/run/netns") or [])
        ns_mounts = [m for m in _mounts_under(["/var/run/netns", "/run/netns"])
                     if os.path.basename(m).startswith("cni-") and os.path.basename(m) not in netns_pre]
        for m in sorted(set(_mounts_under([self.run]) + ns_mounts), key=len, reverse=True):
            if _run(["umount", m], check=False).returncode != 0:
                _run(["umount", "-l", m], check=False)
        # iptables: the FORWARD rule, kube-proxy's and kubelet's KUBE-* chains
        while _run(["iptables", "-D"] + FWD_RULE, check=False).returncode == 0:
            pass
        for tool in ("iptables", "ip6tables"):
            problems += _drop_kube_chains(tool)
        # the bridge (and the route through it)
        _run(["ip", "route", "del", SVC_CIDR, "dev", BRIDGE], check=False)
        if os.path.exists("/sys/class/net/" + BRIDGE):
            _run(["ip", "link", "del", BRIDGE], check=False)
            if os.path.exists("/sys/class/net/" + BRIDGE):
                problems.append("bridge %s still there" % BRIDGE)
        # leftover veths of ours (after a crash): peers of the bridge are gone with it
        # sysctls back as they were
        for n, v in self.state.get("sysctls", {}).items():
            if _read_sysctl(n) != v and not _write_sysctl(n, v):
                problems.append("cannot restore sysctl %s=%s" % (n, v))
        # fixed host paths: what this run created there (listed before it started)
        for p in FIXED_PATHS + PARENT_PATHS:
            if not os.path.isdir(p):
                continue
            if p == "/var/lib/cni/results":  # libcni's cache: file names start with the network
                for n in os.listdir(p):
                    if n.startswith(CNI_NET + "-"):
                        _rm(os.path.join(p, n))
            if p not in pre:
                continue  # no record (no state): leave it
            if pre[p] is None:
                if p in PARENT_PATHS:
                    if not os.listdir(p):
                        os.rmdir(p)
                else:
                    shutil.rmtree(p, ignore_errors=True)
            else:
                for n in set(os.listdir(p)) - set(pre[p]):
                    if p not in PARENT_PATHS:
                        _rm(os.path.join(p, n))
        # cgroups: our root, bottom up (empty once every process is gone)
        for h in _cgroup_hierarchies():
            top = "/sys/fs/cgroup/%s/%s" % (h, CGROUP_ROOT)
            if not os.path.isdir(top):
                continue
            for dirpath, dirnames, _ in sorted(os.walk(top), key=lambda x: -len(x[0])):
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass
            if os.path.isdir(top):
                problems.append("cgroup %s not removable (processes left?)" % top)
        return problems


def _ensure_sbin_path():
    """containerd finds runc, kubelet iptables, kube-proxy conntrack through PATH,
    which may lack the sbin directories (e.g. under make)."""
    parts = os.environ.get("PATH", "").split(":")
    for d in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        if d not in parts:
            parts.append(d)
    os.environ["PATH"] = ":".join(p for p in parts if p)


def _rm(p):
    if os.path.isdir(p) and not os.path.islink(p):
        shutil.rmtree(p, ignore_errors=True)
    else:
        try:
            os.unlink(p)
        except OSError:
            pass


def _cgroup_hierarchies():
    out = []
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                dev, mp, fstype = line.split()[:3]
                if fstype in ("cgroup", "cgroup2") and mp.startswith("/sys/fs/cgroup/"):
                    out.append(mp[len("/sys/fs/cgroup/"):])
    except OSError:
        pass
    return out


def _drop_kube_chains(tool):
    """Removes KUBE-* chains (kube-proxy's, the kubelet's canaries) and the rules
    jumping to them, in every table."""
    import shlex
    problems = []
    if not shutil.which(tool):
        return problems
    for table in ("filter", "nat", "mangle"):
        r = _run([tool + "-save", "-t", table], check=False)
        if r.returncode != 0:
            continue
        chains = [ln[1:].split()[0] for ln in r.stdout.splitlines()
                  if ln.startswith(":KUBE-")]
        if not chains:
            continue
        for ln in r.stdout.splitlines():
            if ln.startswith("-A ") and not ln.split()[1].startswith("KUBE-") and \
                    any(("-j " + c) in ln or ("-g " + c) in ln for c in chains):
                args = shlex.split(ln)[1:]
                _run([tool, "-t", table, "-D"] + args, check=False)
        for c in chains:
            _run([tool, "-t", table, "-F", c], check=False)
        for c in chains:
            if _run([tool, "-t", table, "-X", c], check=False).returncode != 0:
                problems.append("%s -t %s: chain %s not removable" % (tool, table, c))
    return problems


def _normalize(ref):
    """busybox:local -> docker.io/library/busybox:local (how containerd names images)."""
    name = ref
    first = name.split("/")[0]
    if "/" not in name:
        name = "docker.io/library/" + name
    elif "." not in first and ":" not in first and first != "localhost":
        name = "docker.io/" + name
    if ":" not in name.rsplit("/", 1)[-1] and "@" not in name:
        name += ":latest"
    return name


CONTAINERD_TOML = """version = 2
root = "%(root)s"
state = "%(state)s"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "%(sock)s"

[ttrpc]
  address = "%(sock)s.ttrpc"

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "%(opt)s"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "%(pause)s"
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  enable_selinux = false
  max_container_log_line_size = 16384

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "runc"
        Root = "%(runc_root)s"

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "%(cni_conf)s"
    max_conf_num = 1
"""


def main():
    ap = argparse.ArgumentParser(description="A real single-node Kubernetes for prenv's tests")
    ap.add_argument("command", choices=["start", "stop", "status", "env"])
    ap.add_argument("--run-dir", default=None, help="default $PRENV_K8S_REAL_RUN or /run/prenv-k8s-real")
    ap.add_argument("--cache-dir", default=None, help="default $PRENV_CACHE_DIR/k8s-real")
    ap.add_argument("--timeout", type=float, default=240)
    a = ap.parse_args()
    c = RealCluster(a.run_dir, a.cache_dir)
    if a.command == "start":
        try:
            c.start(a.timeout)
        except ClusterError as e:
            _say("ERROR: %s" % e)
            return 1
        print(json.dumps({"kubeconfig": c.kubeconfig, "url": c.url, "ca": c.ca,
                          "timings": c.timings}, indent=1))
        return 0
    if a.command == "stop":
        return 1 if c.stop() else 0
    if a.command == "status":
        c._load()
        if not c.state:
            print(json.dumps({"run_dir": c.run, "phase": None, "ok": False}))
            return 3
        s = c.status()
        print(json.dumps(s, indent=1))
        return 0 if s["ok"] else 1
    if a.command == "env":
        if not c._load() or c.state.get("phase") != "running":
            _say("no running cluster in %s" % c.run)
            return 3
        for k, v in (("PRENV_K8S_REAL_KUBECONFIG", c.kubeconfig), ("PRENV_K8S_REAL_URL", c.url),
                     ("PRENV_K8S_REAL_TOKEN", c.token), ("PRENV_K8S_REAL_CA", c.ca),
                     ("PRENV_K8S_REAL_RUN", c.run), ("KUBECONFIG", c.kubeconfig)):
            print("export %s=%s" % (k, shlex_quote(v)))
        return 0
    return 2


def shlex_quote(s):
    import shlex
    return shlex.quote(str(s))


if __name__ == "__main__":
    sys.exit(main())
