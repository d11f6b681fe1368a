#!/usr/bin/env bash
# Versions matrix: the notebooks under the newest transformers 4.x and under the pinned 5.x.
#
#   scripts/versions_matrix.sh [SPEC ...]     default SPECs: "4-latest" "pinned"
#   (a SPEC is "pinned", "4-latest", or an exact version such as 4.57.6)
#
# For each SPEC: a venv in build/matrix/<version>/ with torch==2.13.0 (the CPU wheel on disk) and
# requirements.txt, transformers replaced by that version (tokenizers / huggingface_hub left to
# pip when it is not the pinned one), then nbval over notebooks/ with a JUnit report. The stored
# outputs come from the pinned versions, so a failing cell under another version is an output
# that changed: the report lists them per notebook with nbval's first differing line.
# A venv costs ~2 min to install the first time; it is reused afterwards.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
OUT=artifacts/matrix
mkdir -p "$OUT" build/matrix
SPECS=("$@")
[ ${#SPECS[@]} -eq 0 ] && SPECS=("4-latest" "pinned")
PINNED=$(grep -E '^transformers==' requirements.txt | cut -d= -f3)

resolve() {
  case "$1" in
    pinned) echo "$PINNED" ;;
    4-latest) "$PYTHON" -m pip index versions transformers 2>/dev/null | sed -n 's/^Available versions: //p' \
                | tr ',' '\n' | tr -d ' ' | grep -E '^4\.[0-9]+\.[0-9]+$' | head -1 ;;
    *) echo "$1" ;;
  esac
}

for spec in "${SPECS[@]}"; do
  version=$(resolve "$spec")
  [ -n "$version" ] || { echo "cannot resolve transformers version for $spec"; exit 2; }
  venv="build/matrix/transformers-$version"
  log="$OUT/transformers-$version"
  echo "== transformers $version ($spec): $venv"
  if [ ! -f "$venv/.installed" ]; then
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    if [ "$version" = "$PINNED" ]; then
      reqs=$(cat requirements.txt)
    else  # transformers 4.x wants older tokenizers / huggingface_hub: let pip choose them
      reqs=$(grep -vE '^(transformers|tokenizers|huggingface_hub)==' requirements.txt; echo "transformers==$version")
    fi
    start=$(date +%s)
    if ! { "$venv/bin/python" -m pip install -q --disable-pip-version-check torch==2.13.0 &&
           echo "$reqs" | "$venv/bin/python" -m pip install -q --disable-pip-version-check -r /dev/stdin &&
           "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e . ; } >"$log.install.log" 2>&1; then
      echo "   install failed: see $log.install.log"; tail -5 "$log.install.log"; continue
    fi
    touch "$venv/.installed"
    echo "   installed in $(( $(date +%s) - start )) s"
  fi
  "$venv/bin/python" -c "import transformers, tokenizers, huggingface_hub as h; print('   transformers', transformers.__version__, 'tokenizers', tokenizers.__version__, 'huggingface_hub', h.__version__)"
  start=$(date +%s)
  "$venv/bin/python" -m pytest notebooks -q -p no:randomly --junitxml="$log.xml" >"$log.log" 2>&1
  echo "   nbval exit $? in $(( $(date +%s) - start )) s: $(grep -E '(passed|failed|error)' "$log.log" | tail -1)"
  echo "   (per changed cell: - = output under this version, + = stored output)"
  "$venv/bin/python" - "$log.xml" <<'PY'
import re
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict

changed = defaultdict(list)
for case in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    problem = case.find("failure")
    if problem is None:
        problem = case.find("error")
    if problem is None:
        continue
    notebook = (case.get("file") or case.get("classname") or "?").split("/")[-1]
    text = (problem.text or problem.get("message") or "")
    lines = text.splitlines()
    diff = [next((ln.strip() for ln in lines if re.match(rf"\s*{re.escape(sign)} ", ln)), "") for sign in "-+"]
    error = next((ln.strip() for ln in lines if re.search(r"^\w*(Error|Exception):", ln.strip())), "")
    detail = " | ".join(d[:110] for d in diff if d) or error[:200] or (lines[0][:140] if lines else "")
    changed[notebook].append(f"{case.get('name')}: {detail}")
if not changed:
    print("   every stored output is reproduced")
for notebook, cells in sorted(changed.items()):
    print(f"   {notebook}: {len(cells)} cell(s) changed")
    for c in cells[:6]:
        print(f"      {c}")
PY
done
