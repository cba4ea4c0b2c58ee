"""Tiny benchmark helpers: run a command several times, report median wall
time and peak RSS of the command.

Peak RSS comes from GNU time (%M), not from this process's wait4(): a child
forked from Python carries Python's resident pages until it execs, and the
kernel counts them in its high-water mark, which would hide a small tool's
real figure under ~13 MiB of Python."""
import os
import statistics
import subprocess
import tempfile
import time


def run_once(argv, stdin_path=None, stdout_path=os.devnull, env=None, cwd=None):
    wall, rss, _ = run_once_err(argv, stdin_path, stdout_path, env, cwd)
    return wall, rss


def run_once_err(argv, stdin_path=None, stdout_path=os.devnull, env=None, cwd=None):
    """run_once, and the command's stderr (text) as well."""
    fin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    fout = open(stdout_path, "wb")
    fd, rss_file = tempfile.mkstemp(prefix="prenv-bench-rss-")
    os.close(fd)
    try:
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + list(argv),
                           stdin=fin, stdout=fout, stderr=subprocess.PIPE, env=env, cwd=cwd)
        wall = time.perf_counter() - t0
        with open(rss_file) as f:
            lines = [l for l in f.read().split() if l.isdigit()]
    finally:
        os.unlink(rss_file)
        if stdin_path:
            fin.close()
        fout.close()
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (argv[0], p.returncode, p.stderr.decode()[-2000:]))
    return wall, int(lines[-1]), p.stderr.decode(errors="replace")  # seconds, KiB, stderr


def measure(argv, runs=5, **kw):
    walls, rss = [], []
    for _ in range(runs):
        w, r = run_once(argv, **kw)
        walls.append(w)
        rss.append(r)
    return statistics.median(walls), max(rss)
