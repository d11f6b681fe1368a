#!/usr/bin/env python3
"""How many students one machine holds: N kernels started at once, each running a model lesson to the end.

For each lesson (``--lesson``, repeatable; default 04-16 and 04-19) and each N (``--counts``, default
1,5,10,20), N driver processes start at the same moment; each starts its own ``jbert`` kernel (nbclient)
and runs every cell, as N students pressing "Run All" together. All kernels read one stand-in from a
shared ``JBERT_CACHE_DIR`` prepared once (the recipe of docs/teachers.md; the kernels run as the
caller, the OS users and the read-only check are ``make hub-check``'s) with the lessons'
fixed environment (``NOTEBOOK_ENV``: CPU, ``HF_HUB_OFFLINE=1``). While they run, a sampler reads every
kernel's ``/proc/<pid>/smaps_rollup`` every ``--interval`` s, and ``/proc/<pid>/smaps`` for the
weights file's mapping. When every student has finished, the kernels stay alive (idle, as in class) for
one last measurement, then stop. Reported per N:

* wall time per student: from starting the kernel to the end of the last cell (median / max);
* peak total memory: the largest sum of PSS (proportional set size: shared pages divided among the
  processes sharing them, so the sum is what they cost together) over the kernels and the processes they
  start (04-19 measures memory in subprocesses that load the model), and
  the drop of MemAvailable over the run (the system's view, includes the drivers);
* per kernel (at the idle end, median): RSS, PSS, private (Private_Clean + Private_Dirty), Shared_Clean;
* the weights: the mapping of ``pytorch_model.bin`` in each kernel — its RSS, PSS and Shared_Clean;
  "shared" means each kernel's PSS of the mapping is about RSS / N (the pages exist once);
* the load average (1 min) at the end of the N run.

Also one idle Jupyter server (``jupyter server``, what ``jupyterhub-singleuser`` runs) for its memory.

Usage: ``.venv/bin/python scripts/classroom_benchmark.py [--lesson 04-19_no_grad.ipynb] [--counts 1,5,10,20]
[--json artifacts/classroom-benchmark.json]``. It saturates the machine: run it alone. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = ROOT / ".venv" / "bin" / "python"
KIB = 1024
FIELDS = ("Rss", "Pss", "Private_Clean", "Private_Dirty", "Shared_Clean", "Shared_Dirty")
WEIGHTS = ("/pytorch_model.bin", "/model.safetensors")

DRIVER = r"""
import json, os, sys, time
from pathlib import Path
import nbformat
from nbclient import NotebookClient

lesson, workdir, release = sys.argv[1], sys.argv[2], Path(sys.argv[3])
nb = nbformat.read(lesson, as_version=4)
client = NotebookClient(nb, kernel_name="jbert", timeout=900, startup_timeout=600,
                        resources={"metadata": {"path": workdir}})
t0 = time.monotonic()
with client.setup_kernel(env=dict(os.environ), cwd=workdir):
    pid = client.km.provisioner.pid
    print(json.dumps({"event": "kernel", "pid": pid, "t": time.monotonic() - t0}), flush=True)
    t1 = time.monotonic()
    for index, cell in enumerate(nb.cells):
        client.execute_cell(cell, index)
    done = time.monotonic()
    print(json.dumps({"event": "done", "pid": pid, "wall": done - t0, "cells": done - t1}), flush=True)
    deadline = time.monotonic() + 900
    while not release.exists() and time.monotonic() < deadline:  # stay alive (idle) until measured
        time.sleep(0.2)
