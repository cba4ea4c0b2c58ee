"""Test PKI made with the openssl CLI at test time (no key is ever committed).

make_pki(dir) creates, unless already there:
  ca.crt / ca.key          the cluster CA (signs the server and the client certs)
  server.crt / server.key  for 127.0.0.1 and localhost (subjectAltName)
  client.crt / client.key  a client certificate, CN=prenv-client, O=system:masters
Returns a dict of absolute paths.
"""
import os
import subprocess
import tempfile

_EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _run(args, cwd):
    subprocess.run(["openssl"] + args, cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_cert(d, name, subj, ca="ca", ext=""):
    """Key + certificate <name>.key/.crt signed by <ca>.crt/.key in directory d."""
    _run(["req", "-new"] + _EC + ["-keyout", name + ".key", "-out", name + ".csr",
                                  "-subj", subj], d)
    extfile = os.path.join(d, name + ".ext")
    with open(extfile, "w") as f:
        f.write("basicConstraints=CA:FALSE\n" + ext)
    _run(["x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
          "-CAcreateserial", "-out", name + ".crt", "-days", "2", "-sha256",
          "-extfile", extfile], d)
    os.unlink(os.path.join(d, name + ".csr"))
    os.unlink(extfile)
    os.chmod(os.path.join(d, name + ".key"), 0o600)


def make_ca(d, name="ca", cn="prenv-test-ca"):
    _run(["req", "-x509"] + _EC + ["-keyout", name + ".key", "-out", name + ".crt",
                                   "-days", "2", "-subj", "/CN=" + cn,
                                   "-addext", "basicConstraints=critical,CA:TRUE",
                                   "-addext", "keyUsage=critical,keyCertSign,cRLSign"], d)
    os.chmod(os.path.join(d, name + ".key"), 0o600)


def make_pki(d=None):
    d = os.path.abspath(d or tempfile.mkdtemp(prefix="k8s-pki-"))
    os.makedirs(d, exist_ok=True)
    p = lambda n: os.path.join(d, n)  # noqa: E731
    if not (os.path.exists(p("ca.crt")) and os.path.exists(p("ca.key"))):
        make_ca(d)
    if not os.path.exists(p("server.crt")):
        make_cert(d, "server", "/CN=127.0.0.1",
                  ext="subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    if not os.path.exists(p("client.crt")):
        make_cert(d, "client", "/O=system:masters/CN=prenv-client",
                  ext="extendedKeyUsage=clientAuth\n")
    return {"dir": d, "ca": p("ca.crt"), "ca_key": p("ca.key"),
            "server_cert": p("server.crt"), "server_key": p("server.key"),
            "client_cert": p("client.crt"), "client_key": p("client.key")}
