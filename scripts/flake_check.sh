#!/usr/bin/env bash
# Flake check: run the test suite (`make unit`: unit tests + nbval) N times and report failures per test.
#
#   scripts/flake_check.sh [N]        (default N=20; `make flake-check N=20`)
#
# Each run writes a JUnit XML report (through PYTEST_ADDOPTS, so `make unit` itself is unchanged)
# and its full log to artifacts/flake/. At the end a table lists every test that failed or errored
# in at least one run, with its count out of N, and the runs' exit codes and durations.
# Exit status: 0 when all N runs passed, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
N="${1:-20}"
OUT=artifacts/flake
rm -rf "$OUT" && mkdir -p "$OUT"
PY=.venv/bin/python
[ -x "$PY" ] || make setup >/dev/null

for i in $(seq 1 "$N"); do
  start=$(date +%s)
  PYTEST_ADDOPTS="${PYTEST_ADDOPTS:-} --junitxml=$OUT/run-$i.xml -rA" make unit >"$OUT/run-$i.log" 2>&1
  rc=$?
  echo "$i $rc $(( $(date +%s) - start ))" >>"$OUT/runs.txt"
  echo "run $i/$N: exit $rc in $(( $(date +%s) - start )) s — $(grep -E '(passed|failed|error)' "$OUT/run-$i.log" | tail -1)"
done

"$PY" - "$OUT" "$N" <<'PY'
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

out, n = Path(sys.argv[1]), int(sys.argv[2])
bad, seen, messages = Counter(), Counter(), {}
for i in range(1, n + 1):
    report = out / f"run-{i}.xml"
    if not report.exists():
        bad[f"<run {i}: no report (ruff or set-up failed? see run-{i}.log)>"] += 1
        continue
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        seen[name] += 1
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            bad[name] += 1
            messages.setdefault(name, (problem.get("message") or "").splitlines()[0][:160] if problem.get("message") else "")
runs = [line.split() for line in (out / "runs.txt").read_text().splitlines()]
failed_runs = sum(1 for _, rc, _ in runs if rc != "0")
print(f"\n{n} runs of `make unit`: {n - failed_runs} passed, {failed_runs} failed; "
      f"{len(seen)} tests seen; durations {', '.join(s + ' s' for _, _, s in runs)}")
if not bad:
    print("no test failed in any run")
else:
    print(f"{'failures':>8}  test")
    for name, count in bad.most_common():
        print(f"{count:>4}/{n:<3}  {name}  {messages.get(name, '')}")
sys.exit(1 if failed_runs or bad else 0)
PY
