"""The ``jbert`` command: tools for teachers and CI around the lessons (see docs/teachers.md).

* ``jbert doctor`` — will the lessons run here, and if not, what to type (``--json`` for CI);
* ``jbert prefetch`` — put the real model in the hub cache (download, or ``--from`` a copied
  folder/archive), or ``--standin`` to build the offline stand-in ahead of class;
* ``jbert refresh`` — re-execute notebooks and store their outputs (the documented way to
  regenerate them);
* ``jbert handout`` / ``jbert grade`` — student copies without solutions, and a gradebook from
  what students hand back (:mod:`jbert_helpers.tools.classroom`, :mod:`jbert_helpers.tools.grading`).

Example::

    $ jbert doctor
    $ jbert prefetch --from /media/usb/bert-base-japanese-whole-word-masking.tar.gz
    $ jbert refresh notebooks/04-07_encode_decode.ipynb --model standin
    $ jbert handout --out handout/
    $ jbert grade submissions/ --out grades/
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path

from ..errors import JbertError


def _notebooks(given: list[str]) -> list[Path]:
    """The notebooks a command acts on: those given, else every notebook in ./notebooks (the working directory's)."""
    from .refresh import RefreshError, notebooks_dir

    if given:
        return [Path(p) for p in given]
    found = sorted(notebooks_dir().glob("*.ipynb"))
    if not found:
        raise RefreshError(
            f"{notebooks_dir().resolve()} にノートブックがありません。パスを指定するか、リポジトリのフォルダで実行してください。"
        )
    return found


def _cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import format_table, run_checks

    report = run_checks()
    print(report.to_json() if args.json else format_table(report), flush=True)
    return 0 if report.ok else 1


def _cmd_prefetch(args: argparse.Namespace) -> int:
    if args.standin:
        from ..standin import STANDIN_VERSION, ensure_standin

        print("[jbert] 代役 (stand-in) を用意します (初回は数秒、約 450 MB)…", flush=True)
        path = ensure_standin()
        print(f"[jbert] 代役 v{STANDIN_VERSION} の準備ができました / stand-in ready: {path}")
        return 0
    from .prefetch import import_model, prefetch_hub

    if args.source:
        print(f"[jbert] 取り込み / importing {args.source} → {args.repo} …", flush=True)
        result = import_model(args.source, repo_id=args.repo)
    else:
        result = prefetch_hub(args.repo)
    print(f"[jbert] {result}")
    print("[jbert] これでノートブックは本物のモデルを読み込みます (確認: jbert doctor)")
    return 0


def _cmd_refresh(args: argparse.Namespace) -> int:
    from ..errors import ModelResolutionError
    from ..models import choose_model
    from .refresh import RefreshError, model_revision, model_unavailable, refresh

    label = args.model
    if label is None:
        label = choose_model().label
    why = model_unavailable(label)
    if why:
        raise ModelResolutionError(
            f"--model {label} をここでは読み込めません ({why})。`jbert prefetch` で取得するか --model standin にしてください。"
        )
    paths = _notebooks(args.notebooks)
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise RefreshError(f"ノートブックがありません: {', '.join(missing)}")
    revision = model_revision(label)
    print(
        f"[jbert] refresh: model {label}" + (f" ({revision})" if revision else "") + f", {len(paths)} notebook(s)",
        flush=True,
    )
    refresh(paths, label)
    return 0


def _cmd_handout(args: argparse.Namespace) -> int:
    from .classroom import handout

    paths = _notebooks(args.notebooks)
    for path in handout(paths, Path(args.out)):
        print(f"[jbert] handout: {path}", flush=True)
    return 0


def _cmd_grade(args: argparse.Namespace) -> int:
    from ..models import choose_model
    from .grading import Limits, grade, write_gradebook
    from .refresh import model_unavailable, notebooks_dir

    label = args.model or choose_model().label
    why = model_unavailable(label)
    if why:
        from ..errors import ModelResolutionError

        raise ModelResolutionError(
            f"--model {label} をここでは読み込めません ({why})。--model standin にしてください。"
        )
    limits = Limits(cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout, memory_mb=args.memory_mb)
    progress = functools.partial(print, file=sys.stderr, flush=True)
    book = grade(
        Path(args.submissions),
        lessons_dir=Path(args.lessons or notebooks_dir()),
        model=label,
        limits=limits,
        log=progress,
        unconfined=args.unconfined,
    )
    csv_path, md_path = write_gradebook(book, Path(args.out))
    print(book.to_table())
    print(f"\n[jbert] grade: {csv_path}, {md_path}", flush=True)
    return 0


def _cmd_save(args: argparse.Namespace) -> int:
    from .savegen import save

    notebooks, out = Path(args.notebooks), Path(args.out)
    fresh, diff = save(notebooks, out, check=args.check)
    if args.check:
        if not fresh:
            print(diff, end="")
            print(
                f"[jbert] save: {out} は {notebooks} と違います。`jbert save` で作り直してください。", file=sys.stderr
            )
        return 0 if fresh else 1
    print(f"[jbert] save: {out} " + ("は最新です / up to date" if fresh else "を書きました / written"), flush=True)
    return 0


def _add_classroom_commands(sub: argparse._SubParsersAction) -> None:
    """``jbert handout`` and ``jbert grade`` (docs/teachers.md, 配布と採点)."""
    from .grading import Limits

    h = sub.add_parser(
        "handout",
        help="make student copies of lessons: solutions removed, answers back to `answer = ...`",
        description="Write a student copy of each lesson into --out: the <details> solutions removed, every answer "
        "cell back to `answer = ...`, the exercise cells' outputs cleared; all other cells and outputs kept.",
    )
    h.add_argument(
        "notebooks",
        nargs="*",
        help="lessons to hand out (default: every notebook in ./notebooks of the working directory)",
    )
    h.add_argument("--out", required=True, help="folder for the student copies (not the lessons' own folder)")
    h.set_defaults(func=_cmd_handout)

    defaults = Limits()
    g = sub.add_parser(
        "grade",
        help="grade a folder of submissions (one folder per student) into a gradebook",
        description="Run every SUBMISSIONS/<student>/<lesson>.ipynb in its own limited kernel, read each answer "
        "variable and compare it with the value the teacher's lesson computes. Writes gradebook.csv and "
        "gradebook.md into --out and prints the table.",
    )
    g.add_argument("submissions", help="folder with one sub-folder per student")
    g.add_argument("--out", required=True, help="folder for gradebook.csv and gradebook.md")
    g.add_argument("--lessons", help="the teacher's lessons (default: ./notebooks of the working directory)")
    g.add_argument("--model", help="'standin' or a hub id / folder (default: what resolve_model_name chooses)")
    g.add_argument("--cell-timeout", type=int, default=defaults.cell_timeout, help="seconds per cell")
    g.add_argument("--notebook-timeout", type=int, default=defaults.notebook_timeout, help="seconds per notebook")
    g.add_argument("--memory-mb", type=int, default=defaults.memory_mb, help="address-space limit of a kernel (MiB)")
    g.add_argument(
        "--unconfined",
        action="store_true",
        help="grade even where the sandbox (bubblewrap, namespaces) cannot be set up: submissions then run as you, "
        "can read the answer key and change files; every row of the gradebook records it",
    )
    g.set_defaults(func=_cmd_grade)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jbert",
        description="Tools around the jbert lessons for teachers and CI: doctor, prefetch, refresh (docs/teachers.md).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    d = sub.add_parser(
        "doctor",
        help="check whether the lessons will run here, and say what to type if not",
        description="Check Python and library versions, the MeCab dictionaries (ipadic, unidic-lite), the device, "
        "the hub cache and reachability (one attempt, <= 3 s; skipped under HF_HUB_OFFLINE=1), which model the "
        "notebooks will load and why, the stand-in cache and the 'jbert' Jupyter kernel. Exit code 0 when the "
        "lessons can run here, 1 otherwise, with one fix line per problem.",
    )
    d.add_argument("--json", action="store_true", help="print the report as JSON (for CI)")
    d.set_defaults(func=_cmd_doctor)

    from ..hubcache import HUB_MODEL_ID

    p = sub.add_parser(
        "prefetch",
        help="put the real model (or the stand-in) where the notebooks will find it",
        description="Download the real model into the Hugging Face hub cache (hub reachable), or import it from a "
        "folder or archive (.tar/.tar.gz/.tgz/.zip) copied from another machine (--from), after checking that the "
        "tokenizer and BertModel load from it; or build the offline stand-in (--standin). Never leaves a "
        "half-written model behind.",
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument("--from", dest="source", metavar="PATH", help="import a copied model folder or archive")
    group.add_argument("--standin", action="store_true", help="build the offline stand-in now (JBERT_CACHE_DIR)")
    p.add_argument("--repo", default=HUB_MODEL_ID, help=f"hub id to download or import as (default: {HUB_MODEL_ID})")
    p.set_defaults(func=_cmd_prefetch)

    r = sub.add_parser(
        "refresh",
        help="re-execute notebooks and store their outputs",
        description="Re-execute notebooks in fresh kernels with one model and store their outputs and metadata.jbert "
        "(model, revision or stand-in version, MeCab dictionary, versions). Prints per notebook how many cells' "
        "outputs changed; a second run with the same model changes nothing.",
    )
    r.add_argument(
        "notebooks",
        nargs="*",
        help="notebooks to refresh (default: every notebook in ./notebooks of the working directory)",
    )
    r.add_argument("--model", help="'standin' or a hub id / folder (default: what resolve_model_name chooses)")
    r.set_defaults(func=_cmd_refresh)
    s = sub.add_parser(
        "save",
        help="regenerate jbert_helpers/saved.py from the lessons' cells marked '# jbert: save'",
        description="Collect every code cell whose first line is '# jbert: save' from the lessons (file-name order) "
        "into one module, the package's copy of the functions the lessons teach. Paths are relative to the "
        "current directory.",
    )
    s.add_argument("notebooks", nargs="?", default="notebooks", help="the lessons' folder (default: notebooks)")
    s.add_argument(
        "--out", default="jbert_helpers/saved.py", help="the module to write (default: jbert_helpers/saved.py)"
    )
    s.add_argument("--check", action="store_true", help="write nothing; exit 1 with a diff when --out is out of date")
    s.set_defaults(func=_cmd_save)
    _add_classroom_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except JbertError as e:
        print(f"jbert: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `jbert doctor | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
