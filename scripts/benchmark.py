#!/usr/bin/env python3
"""How fast the collection is, against what it cannot be faster than. One run measures:

* **floor**: for each notebook, a fresh kernel that only imports torch and transformers (what
  every lesson pays before its first line), measured ``--floor-runs`` times and multiplied by the
  number of notebooks, divided by the 2 pytest-xdist workers;
* **suite**: ``.venv/bin/python -m pytest -n 2`` once (what ``make test`` runs: fast tests + every notebook under nbval), wall time;
  their ratio (goal: suite <= 1.3 x floor);
* **stand-in cold**: ``ensure_standin()`` into a fresh temporary ``JBERT_CACHE_DIR``, in a fresh
  process, timed after the imports (goal <= 3 s);
* **stand-in warm**: ``ensure_standin()`` + ``BertModel.from_pretrained`` + the tokenizer's
  ``from_pretrained``, in a fresh process with the stand-in built, timed after the imports (goal <= 0.5 s);
* **lessons** (``--lessons``): each notebook in a fresh kernel on the stand-in, as nbval runs it; the sum
  of its cells' execution times against the kernel-start-plus-imports time (goal: <= 2 x, so that a full
  classroom can run any lesson at once).

Usage: ``.venv/bin/python scripts/benchmark.py [--skip-suite] [--json artifacts/benchmark.json]``.
Timings depend on what else the machine runs: the table prints the load average beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 2
GOALS = {"ratio": 1.3, "cold": 3.0, "warm": 0.5, "lesson": 2.0}

KERNEL_FLOOR = """
import time
from jupyter_client.manager import start_new_kernel
t0 = time.perf_counter()
km, kc = start_new_kernel(kernel_name="python3")
try:
    reply = kc.execute_interactive("import torch, transformers", timeout=300)
    assert reply["content"]["status"] == "ok", reply
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
print(time.perf_counter() - t0)
"""

COLD = """
import os, time
import torch, transformers
from transformers import BertModel, BertJapaneseTokenizer
from jbert_helpers.standin import ensure_standin
t0 = time.perf_counter()
ensure_standin()
print(time.perf_counter() - t0)
"""

WARM = """
import os, time
import torch, transformers
from transformers import BertModel, BertJapaneseTokenizer
from jbert_helpers.standin import ensure_standin
t0 = time.perf_counter()
path = str(ensure_standin())
t1 = time.perf_counter()
BertModel.from_pretrained(path)
t2 = time.perf_counter()
BertJapaneseTokenizer.from_pretrained(path, mecab_kwargs={"mecab_dic": "ipadic"})
t3 = time.perf_counter()
print(t3 - t0, t1 - t0, t2 - t1, t3 - t2)
"""


def python(code: str, env: dict[str, str] | None = None) -> list[float]:
    """Run ``code`` in a fresh interpreter of this venv; the numbers it prints on its last line."""
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT, timeout=900
    ).stdout
    return [float(x) for x in out.strip().splitlines()[-1].split()]


def measure_floor(runs: int) -> tuple[float, int, float]:
    """(seconds per kernel, number of notebooks, floor seconds for the whole collection)."""
    per_kernel = statistics.median(python(KERNEL_FLOOR)[0] for _ in range(runs))
    n = len(list((ROOT / "notebooks").glob("*.ipynb")))
    return per_kernel, n, per_kernel * n / WORKERS


def measure_suite() -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "python"),
            "-m",
            "pytest",
            "-q",
            "-n",
            "2",
            "--dist",
            "loadscope",
            "-p",
            "no:randomly",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=5400,
    )
    elapsed = time.perf_counter() - t0
    last = [ln for ln in proc.stdout.splitlines() if ln.strip()][-1:] or ["(no output)"]
    return elapsed, last[0]


def measure_standin(runs: int) -> tuple[float, list[float]]:
    """(cold seconds, [warm total, ensure, model load, tokenizer load] medians)."""
    root = Path(tempfile.mkdtemp(prefix="jbert-bench-"))
    try:
        env = dict(os.environ, JBERT_CACHE_DIR=str(root), HF_HUB_DISABLE_PROGRESS_BARS="1")
        cold = python(COLD, env)[0]
        warm_runs = [python(WARM, env) for _ in range(runs)]
        warm = [statistics.median(col) for col in zip(*warm_runs, strict=True)]
        return cold, warm
    finally:
        shutil.rmtree(root, ignore_errors=True)


def lesson_seconds(path: Path) -> float:
    """Sum of the execution times of ``path``'s cells in a fresh kernel on the stand-in (nbclient's timing)."""
    import nbformat
    from nbclient import NotebookClient

    from jbert_helpers.tools.kernelenv import NOTEBOOK_ENV

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=900, kernel_name="python3", record_timing=True, allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )  # fmt: skip
    client.execute(env=dict(os.environ, **NOTEBOOK_ENV, JBERT_MODEL="standin"))
    total = 0.0
    for cell in nb.cells:
        timing = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            start = datetime.fromisoformat(timing["iopub.execute_input"])
            end = datetime.fromisoformat(timing["shell.execute_reply"])
            total += (end - start).total_seconds()
    return total


def measure_lessons(per_kernel: float) -> list[tuple[str, float, float]]:
    """[(notebook, seconds of its cells, ratio to the kernel-start-plus-imports time)] for every lesson."""
    rows = []
    for path in sorted((ROOT / "notebooks").glob("04-*.ipynb")):
        seconds = lesson_seconds(path)
        rows.append((path.name, seconds, seconds / per_kernel))
        print(f"  {path.name:<42} {seconds:6.1f} s  {seconds / per_kernel:5.2f} x", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-suite", action="store_true", help="do not run the full pytest suite")
    parser.add_argument("--floor-runs", type=int, default=3, help="kernels started to measure the floor (median)")
    parser.add_argument("--warm-runs", type=int, default=3, help="fresh processes timing a warm load (median)")
    parser.add_argument("--lessons", action="store_true", help="also time every lesson's cells against the floor")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0]
    cold, warm = measure_standin(args.warm_runs)
    per_kernel, n_notebooks, floor = measure_floor(args.floor_runs)
    suite, summary = (None, "skipped") if args.skip_suite else measure_suite()
    ratio = suite / floor if suite is not None and floor else None
    lessons = measure_lessons(per_kernel) if args.lessons else []

    rows = [
        ("kernel start + import torch, transformers", f"{per_kernel:.2f} s", "", ""),
        (f"floor = that x {n_notebooks} notebooks / {WORKERS} workers", f"{floor:.1f} s", "", ""),
        ("full suite (python -m pytest)", "-" if suite is None else f"{suite:.1f} s", "", summary),
        (
            "suite / floor",
            "-" if ratio is None else f"{ratio:.2f} x",
            f"<= {GOALS['ratio']} x",
            "" if ratio is None else ("ok" if ratio <= GOALS["ratio"] else "OVER"),
        ),
        (
            "stand-in cold (ensure_standin, fresh cache)",
            f"{cold:.2f} s",
            f"<= {GOALS['cold']} s",
            "ok" if cold <= GOALS["cold"] else "OVER",
        ),
        (
            "stand-in warm (ensure + BertModel + tokenizer)",
            f"{warm[0]:.2f} s",
            f"<= {GOALS['warm']} s",
            "ok" if warm[0] <= GOALS["warm"] else "OVER",
        ),
        ("  of which ensure_standin", f"{warm[1]:.3f} s", "", ""),
        ("  of which BertModel.from_pretrained", f"{warm[2]:.3f} s", "", ""),
        ("  of which BertJapaneseTokenizer.from_pretrained", f"{warm[3]:.3f} s", "", ""),
    ]
    over = [name for name, _, r in lessons if r > GOALS["lesson"]]
    if lessons:
        rows.append(
            (
                f"lessons: cells / (kernel + imports), worst of {len(lessons)}",
                f"{max(r for _, _, r in lessons):.2f} x",
                f"<= {GOALS['lesson']} x",
                "ok" if not over else "OVER: " + ", ".join(over),
            )
        )
    w = max(len(r[0]) for r in rows)
    print(f"{'measure':<{w}}  {'value':>10}  {'goal':>9}  verdict")
    for name, value, goal, verdict in rows:
        print(f"{name:<{w}}  {value:>10}  {goal:>9}  {verdict}")
    print(
        f"load average (1 min) before / after: {load_before:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "kernel_import_s": per_kernel,
                    "notebooks": n_notebooks,
                    "floor_s": floor,
                    "suite_s": suite,
                    "suite_summary": summary,
                    "ratio": ratio,
                    "standin_cold_s": cold,
                    "standin_warm_s": warm[0],
                    "warm_parts_s": {"ensure": warm[1], "model": warm[2], "tokenizer": warm[3]},
                    "lessons_s": {name: seconds for name, seconds, _ in lessons},
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