"""


def read_rollup(pid: int) -> dict[str, int] | None:
    """kB values of /proc/<pid>/smaps_rollup (None if the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in FIELDS:
            out[name] = int(rest.split()[0])
    return out


def read_weights(pid: int) -> dict[str, int] | None:
    """kB values of the weights file's mapping(s) in /proc/<pid>/smaps, summed (None: not mapped)."""
    try:
        text = Path(f"/proc/{pid}/smaps").read_text()
    except OSError:
        return None
    total: dict[str, int] | None = None
    current = False
    for line in text.splitlines():
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            current = line.rstrip().endswith(WEIGHTS)
            if current and total is None:
                total = dict.fromkeys(FIELDS, 0)
        elif current and total is not None:
            name, _, rest = line.partition(":")
            if name in FIELDS:
                total[name] += int(rest.split()[0])
    return total


def with_descendants(roots: set[int]) -> dict[int, int]:
    """Every live process in the trees of ``roots``: pid -> its root (04-19 measures in subprocesses)."""
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    out = {}
    for pid in parent:
        p, seen = pid, 0
        while p in parent and p not in roots and seen < 64:
            p, seen = parent[p], seen + 1
        if p in roots:
            out[pid] = p
    return out


def mem_available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    raise RuntimeError("no MemAvailable in /proc/meminfo")


class Sampler(threading.Thread):
    """Samples every known kernel's smaps_rollup (and weights mapping) until stopped."""

    def __init__(self, interval: float, floor_kb: int) -> None:
        super().__init__(daemon=True)
        self.floor_kb, self.low_memory = floor_kb, threading.Event()
        self.interval, self.pids, self.stop_flag = interval, set(), threading.Event()
        self.peak_total_pss = 0
        self.peak: dict[int, dict[str, int]] = {}
        self.weights_peak: dict[int, dict[str, int]] = {}
        self.min_available = mem_available()
        self.samples = 0
        self.children_seen: set[int] = set()

    def run(self) -> None:
        tick = 0
        while not self.stop_flag.is_set():
            total = 0
            for pid, root in with_descendants(set(self.pids)).items():
                roll = read_rollup(pid)
                if roll is None:
                    continue
                total += roll["Pss"]
                if pid != root:
                    self.children_seen.add(pid)
                    continue
                peak = self.peak.setdefault(pid, dict.fromkeys(FIELDS, 0))
                for k, v in roll.items():
                    peak[k] = max(peak[k], v)
                if tick % 4 == 0:
                    w = read_weights(pid)
                    if w is not None:
                        wp = self.weights_peak.setdefault(pid, dict.fromkeys(FIELDS, 0))
                        for k, v in w.items():
                            wp[k] = max(wp[k], v)
            self.peak_total_pss = max(self.peak_total_pss, total)
            available = mem_available()
            self.min_available = min(self.min_available, available)
            if available < self.floor_kb:
                self.low_memory.set()
            self.samples += 1
            tick += 1
            self.stop_flag.wait(self.interval)


def mib(kb: float) -> float:
    return kb / KIB


def kill_trees(pids: list[int]) -> None:
    """SIGKILL the given processes (this script's drivers) and everything they started (their kernels)."""
    for pid in with_descendants(set(pids)):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_n(lesson: Path, n: int, env: dict[str, str], interval: float, timeout: float, floor_mib: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"jbert-class-{n}-"))
    release = work / "release"
    sampler = Sampler(interval, floor_mib * KIB)
    available_before = mem_available()
    sampler.start()
    procs = []
    t0 = time.monotonic()
    try:
        for i in range(n):
            home = work / f"student{i:02d}"
            home.mkdir()
            shutil.copy2(lesson, home / lesson.name)
            student_env = dict(env, IPYTHONDIR=str(home / ".ipython"))  # one history database per student
            procs.append(
                subprocess.Popen(
                    [str(PY), "-c", DRIVER, str(home / lesson.name), str(home), str(release)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                    env=student_env,
                    cwd=home,
                )
            )
        results: list[dict] = [{} for _ in procs]

        def reader(i: int) -> None:
            for line in procs[i].stdout:
                if line.startswith("{"):
                    event = json.loads(line)
                    results[i][event["event"]] = event
                    sampler.pids.add(event["pid"])

        readers = [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(n)]
        for r in readers:
            r.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(
            "done" in r or p.poll() is not None for r, p in zip(results, procs, strict=True)
        ):
            if sampler.low_memory.wait(0.5):  # the machine is running out: stop before anything else suffers
                kill_trees([p.pid for p in procs])
                break
        all_done = time.monotonic() - t0
        failed = sum(1 for r in results if "done" not in r)
        time.sleep(max(2 * interval, 1.0))  # a few samples of N idle kernels that have finished
        idle = {pid: read_rollup(pid) for pid in sampler.pids}
        idle_weights = {pid: read_weights(pid) for pid in sampler.pids}
        load = os.getloadavg()[0]
    finally:
        release.touch()
        for p in procs:
            try:
                p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                p.kill()
        sampler.stop_flag.set()
        sampler.join(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    walls = [r["done"]["wall"] for r in results if "done" in r]
    idle_rolls = [v for v in idle.values() if v]
    weights = [v for v in idle_weights.values() if v]

    def med(values: list[float]) -> float | None:
        return statistics.median(values) if values else None

    per_kernel = {
        "rss_mib": med([mib(v["Rss"]) for v in idle_rolls]),
        "pss_mib": med([mib(v["Pss"]) for v in idle_rolls]),
        "private_mib": med([mib(v["Private_Clean"] + v["Private_Dirty"]) for v in idle_rolls]),
        "shared_clean_mib": med([mib(v["Shared_Clean"]) for v in idle_rolls]),
        "peak_rss_mib": med([mib(v["Rss"]) for v in sampler.peak.values()]),
    }
    w = {
        "rss_mib": med([mib(v["Rss"]) for v in weights]),
        "pss_mib": med([mib(v["Pss"]) for v in weights]),
        "shared_clean_mib": med([mib(v["Shared_Clean"]) for v in weights]),
        "private_mib": med([mib(v["Private_Clean"] + v["Private_Dirty"]) for v in weights]),
        "kernels_mapping_it": len(weights),
    }
    shared = None
    if weights and n > 1 and w["rss_mib"]:
        shared = w["pss_mib"] <= w["rss_mib"] / n * 1.2 and w["shared_clean_mib"] >= 0.8 * w["rss_mib"]
    return {
        "n": n,
        "finished": n - failed,
        "stopped_low_memory": sampler.low_memory.is_set(),
        "wall_median_s": med(walls),
        "wall_max_s": max(walls) if walls else None,
        "all_done_s": all_done,
        "peak_total_pss_mib": mib(sampler.peak_total_pss),
        "idle_total_pss_mib": mib(sum(v["Pss"] for v in idle_rolls)),
        "mem_available_drop_mib": mib(available_before - sampler.min_available),
        "per_kernel_idle": per_kernel,
        "weights_mapping": w,
        "weights_shared": shared,
        "load_1min": load,
        "samples": sampler.samples,
        "subprocesses_seen": len(sampler.children_seen),
    }


def jupyter_server_memory(env: dict[str, str]) -> float | None:
    """PSS (MiB) of one idle ``jupyter server`` (what each student's jupyterhub-singleuser is)."""
    work = Path(tempfile.mkdtemp(prefix="jbert-server-"))
    proc = subprocess.Popen(
        [
            str(PY),
            "-m",
            "jupyter",
            "server",
            "--no-browser",
            "--ip=127.0.0.1",
            "--port=0",
            f"--ServerApp.root_dir={work}",
        ]
        + (["--allow-root"] if os.geteuid() == 0 else []),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env, HOME=str(work), JUPYTER_RUNTIME_DIR=str(work / "runtime")),
    )
    try:
        deadline = time.monotonic() + 120
        for line in proc.stderr:
            if "http://127.0.0.1" in line or time.monotonic() > deadline:
                break
        time.sleep(2)
        roll = read_rollup(proc.pid)
        return mib(roll["Pss"]) if roll else None
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


def fmt(v: float | None, spec: str = ".0f") -> str:
    return "-" if v is None else format(v, spec)


def table(results: list[dict]) -> str:
    head = (
        "| lesson | N | finished | wall/student median (max) s | peak total PSS MiB | MemAvailable drop MiB | "
        "per kernel RSS / PSS / private / shared-clean MiB | weights mapping RSS / PSS MiB, shared? | load 1 min |"
    )
    lines = [head, "|" + "---|" * 9]
    for r in results:
        if r.get("skipped"):
            lines.append(f"| {r['lesson']} | {r['n']} | not run: {r['skipped']} |" + " |" * 6)
            continue
        k, w = r["per_kernel_idle"], r["weights_mapping"]
        shared = {True: "yes", False: "no", None: "(N=1)" if r["n"] == 1 else "-"}[r["weights_shared"]]
        if r["stopped_low_memory"]:
            shared += f"; stopped at {r['all_done_s']:.0f} s: MemAvailable < {r['floor_mib']} MiB"
        lines.append(
            f"| {r['lesson']} | {r['n']} | {r['finished']}/{r['n']} | {fmt(r['wall_median_s'], '.1f')} "
            f"({fmt(r['wall_max_s'], '.1f')}) | {fmt(r['peak_total_pss_mib'])} | {fmt(r['mem_available_drop_mib'])} | "
            f"{fmt(k['rss_mib'])} / {fmt(k['pss_mib'])} / {fmt(k['private_mib'])} / {fmt(k['shared_clean_mib'])} | "
            f"{fmt(w['rss_mib'])} / {fmt(w['pss_mib'], '.1f')}, {shared} | {r['load_1min']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lesson",
        action="append",
        help="notebook in notebooks/ (repeatable; default 04-16_forward_pass.ipynb and 04-19_no_grad.ipynb)",
    )
    parser.add_argument("--counts", default="1,5,10,20", help="numbers of students, comma-separated")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between memory samples")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed for one N")
    parser.add_argument(
        "--min-available-mib",
        type=int,
        default=4096,
        help="stop a run (kill its kernels) when MemAvailable falls below this; larger N of that lesson are skipped",
    )
    parser.add_argument("--json", type=Path, help="also write the numbers to this file (after each run)")
    args = parser.parse_args(argv)
    lessons = args.lesson or ["04-16_forward_pass.ipynb", "04-19_no_grad.ipynb"]
    counts = [int(c) for c in args.counts.split(",")]

    sys.path.insert(0, str(ROOT))
    from jbert_helpers.tools.kernelenv import NOTEBOOK_ENV

    shared = Path(tempfile.mkdtemp(prefix="jbert-shared-"))
    try:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("JBERT_", "HF_"))}
        env = dict(base, **NOTEBOOK_ENV, JBERT_CACHE_DIR=str(shared / "standin"), HF_HUB_CACHE=str(shared / "hf-hub"))
        subprocess.run([str(ROOT / ".venv" / "bin" / "jbert"), "prefetch", "--standin"], env=env, check=True)
        (shared / "hf-hub").mkdir(exist_ok=True)
        subprocess.run(["chmod", "-R", "a+rX,go-w", str(shared)], check=True)
        server_pss = jupyter_server_memory(env)
        results = []
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        for name in lessons:
            out_of_memory = None
            for n in counts:
                if out_of_memory is not None:
                    results.append({"lesson": name, "n": n, "skipped": f"N={out_of_memory} ran out of memory"})
                    continue
                print(f"{name}: N={n} …", flush=True)
                r = run_n(ROOT / "notebooks" / name, n, env, args.interval, args.timeout, args.min_available_mib)
                r["lesson"], r["floor_mib"] = name, args.min_available_mib
                results.append(r)
                print(table([r]).splitlines()[-1], flush=True)
                if r["stopped_low_memory"]:
                    out_of_memory = n
                if args.json:
                    write_json(args.json, started, server_pss, results)
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    print()
    print(table(results))
    print(f"idle jupyter server (one per student under JupyterHub): PSS {fmt(server_pss)} MiB")
    print(
        f"started {started}, {os.cpu_count()} cores, {mib(mem_total()) / KIB:.1f} GiB, stand-in (CPU, random weights)"
    )
    if args.json:
        write_json(args.json, started, server_pss, results)
    return 0 if all(r.get("finished") == r["n"] for r in results) else 1


def write_json(path: Path, started: str, server_pss: float | None, results: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    info = {
        "started": started,
        "cores": os.cpu_count(),
        "mem_total_gib": mib(mem_total()) / KIB,
        "load_1min_now": os.getloadavg()[0],
        "model": "standin (one shared JBERT_CACHE_DIR)",
        "jupyter_server_idle_pss_mib": server_pss,
        "results": results,
    }
    path.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n")


def mem_total() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
