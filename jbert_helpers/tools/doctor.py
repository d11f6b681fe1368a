"""``jbert doctor``: will the lessons run here, and if not, what to type.

Each check is one row of a table (or one object of ``--json``): a status, what was found, and —
for every problem — one line saying how to fix it. The whole run takes seconds whatever the
network does: the single hub reachability attempt (≤ 3 s, skipped under ``HF_HUB_OFFLINE=1``)
runs in the background while the libraries are imported, and its answer is reused when deciding
which model the notebooks will load. Introduced for teachers and CI (docs/teachers.md).

Statuses: ``ok``; ``info`` (nothing to do); ``warn`` (the lessons run, but something is worth
fixing, e.g. a half-downloaded model); ``fail`` (the lessons will not run: the exit code is 1).

Example::

    >>> from jbert_helpers.tools.doctor import run_checks, format_table
    >>> report = run_checks()                 # doctest: +SKIP
    >>> print(format_table(report))           # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import platform
import shutil
import sys
import unicodedata
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from .. import hubcache, models
from ..errors import JbertError
from ..versions import RECORDED_PACKAGES

Status = Literal["ok", "info", "warn", "fail"]
#: The libraries whose versions doctor reports and checks against the package's own requirements.
LIBRARIES = tuple(name for name in RECORDED_PACKAGES if name not in ("ipadic", "unidic-lite"))  # dictionaries: own rows
#: MeCab dictionaries the lessons use: ipadic (the model's training dictionary) and unidic_lite
#: (transformers' default since 2024, shown beside it). ``(module, pip name)``.
DICTIONARIES = (("ipadic", "ipadic"), ("unidic_lite", "unidic-lite"))
#: The kernelspec name the notebooks' metadata names (set by ``jbert refresh``).
KERNEL_NAME = "jbert"
SAMPLE = models.SAMPLE
_MARK = {"ok": "✓", "info": "·", "warn": "!", "fail": "✗"}


@dataclass
class Check:
    """One row of the report."""

    name: str
    status: Status
    detail: str
    fix: str = ""


@dataclass
class Report:
    """All checks, plus the model the notebooks will load."""

    checks: list[Check] = field(default_factory=list)
    model: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the lessons can run here (no check failed)."""
        return all(c.status != "fail" for c in self.checks)

    def to_json(self) -> str:
        return json.dumps(
            {"ok": self.ok, "model": self.model, "checks": [asdict(c) for c in self.checks]},
            ensure_ascii=False,
            indent=2,
        )


class _HubProbe:
    """The one bounded reachability attempt, started at once in the background (a future)."""

    def __init__(self, repo_id: str) -> None:
        self.repo_id = repo_id
        self.skipped = models.hub_offline()
        self._future: Future[tuple[bool, str]] | None = None
        if not self.skipped:
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jbert-doctor-hub")
            self._future = pool.submit(models.hub_reachable, repo_id)
            pool.shutdown(wait=False)  # do not wait here; hub_reachable itself returns within REACH_TIMEOUT

    def result(self) -> tuple[bool, str]:
        if self._future is None:
            return False, "HF_HUB_OFFLINE=1"
        return self._future.result()


#: The distribution whose metadata (``Requires-Dist``) says which versions the helpers work with.
DISTRIBUTION = "jbert-helpers"


