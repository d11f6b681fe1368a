"""Which model the notebooks load: the real Tohoku BERT when it can be loaded, else the stand-in.

The book's ``BertJapaneseTokenizer.from_pretrained("tohoku-nlp/…")`` with the hub unreachable
retries for about four minutes and then fails with an unrelated ``TypeError``. Lessons call
:func:`resolve_model_name` instead, which decides within seconds and says which model it chose,
why, and how to get the real one. Introduced in lesson 04-03.

Order of decision:

1. ``JBERT_MODEL`` (a hub id, a local directory, or ``standin``) wins.
2. The real model, when it is complete in the Hugging Face cache (huggingface_hub's cache API,
   no network). If the hub is not reachable, the cached snapshot's directory is returned, so
   loading never waits on the network.
3. Unless ``HF_HUB_OFFLINE=1``: one bounded reachability check of the hub (≤ 3 s in all, also
   when the endpoint accepts connections and never answers, or DNS hangs).
4. Otherwise the offline stand-in (:mod:`jbert_helpers.standin`).

Example::

    >>> import os; os.environ["JBERT_MODEL"] = "standin"
    >>> name = resolve_model_name()          # doctest: +SKIP
    [jbert] モデル: 代役 (stand-in) …
"""

from __future__ import annotations

import os
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .errors import ModelResolutionError
from .hubcache import HUB_MODEL_ID, folder_missing, hub_endpoint, hub_snapshot_dir
from .standin import ensure_standin, is_standin

#: The sentence the tools load a model or a dictionary with (the book's first example, 4-3).
SAMPLE = "明日は自然言語処理の勉強をしよう。"
#: Total time budget of one reachability check, in seconds.
REACH_TIMEOUT = 3.0
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
HOW_TO_GET_REAL = (
    "本物を使うには: ネットにつながる所で `jbert prefetch`、または `jbert prefetch --from <コピーしたフォルダ>`"
)

Kind = Literal["hub", "local", "standin"]
#: How :func:`choose_model` asks whether the hub serves a repo: ``(reachable, why)``.
ReachCheck = Callable[[str], tuple[bool, str]]


@dataclass(frozen=True)
class ModelChoice:
    """The model a lesson will load.

    ``name`` is what to pass to ``from_pretrained``; ``label`` is what to call it in print and in
    notebook metadata (``standin`` or the hub id / directory name); ``reason`` says why.
    """

    name: str
    kind: Kind
    label: str
    reason: str

    def banner(self) -> str:
        """The one line :func:`resolve_model_name` prints."""
        if self.kind == "standin":
            return (
                "[jbert] モデル: 代役 (stand-in) — 語彙・トークナイザ・構造は本物と同じ、重みはランダム"
                f"（理由: {self.reason}）。{HOW_TO_GET_REAL}"
            )
        return f"[jbert] モデル: {self.label}（理由: {self.reason}）"


