"""Is transformers' BertModel LOAD REPORT the same bytes on every run, as nbval sees it?

    python scripts/load_report_stability.py [N]      (default 20)

Loads the stand-in N times, each in a fresh interpreter under the notebooks' environment
(``NOTEBOOK_ENV``: ``PYTHONHASHSEED=0``, ``COLUMNS=80``, stderr not a terminal), and prints how many
distinct reports (stderr texts, ANSI codes included) it saw. Then, as a control, N loads with a
random hash seed: the report lists its keys in set order, so those runs may differ, which is why
the notebooks' kernels fix the seed. Exit status 0 when the N reports under NOTEBOOK_ENV are identical.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections import Counter

from jbert_helpers.standin import ensure_standin
from jbert_helpers.tools.refresh import NOTEBOOK_ENV

CODE = "import sys; from transformers import BertModel; BertModel.from_pretrained(sys.argv[1])"


def reports(n: int, env: dict[str, str]) -> Counter[str]:
    seen: Counter[str] = Counter()
    for _ in range(n):
        done = subprocess.run(
            [sys.executable, "-c", CODE, str(ensure_standin())],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        seen[hashlib.sha256(done.stderr.encode()).hexdigest()[:12]] += 1
        example = done.stderr
    print(example.replace("\x1b", "\\x1b"), end="")
    return seen


def main(n: int) -> int:
    fixed = reports(n, {**os.environ, **NOTEBOOK_ENV})
    print(f"NOTEBOOK_ENV (PYTHONHASHSEED=0): {n} runs, {len(fixed)} distinct report(s): {dict(fixed)}")
    free_env = {**os.environ, **NOTEBOOK_ENV}
    free_env.pop("PYTHONHASHSEED")
    free = reports(n, free_env)
    print(f"control, random hash seed: {n} runs, {len(free)} distinct report(s)")
    return 0 if len(fixed) == 1 else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
