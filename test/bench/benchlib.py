"""Tiny benchmark helpers: run a command several times, report median wall
time and peak RSS of the child (from wait4's rusage)."""
import os
import statistics
import subprocess
import time


def run_once(argv, stdin_path=None, stdout_path=os.devnull, env=None, cwd=None):
    fin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    fout = open(stdout_path, "wb")
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdin=fin, stdout=fout, stderr=subprocess.PIPE, env=env, cwd=cwd)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if stdin_path:
        fin.close()
    fout.close()
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (argv[0], p.returncode, err.decode()[-2000:]))
    return wall, ru.ru_maxrss  # seconds, KiB


def measure(argv, runs=5, **kw):
    walls, rss = [], []
    for _ in range(runs):
        w, r = run_once(argv, **kw)
        walls.append(w)
        rss.append(r)
    return statistics.median(walls), max(rss)
