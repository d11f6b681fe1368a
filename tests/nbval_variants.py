"""Run nbval over every notebook under another model than the one its outputs were stored with.

    python tests/nbval_variants.py audit [NOTEBOOK ...]       # `make audit` (`make test-lesson` for one)
    python tests/nbval_variants.py real-path [NOTEBOOK ...]   # `make real-path`

* ``audit`` — the weight-independence audit: a second stand-in with another seed
  (``JBERT_STANDIN_SEED``), so every weight differs, against the outputs stored with the first.
  Every cell not tagged ``nbval-ignore-output`` must be identical (after the model-naming rule of
  nbval_sanitize.cfg): the offline proof that the stored outputs hold for the real weights.
* ``real-path`` — the real-model path a learner with internet takes: a fake Hub on 127.0.0.1
  (fakehub.py, next to this file) serves the replica as ``tohoku-nlp/bert-base-japanese-whole-word-masking``
  (``main`` with ``pytorch_model.bin``, ``refs/pr/1`` with ``model.safetensors``), the kernels start
  with an empty hub cache, no ``JBERT_MODEL`` and ``HF_HUB_OFFLINE=0``, so ``resolve_model_name()``
  finds the Hub and the lessons' ``from_pretrained(hub id)`` download from it. Proxies point at a
  closed local port: nothing can leave the machine.

Prints how many cells were compared and how many differed (failed); exit status is pytest's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from jbert_helpers.tools.kernelenv import ignored_cell

ROOT = Path(__file__).resolve().parent.parent
AUDIT_SEED = "7"


def compared_cells(notebooks: list[Path]) -> tuple[int, int]:
    """(code cells whose output nbval compares, code cells tagged nbval-ignore-output)."""
    compared = ignored = 0
    for path in notebooks:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] != "code":
                continue
            if ignored_cell(cell):
                ignored += 1
            else:
                compared += 1
    return compared, ignored


def run_pytest(notebooks: list[Path], env: dict[str, str], junit: Path) -> tuple[int, str]:
    workers = ["-n", "2", "--dist", "loadscope"] if len(notebooks) > 1 else []  # one notebook: one kernel, no xdist
    cmd = [sys.executable, "-m", "pytest", "-q", *workers, f"--junitxml={junit}", *map(str, notebooks)]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr


def summary(junit: Path) -> tuple[int, int]:
    """(items run, items failed or errored) from pytest's JUnit report."""
    if not junit.exists():
        return 0, 0
    suite = ET.parse(junit).getroot().find("testsuite")
    attrs = suite.attrib if suite is not None else {}
    return int(attrs.get("tests", 0)), int(attrs.get("failures", 0)) + int(attrs.get("errors", 0))


def main(mode: str, only: list[str]) -> int:
    notebooks = [Path(p).resolve() for p in only] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    out = ROOT / "artifacts" / mode
    out.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "JBERT_MODEL", "JBERT_NBVAL"))}
    if mode == "audit":
        env["JBERT_STANDIN_SEED"] = AUDIT_SEED
        rc, log = run_pytest(notebooks, env, out / "junit.xml")
    elif mode == "real-path":
        from fakehub import FakeHub, replica_files  # tests/fakehub.py (this file's folder is on sys.path)

        from jbert_helpers.standin import build_conversion_safetensors, ensure_standin

        with tempfile.TemporaryDirectory(prefix="jbert-real-path-") as tmp:
            work = Path(tmp)
            converted = build_conversion_safetensors(work / "pr" / "model.safetensors")
            main_files, pr_files = replica_files(ensure_standin(), converted, extra=work / "extra")
            with FakeHub(main_files, pr_files) as hub:
                env.update(
                    HF_ENDPOINT=hub.url,
                    HF_HUB_CACHE=str(work / "hub"),
                    HF_HOME=str(work / "hf-home"),
                    HF_HUB_OFFLINE="0",
                    HF_HUB_DISABLE_TELEMETRY="1",
                    JBERT_NBVAL_MODEL="auto",
                    HTTP_PROXY="http://127.0.0.1:9",
                    HTTPS_PROXY="http://127.0.0.1:9",
                    NO_PROXY="127.0.0.1,localhost",
                )
                rc, log = run_pytest(notebooks, env, out / "junit.xml")
                requests = hub.requests()
            (out / "requests.log").write_text("".join(f"{m} {p} {s}\n" for m, p, s in requests))
            weights = [p for m, p, s in requests if m == "GET" and p.startswith("/lfs/") and s == 200]
            print(f"fake Hub: {len(requests)} requests, {len(weights)} weight downloads (log: {out / 'requests.log'})")
    else:
        print(__doc__)
        return 2
    (out / "pytest.log").write_text(log)
    compared, ignored = compared_cells(notebooks)
    items, failed = summary(out / "junit.xml")
    print(log.strip().splitlines()[-1] if log.strip() else "(no pytest output)")
    print(
        f"{mode}: {len(notebooks)} notebooks, {compared} code cells compared, {ignored} tagged nbval-ignore-output; "
        f"{items} nbval items run, {failed} differing or failing (log: {out / 'pytest.log'})"
    )
    if rc != 0:
        print("\n".join(line for line in log.splitlines() if line.startswith(("FAILED", "ERROR")))[:4000])
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "", sys.argv[2:]))