def required_versions(distribution: str = DISTRIBUTION) -> dict[str, str]:
    """The version ranges the installed package declares (its ``Requires-Dist``), by canonical name.

    Read from the installed package's own metadata (a wheel, or an editable install), never from a
    checkout's requirements.txt: doctor answers for the environment it runs in, wherever that is.
    Empty when the package is not installed (imported from a source tree on ``sys.path``).

    >>> required_versions()["transformers"]
    '<6,>=5.0'
    """
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    try:
        requires = importlib.metadata.requires(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    ranges: dict[str, str] = {}
    for line in requires:
        r = Requirement(line)
        if r.marker is None or r.marker.evaluate():
            ranges[canonicalize_name(r.name)] = str(r.specifier)
    return ranges


def check_versions() -> list[Check]:
    """Python and the lesson libraries: installed, and within the ranges the package itself declares."""
    from packaging.specifiers import SpecifierSet
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    rows = []
    py = platform.python_version()
    rows.append(Check("Python", "ok", f"{py} ({sys.executable})"))  # the package requires >= 3.11 to install
    ranges = required_versions()
    if not ranges:
        rows.append(
            Check(
                DISTRIBUTION,
                "warn",
                "パッケージのメタデータがありません (インストールせずにソースから動かしています)",
                "pip install .  (または pip install -e .)",
            )
        )
    for name in LIBRARIES:
        wanted = ranges.get(canonicalize_name(name), "")
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            rows.append(Check(name, "fail", "インストールされていません", f'pip install "{name}{wanted}"'))
            continue
        try:
            inside = Version(version) in SpecifierSet(wanted, prereleases=True)
        except InvalidVersion:
            inside = False
        if wanted and not inside:
            rows.append(
                Check(
                    name,
                    "fail",
                    f"{version} ({DISTRIBUTION} が必要とするのは {name}{wanted})",
                    f'pip install "{name}{wanted}"',
                )
            )
        else:
            rows.append(Check(name, "ok", version + (f" ({wanted})" if wanted else "")))
    return rows


def check_dictionary(module: str, pip_name: str) -> Check:
    """One MeCab dictionary: installed, and tokenizes :data:`SAMPLE` through transformers' MecabTokenizer."""
    name = f"MeCab 辞書 {module}"
    try:
        from transformers.models.bert_japanese.tokenization_bert_japanese import MecabTokenizer

        words = MecabTokenizer(mecab_dic=module).tokenize(SAMPLE)
    except Exception as e:  # noqa: BLE001 (missing module, broken dictionary, fugashi absent: all the same fix)
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        return Check(name, "fail", f"使えません: {type(e).__name__}: {why}", f"pip install {pip_name} fugashi")
    try:
        version = importlib.metadata.version(pip_name)
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    return Check(name, "ok", f"{version}: {'/'.join(words)}")


def check_device() -> Check:
    """The device the lessons compute on, and why (:func:`jbert_helpers.device.choose_device`)."""
    try:
        from ..device import choose_device

        choice = choose_device()
    except JbertError as e:
        return Check("デバイス", "fail", str(e).splitlines()[0], "unset JBERT_DEVICE  (または export JBERT_DEVICE=cpu)")
    except Exception as e:  # noqa: BLE001 (torch itself broken)
        return Check(
            "デバイス", "fail", f"torch が使えません ({type(e).__name__}: {e})", "pip install --force-reinstall torch"
        )
    return Check("デバイス", "ok", f"{choice.device} ({choice.reason})")


def check_hub_cache(repo_id: str = hubcache.HUB_MODEL_ID) -> Check:
    """Where the hub cache is and whether the real model is complete in it (no network)."""
    where = hubcache.hub_cache_dir()
    missing = hubcache.hub_cache_missing(repo_id)
    if not missing:
        snap = hubcache.hub_snapshot_dir(repo_id)
        return Check(
            "Hub キャッシュ", "ok", f"{where}: 本物のモデルは揃っています (revision {snap.name[:12] if snap else '?'})"
        )
    if len(missing) == len(hubcache.CONFIG_FILES) + 1 and not hubcache.repo_folder(repo_id, where).exists():
        return Check("Hub キャッシュ", "info", f"{where}: 本物のモデルはありません (代役で学べます)")
    return Check(
        "Hub キャッシュ",
        "warn",
        f"{where}: 本物のモデルが途中までしかありません (不足: {', '.join(missing)})",
        "接続できるなら `jbert prefetch`、オフラインなら `jbert prefetch --from <コピーしたフォルダ>`",
    )


def check_hub(probe: _HubProbe) -> Check:
    """Whether the hub answered the one bounded attempt."""
    endpoint = hubcache.hub_endpoint()
    if probe.skipped:
        return Check("Hub への接続", "info", "確かめていません (HF_HUB_OFFLINE=1)")
    ok, why = probe.result()
    if ok:
        return Check("Hub への接続", "ok", f"{endpoint}: 届きます ({why})")
    return Check("Hub への接続", "info", f"{endpoint}: 届きません ({why}); キャッシュか代役を使います")


def check_model(probe: _HubProbe) -> tuple[Check, dict[str, str]]:
    """Which model the notebooks will load, and why (:func:`models.choose_model`; may build the stand-in)."""
    try:
        choice = models.choose_model(
            lambda repo: probe.result() if repo == probe.repo_id else models.hub_reachable(repo)
        )
    except JbertError as e:
        lines = str(e).splitlines()
        fix = next((ln for ln in lines if "export" in ln or "jbert" in ln), lines[-1])
        return Check("ノートブックのモデル", "fail", lines[0], fix), {}
    detail = f"{choice.label} ({choice.kind}; 理由: {choice.reason})"
    info = {"label": choice.label, "kind": choice.kind, "reason": choice.reason}
    if choice.kind == "standin":
        detail += " — 重みはランダム。本物は `jbert prefetch`"
    return Check("ノートブックのモデル", "ok", detail), info


def check_standin(model_kind: str | None) -> Check:
    """The stand-in cache: where it is and whether a complete stand-in is in it."""
    from ..standin import STANDIN_VERSION, cache_root, standin_path, standin_problem

    root = cache_root()
    problem = standin_problem(standin_path(root))
    if problem is None:
        return Check("代役キャッシュ", "ok", f"{standin_path(root)}: 揃っています (v{STANDIN_VERSION})")
    writable = _writable(root)
    status: Status = "fail" if model_kind in (None, "standin") or not writable else "info"
    detail = f"{root}: 代役はまだありません ({problem})" + ("" if writable else "; 書き込めません")
    fix = (
        "jbert prefetch --standin"
        if writable
        else "export JBERT_CACHE_DIR=$HOME/.cache/jbert  (書き込める場所) のあと jbert prefetch --standin"
    )
    return Check("代役キャッシュ", status, detail, fix)


def _writable(root: Path) -> bool:
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return os.access(probe, os.W_OK | os.X_OK)


def check_kernel(name: str = KERNEL_NAME) -> Check:
    """Whether the Jupyter kernel the notebooks name is registered, and its Python exists."""
    fix = f'python -m ipykernel install --user --name {name} --display-name "Python 3 ({name})"'
    try:
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

        spec = KernelSpecManager().get_kernel_spec(name)
    except ImportError:
        return Check("Jupyter カーネル", "fail", "jupyter_client がありません", "pip install ipykernel")
    except NoSuchKernel:
        return Check("Jupyter カーネル", "fail", f"カーネル {name!r} が登録されていません", fix)
    exe = spec.argv[0] if spec.argv else ""
    if not (os.path.isfile(exe) or shutil.which(exe)):
        return Check("Jupyter カーネル", "fail", f"カーネル {name!r} の Python {exe} がありません", fix)
    return Check("Jupyter カーネル", "ok", f"{name} → {exe}")


def run_checks() -> Report:
    """Run every check (a few seconds; never waits on the network for more than ~3 s)."""
    probe = _HubProbe(hubcache.HUB_MODEL_ID)
    report = Report()
    report.checks += check_versions()
    report.checks += [check_dictionary(m, p) for m, p in DICTIONARIES]
    report.checks.append(check_device())
    report.checks.append(check_hub_cache())
    report.checks.append(check_hub(probe))
    model_check, report.model = check_model(probe)
    report.checks.append(model_check)
    report.checks.append(check_standin(report.model.get("kind")))
    report.checks.append(check_kernel())
    return report


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def format_table(report: Report) -> str:
    """The report as a readable table, then one fix line per problem, then the verdict."""
    name_w = max(_width(c.name) for c in report.checks)
    lines = [f"   {_pad('項目', name_w)}  内容", "   " + "-" * name_w + "  " + "-" * 40]
    for c in report.checks:
        lines.append(f"{_MARK[c.status]}  {_pad(c.name, name_w)}  {c.detail}")
    problems = [c for c in report.checks if c.fix and c.status in ("warn", "fail")]
    if problems:
        lines.append("")
        lines.append("直し方 / how to fix:")
        for c in problems:
            lines.append(f"  {_MARK[c.status]} {c.name}: {c.fix}")
    lines.append("")
    if report.ok:
        lines.append("→ レッスンはこの環境で動きます。 / The lessons can run here.")
    else:
        lines.append(
            "→ このままではレッスンが動きません。上の直し方を実行してください。 / The lessons cannot run here yet."
        )
    return "\n".join(lines)
