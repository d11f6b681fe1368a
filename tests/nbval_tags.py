"""Move nbval's comment markers out of the lessons' code into cell tags, the reason into cell metadata.

    .venv/bin/python tests/nbval_tags.py                 # every notebook in notebooks/
    .venv/bin/python tests/nbval_tags.py path/to/x.ipynb  # only these
    .venv/bin/python tests/nbval_tags.py --check          # change nothing; exit 1 if a notebook needs it

The old form, still written by hand (it is what nbval documents first)::

    # NBVAL_IGNORE_OUTPUT
    # 理由: 実行時間は、機械とその時の負荷で変わるため
    import time

becomes the code ``import time`` with ``metadata.tags = ["nbval-ignore-output"]`` and
``metadata.jbert.reason = "実行時間は、機械とその時の負荷で変わるため"``: nbval reads the tag, a learner sees
no test marker. Cells tagged ``raises-exception`` whose first line is the old
``# わざとエラーを起こすセル (nbval はこのセルが例外を出すことを確認する)`` keep ``# わざとエラーを起こすセル``
(a learner needs to know the error is meant) and the reason goes to the metadata. The line count of a
raising cell does not change (its stored traceback names line numbers).

The stored outputs do not change (comments print nothing). ``metadata.jbert.ignored_outputs`` (the source
fingerprint ``jbert refresh`` keeps per ignored cell) is carried over to the new source when it matched
the old one, so the next refresh keeps the stored output as before. Idempotent: a converted notebook is
left byte for byte as it is. Run it again after merging notebooks written in the old form.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

from jbert_helpers.tools.refresh import fingerprint, ignored_cell

ROOT = Path(__file__).resolve().parent.parent
#: nbval's comment markers and the tag each one is equivalent to (nbval's documentation).
MARKERS = {
    "NBVAL_IGNORE_OUTPUT": "nbval-ignore-output",
    "NBVAL_CHECK_OUTPUT": "nbval-check-output",
    "NBVAL_SKIP": "nbval-skip",
    "NBVAL_RAISES_EXCEPTION": "raises-exception",
}
MARKER_LINE = re.compile(r"^#\s*(" + "|".join(MARKERS) + r")\s*$")
REASON_LINE = re.compile(r"^#\s*理由\s*[:：]\s*(.+?)\s*$")
RAISES_LINE = re.compile(r"^#\s*(わざとエラーを起こすセル)\s*[(（]\s*(nbval[^)）]*)[)）]\s*$")


def convert_cell(cell: nbformat.NotebookNode) -> bool:
    """Convert one code cell in place; True if it changed."""
    lines = cell.source.split("\n")
    tags: list[str] = list(cell.metadata.get("tags", []))
    reasons: list[str] = []
    kept: list[str] = []
    i = 0
    while i < len(lines):
        m = MARKER_LINE.match(lines[i].strip())
        if m:
            tag = MARKERS[m.group(1)]
            if tag not in tags:
                tags.append(tag)
            i += 1
            while i < len(lines) and REASON_LINE.match(lines[i].strip()):
                reasons.append(REASON_LINE.match(lines[i].strip()).group(1))  # type: ignore[union-attr]
                i += 1
            continue
        raised = RAISES_LINE.match(lines[i].strip())
        if raised and "raises-exception" in tags:
            kept.append(f"# {raised.group(1)}")  # same line count: the stored traceback's line numbers hold
            reasons.append(f"{raised.group(1)}: {raised.group(2)}")
            i += 1
            continue
        kept.append(lines[i])
        i += 1
    source = "\n".join(kept)
    if source == cell.source and tags == list(cell.metadata.get("tags", [])):
        return False
    cell.source = source
    cell.metadata["tags"] = tags
    if reasons:
        jbert = cell.metadata.setdefault("jbert", {})
        jbert["reason"] = " / ".join(reasons)
    return True


def convert_notebook(path: Path, *, write: bool = True) -> int:
    """Convert every code cell of ``path``; return how many cells changed (written only if some did)."""
    nb = nbformat.read(path, as_version=4)
    ignored = nb.metadata.get("jbert", {}).get("ignored_outputs")
    changed = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        before = cell.source
        if convert_cell(cell):
            changed += 1
            if ignored is not None and ignored_cell(cell) and ignored.get(cell.get("id")) == fingerprint(before):
                ignored[cell.id] = fingerprint(cell.source)
    if changed and write:
        path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook in notebooks/")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a notebook needs converting")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    total = 0
    for path in paths:
        n = convert_notebook(path, write=not args.check)
        if n:
            print(f"{path.name}: {n} cell(s) {'to convert' if args.check else 'converted'}")
        total += n
    print(f"{total} cell(s) in {len(paths)} notebook(s) {'need converting' if args.check else 'converted'}")
    return 1 if args.check and total else 0


if __name__ == "__main__":
    sys.exit(main())
