"""The ``jbert`` command: tools for teachers and CI around the lessons.

``jbert refresh`` re-executes notebooks and stores their outputs (the documented way to
regenerate them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import JbertError


def _cmd_refresh(args: argparse.Namespace) -> int:
    from .models import choose_model
    from .notebooks import notebooks_dir, refresh

    label = args.model
    if label is None:
        label = choose_model().label
    paths = [Path(p) for p in args.notebooks] or sorted(notebooks_dir().glob("*.ipynb"))
    refresh(paths, label)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jbert", description="Tools around the jbert lessons.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "refresh",
        help="re-execute notebooks and store their outputs",
        description="Re-execute notebooks in fresh kernels with one model and store their outputs "
        "and metadata.jbert (model, dictionary, versions). Prints per notebook how many cells' outputs changed.",
    )
    p.add_argument("notebooks", nargs="*", help="notebooks to refresh (default: all in notebooks/)")
    p.add_argument("--model", help="'standin' or a hub id / folder (default: what resolve_model_name chooses)")
    p.set_defaults(func=_cmd_refresh)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except JbertError as e:
        print(f"jbert: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