def hub_offline() -> bool:
    """True when the learner switched the hub off (``HF_HUB_OFFLINE`` set to a true value)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def hub_reachable(repo_id: str = HUB_MODEL_ID, timeout: float = REACH_TIMEOUT) -> tuple[bool, str]:
    """One bounded attempt to reach the hub: ``(reachable, why)`` within ``timeout`` seconds.

    The request runs in a daemon thread and is abandoned at the deadline, so neither a DNS
    lookup that hangs nor a server that accepts and never answers can hold a lesson up.
    """
    url = f"{hub_endpoint()}/{repo_id}/resolve/main/config.json"
    result: list[tuple[bool, str]] = []

    def attempt() -> None:
        req = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "jbert"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (fixed https/http url)
                result.append((resp.status < 400, f"HTTP {resp.status}"))
        except urllib.error.HTTPError as e:
            result.append((False, f"HTTP {e.code}"))
        except Exception as e:  # noqa: BLE001 (any failure means: not reachable)
            result.append((False, type(e).__name__))

    t = threading.Thread(target=attempt, daemon=True, name="jbert-hub-check")
    t.start()
    t.join(timeout)
    if not result:
        return False, f"{timeout:.0f} 秒以内に応答なし"
    return result[0]


def _from_hub_id(repo_id: str, source: str, reachable: ReachCheck) -> ModelChoice:
    snapshot = hub_snapshot_dir(repo_id)
    if snapshot is not None:
        if hub_offline():
            return ModelChoice(repo_id, "hub", repo_id, f"{source}キャッシュ済み、HF_HUB_OFFLINE=1")
        ok, _ = reachable(repo_id)
        if ok:
            return ModelChoice(repo_id, "hub", repo_id, f"{source}キャッシュ済み")
        return ModelChoice(
            str(snapshot), "hub", repo_id, f"{source}キャッシュ済み、Hub に届かないのでキャッシュから直接"
        )
    if hub_offline():
        return ModelChoice("", "hub", repo_id, "キャッシュになく HF_HUB_OFFLINE=1")
    ok, why = reachable(repo_id)
    if ok:
        return ModelChoice(repo_id, "hub", repo_id, f"{source}Hub からダウンロード")
    return ModelChoice("", "hub", repo_id, f"キャッシュになく Hub にも届かない ({why})")


def choose_model(reachable: ReachCheck | None = None) -> ModelChoice:
    """Decide which model the lessons load, without loading it (see the module docstring).

    ``reachable`` answers whether the hub serves a repo; by default :func:`hub_reachable` (one
    bounded attempt). ``jbert doctor`` passes the answer of the attempt it already made.
    """
    reachable = reachable or hub_reachable
    wanted = os.environ.get("JBERT_MODEL", "").strip()
    if wanted.lower() == "standin":
        return ModelChoice(str(ensure_standin()), "standin", "standin", "環境変数 JBERT_MODEL=standin")
    if wanted:
        path = Path(wanted).expanduser()
        if path.is_dir():
            if is_standin(path):
                return ModelChoice(str(path), "standin", "standin", f"JBERT_MODEL={wanted}")
            missing = folder_missing(path)
            if missing:
                raise ModelResolutionError(
                    f"JBERT_MODEL={wanted} のフォルダに {', '.join(missing)} がありません。"
                    "`jbert prefetch --from <フォルダ>` で確かめてから取り込むか、JBERT_MODEL を外してください。"
                )
            return ModelChoice(str(path), "local", str(path), f"JBERT_MODEL={wanted}")
        if not _HUB_ID.match(wanted):
            raise ModelResolutionError(
                f"JBERT_MODEL={wanted!r} はフォルダでも Hub の id (owner/name) でもありません。"
                f"例: JBERT_MODEL=standin、JBERT_MODEL={HUB_MODEL_ID}"
            )
        choice = _from_hub_id(wanted, "JBERT_MODEL で指定、", reachable)
        if not choice.name:
            raise ModelResolutionError(
                f"JBERT_MODEL={wanted} を読み込めません: {choice.reason}。"
                "`jbert prefetch` で取得するか、JBERT_MODEL=standin にしてください。"
            )
        return choice
    choice = _from_hub_id(HUB_MODEL_ID, "", reachable)
    if choice.name:
        return choice
    return ModelChoice(str(ensure_standin()), "standin", "standin", f"本物のモデルが{choice.reason}")


def resolve_model_name(*, quiet: bool = False) -> str:
    """Return what to pass to ``from_pretrained``, printing one line on which model and why.

    Used at the top of every lesson::

        model_name = resolve_model_name()
        tokenizer = BertJapaneseTokenizer.from_pretrained(model_name, mecab_kwargs={"mecab_dic": "ipadic"})

    Returns within seconds whatever the network does (see :func:`hub_reachable`).
    Raises :class:`~jbert_helpers.errors.ModelResolutionError` when ``JBERT_MODEL`` names
    something unusable, with the fix.
    """
    choice = choose_model()
    if not quiet:
        print(choice.banner())
    return choice.name
