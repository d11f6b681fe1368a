"""``jbert prefetch``: put the real model where the notebooks will find it, before class.

Three ways, one result (the Hugging Face hub cache, or the stand-in cache):

* :func:`prefetch_hub` downloads what the Hub's ``main`` has of the files the lessons need
  (:data:`~jbert_helpers.models.CONFIG_FILES` and the weights, ``model.safetensors`` if ``main`` has
  it, else ``pytorch_model.bin`` — the real repo serves only the latter), pinned to the commit the
  Hub names, straight into the cache with ``snapshot_download``; ``refs/main`` is written only after
  the tokenizer and ``BertModel`` loaded from the download;
* :func:`import_model` imports a folder or an archive (``.tar``, ``.tar.gz``, ``.tgz``, ``.zip``) a
  teacher copied from another machine (``jbert prefetch --from PATH``) — a plain model folder, or a
  hub cache as transformers leaves it (``refs/main`` → a snapshot with ``pytorch_model.bin``, and the
  conversion bot's ``refs/pr/N`` with ``model.safetensors``) — after checking that the tokenizer and
  ``BertModel`` load from it;
* ``jbert prefetch --standin`` materialises the offline stand-in (:func:`jbert_helpers.standin.ensure_standin`).

huggingface_hub has no public "import into the cache" call, so :func:`import_model` writes the
documented cache layout itself (https://huggingface.co/docs/hub/local-cache)::

    <HF_HUB_CACHE>/models--tohoku-nlp--bert-base-japanese-whole-word-masking/
        blobs/<etag>                      file contents (git-sha1 for small files, sha256 for weights)
        snapshots/<revision>/<file>       relative symlinks ../../blobs/<etag> (copies if symlinks fail)
        refs/main                         the revision

The revision is the source's own commit hash when the source is a copied snapshot (``…/snapshots/<40 hex>``
or a cache with ``refs/main``), else a deterministic hash of the files' contents. Nothing half-written
is ever visible: files are checked and loaded before anything is written, the snapshot is staged
in a temporary folder and renamed into place, and ``refs/main`` is replaced last. Introduced for
teachers (docs/teachers.md), not in a lesson.

Example::

    >>> from jbert_helpers.tools.prefetch import import_model
    >>> result = import_model("/media/usb/bert-wwm")          # doctest: +SKIP
    >>> result.revision[:8], result.snapshot.name[:8]         # doctest: +SKIP
    ('3a1b…', '3a1b…')
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from ..errors import JbertError, PrefetchError
from ..hubcache import (
    CONFIG_FILES,
    HUB_MODEL_ID,
    WEIGHT_FILES,
    folder_missing,
    hub_cache_dir,
    hub_endpoint,
    repo_folder,
)
from ..models import SAMPLE, hub_offline, hub_reachable
from ..standin import HEAD_KEYS, is_standin, sha256_file

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".zip")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
#: Files stored on the hub through git LFS: their etag is the sha256 of the content.
_LFS_SUFFIXES = (".safetensors", ".bin", ".h5", ".msgpack", ".ckpt")


@dataclass(frozen=True)
class ImportResult:
    """Where an imported (or downloaded) model now lives in the hub cache."""

    repo_id: str
    revision: str
    snapshot: Path
    files: tuple[str, ...]

    def __str__(self) -> str:
        return (
            f"取り込み完了 / imported: {self.repo_id} (revision {self.revision[:12]}) → {self.snapshot}\n"
            f"  ファイル: {', '.join(self.files)}"
        )


def _git_blob_sha1(path: Path) -> str:
    """The git blob id of a file: what the hub reports as the etag of a non-LFS file."""
    h = hashlib.sha1()
    h.update(b"blob %d\0" % path.stat().st_size)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def etag(path: Path, sha256: str | None = None) -> str:
    """The blob name the hub cache uses for ``path``: sha256 for LFS-stored weights, git sha1 otherwise."""
    if path.name.endswith(_LFS_SUFFIXES):
        return sha256 or sha256_file(path)
    return _git_blob_sha1(path)


def model_files(folder: Path) -> tuple[str, ...]:
    """The files of ``folder`` that make the model: :data:`CONFIG_FILES` and whichever weights it has."""
    return (*CONFIG_FILES, *(w for w in WEIGHT_FILES if (folder / w).is_file()))


def content_revision(folder: Path, files: tuple[str, ...] | None = None, digests: dict[str, str] | None = None) -> str:
    """A deterministic 40-hex revision for a folder whose commit is unknown: a hash of its files.

    The same files give the same revision on every machine, so importing twice is a no-op.
    ``digests`` may hold the files' sha256 already computed.
    """
    digests = digests or {}
    h = hashlib.sha1()
    for name in sorted(files or model_files(folder)):
        h.update(f"{name}\0{digests.get(name) or sha256_file(folder / name)}\n".encode())
    return h.hexdigest()


def _is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _extract(archive: Path, dest: Path) -> None:
    """Unpack ``archive`` into ``dest``, refusing members that would land outside it."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                root = dest.resolve()
                for member in zf.namelist():
                    target = (dest / member).resolve()
                    if root != target and root not in target.parents:
                        raise PrefetchError(f"{archive} に外へ出るパス {member!r} があります。展開しません。")
                zf.extractall(dest)
        else:
            with tarfile.open(archive) as tf:
                tf.extractall(dest, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as e:
        raise PrefetchError(
            f"アーカイブ {archive} を展開できません ({e})。コピーが途中で切れていないか確かめ、"
            "もう一度コピーしてください。 / Cannot unpack the archive; copy it again."
        ) from e


@dataclass(frozen=True)
class ModelSource:
    """A model found inside what the teacher copied: where each file is, and the commit if known."""

    folder: Path
    revision: str | None
    files: dict[str, Path]


def _conversion_weights(repo: Path) -> Path | None:
    """``model.safetensors`` of the conversion bot's revision in a copied cache (``refs/pr/N``), if any."""
    for ref in sorted((repo / "refs" / "pr").glob("*")):
        rev = ref.read_text().strip() if ref.is_file() else ""
        candidate = repo / "snapshots" / rev / "model.safetensors"
        if rev and candidate.is_file():
            return candidate
    return None


def locate_model(source: Path) -> ModelSource:
    """Find the model inside ``source``: its folder, its commit if known, and its files.

    Accepts a folder holding the files, a copied snapshot (``…/snapshots/<hash>``), a copied
    ``models--owner--name`` folder or hub cache — including one filled by transformers itself, whose
    ``main`` has ``pytorch_model.bin`` and whose ``refs/pr/N`` has the converted ``model.safetensors``
    (used when ``main`` has no weights) — or any folder with exactly one of those below it.
    """
    repo: Path | None = None
    rev: str | None
    if source.name and _COMMIT.match(source.name) and source.parent.name == "snapshots":
        folder, rev, repo = source, source.name, source.parent.parent
    elif (source / "refs" / "main").is_file() and (
        source / "snapshots" / (main := (source / "refs" / "main").read_text().strip())
    ).is_dir():
        folder, rev, repo = source / "snapshots" / main, (main if _COMMIT.match(main) else None), source
    elif (source / "config.json").is_file():
        folder, rev = source, None
    else:
        repos = {p.parent.parent for p in source.rglob("refs/main")}  # copied caches
        folders = {p.parent for p in source.rglob("config.json") if not any(r in p.parents for r in repos)}
        candidates = sorted(c for c in repos | folders if ".cache" not in c.relative_to(source).parts)
        if len(candidates) == 1:
            return locate_model(candidates[0])
        if not candidates:
            return ModelSource(source, None, {})  # reported as "files missing" by the caller
        listing = ", ".join(str(c.relative_to(source)) for c in candidates[:5])
        raise PrefetchError(
            f"{source} の中にモデルらしいフォルダが複数あります ({listing})。どれか 1 つを --from に指定してください。"
        )
    files = {name: folder / name for name in model_files(folder)}
    if not any(w in files for w in WEIGHT_FILES) and repo is not None:
        converted = _conversion_weights(repo)
        if converted is not None:
            files["model.safetensors"] = converted
    return ModelSource(folder, rev, files)


def _load_quietly(folder: Path) -> tuple[Any, dict[str, Any], Any]:
    """Load the tokenizer and ``BertModel`` from ``folder`` without transformers' bars and LOAD REPORT."""
    from transformers import BertJapaneseTokenizer, BertModel
    from transformers.utils import logging as hf_logging

    bars, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()  # the report is checked below, and explained in lesson 04-14
    try:
        tokenizer = BertJapaneseTokenizer.from_pretrained(str(folder), mecab_kwargs={"mecab_dic": "ipadic"})
        model, info = cast(tuple[Any, dict[str, Any]], BertModel.from_pretrained(str(folder), output_loading_info=True))
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    return tokenizer, info, model


def verify_model(folder: Path) -> str:
    """Check that ``folder`` holds the model files and that the tokenizer and model load from it.

    The only weights ``BertModel`` may leave unused are the pre-training heads
    (:data:`~jbert_helpers.standin.HEAD_KEYS`); none may be missing. Returns a one-line summary;
    raises :class:`PrefetchError` naming what is wrong and the fix.
    """
    missing = folder_missing(folder)
    if missing:
        raise PrefetchError(
            f"{folder} に必要なファイルがありません: {', '.join(missing)}。"
            f"必要なのは {', '.join(CONFIG_FILES)} と重み ({' か '.join(WEIGHT_FILES)}) です。接続できる機械で "
            "`jbert prefetch` を実行し、そのモデルのフォルダ (models--… ごと、または snapshots/<revision>) を"
            "丸ごとコピーし直してください。\n"
            f"Missing required files: {', '.join(missing)}; copy the whole model folder again."
        )
    import torch

    try:
        tokenizer, info, model = _load_quietly(folder)
        ids = tokenizer(SAMPLE, return_tensors="pt")
        model.eval()
        with torch.no_grad():
            out = model(**ids)
    except Exception as e:  # noqa: BLE001 (whatever fails, the folder is unusable: say so)
        raise PrefetchError(
            f"{folder} のモデルを読み込めません ({type(e).__name__}: {e})。ファイルが壊れているか途中までしか"
            "コピーされていません。コピーし直してください。 / The model in this folder does not load; copy it again."
        ) from e
    if info.get("missing_keys"):
        missing_keys = sorted(info["missing_keys"])
        raise PrefetchError(
            f"{folder} の重みに足りないものがあります ({len(missing_keys)} 個、例: {missing_keys[0]})。"
            "別のモデルの重みではないか確かめてください。"
        )
    foreign = sorted(set(info.get("unexpected_keys", ())) - set(HEAD_KEYS))
    if foreign:
        raise PrefetchError(
            f"{folder} の重みに BertModel の知らないものがあります ({len(foreign)} 個、例: {foreign[0]})。"
            "別のモデルの重みではないか確かめてください。"
        )
    heads = len(info.get("unexpected_keys", ()))
    shape = tuple(out.last_hidden_state.shape)
    return (
        f"トークナイザと BertModel を読み込めました (語彙 {len(tokenizer.vocab):,}, 出力 {shape}"
        + (f"; 事前学習ヘッドの重み {heads} 個は BertModel では使いません" if heads else "")
        + ")"
    )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _install(
    files: dict[str, Path], repo_id: str, revision: str, cache_dir: Path, work: Path, digests: dict[str, str]
) -> Path:
    """Write ``files`` (name → source) into the hub cache layout; return the snapshot path."""
    repo_dir = repo_folder(repo_id, cache_dir)
    blobs = repo_dir / "blobs"
    snapshots = repo_dir / "snapshots"
    refs = repo_dir / "refs"
    for d in (blobs, snapshots, refs):
        d.mkdir(parents=True, exist_ok=True)
    staged: dict[str, str] = {}
    for name, src in files.items():
        tag = etag(src, digests.get(name))  # src.name == name (converted weights keep their name)
        staged[name] = tag
        if (blobs / tag).is_file() and (blobs / tag).stat().st_size == src.stat().st_size:
            continue
        tmp = work / f"blob-{tag}"
        shutil.copyfile(src, tmp)  # work is in the cache: the replace below does not copy again
        os.replace(tmp, blobs / tag)  # a blob is content-addressed: harmless until a snapshot uses it
    stage = Path(tempfile.mkdtemp(prefix=".jbert-stage-", dir=snapshots))  # same depth as snapshots/<rev>
    try:
        stage.chmod(0o777 & ~_umask())  # mkdtemp makes 0700: others sharing the cache must read it
        for name, tag in staged.items():
            link = stage / name
            try:
                link.symlink_to(Path("..") / ".." / "blobs" / tag)
            except OSError:  # no symlinks (Windows without developer mode): a plain copy, as huggingface_hub does
                shutil.copyfile(blobs / tag, link)
        final = snapshots / revision
        if final.exists():
            old = work / "old-snapshot"
            os.rename(final, old)
        os.rename(stage, final)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    _write_ref(refs / "main", revision)
    return final


def _write_ref(ref: Path, revision: str) -> None:
    """Point ``ref`` at ``revision`` atomically (a reader sees the old or the new commit, never half)."""
    ref.parent.mkdir(parents=True, exist_ok=True)
    tmp = ref.parent / f".{ref.name}-{os.getpid()}"
    tmp.write_text(revision)
    os.replace(tmp, ref)


def import_model(
    source: str | os.PathLike[str],
    *,
    repo_id: str = HUB_MODEL_ID,
    cache_dir: str | os.PathLike[str] | None = None,
    revision: str | None = None,
) -> ImportResult:
    """Import a copied model folder or archive into the hub cache as ``repo_id`` (``jbert prefetch --from``).

    After it, :func:`jbert_helpers.resolve_model_name` finds the real model offline. Raises
    :class:`PrefetchError` (and writes nothing into the cache) when a file is missing or the model
    does not load.
    """
    src = Path(source).expanduser()
    if not src.exists():
        raise PrefetchError(f"{src} がありません。コピーしたフォルダかアーカイブのパスを指定してください。")
    if not (src.is_dir() or _is_archive(src)):
        raise PrefetchError(f"{src} はフォルダでも対応するアーカイブ ({', '.join(ARCHIVE_SUFFIXES)}) でもありません。")
    cache = Path(cache_dir) if cache_dir is not None else hub_cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".jbert-import-", dir=cache))
    except OSError as e:
        raise PrefetchError(
            f"Hub のキャッシュ {cache} に書き込めません ({e.strerror or e})。書き込める場所を指定してください: "
            "export HF_HUB_CACHE=$HOME/.cache/huggingface/hub (共有の読み取り専用キャッシュなら管理者が取り込みます)"
        ) from e
    try:
        if _is_archive(src):
            _extract(src, work / "src")
            found = locate_model(work / "src")
        else:
            found = locate_model(src)
        if is_standin(found.folder):
            raise PrefetchError(
                f"{found.folder} は代役 (stand-in: 重みがランダム) で、本物のモデルではありません。本物のモデルのフォルダを指定するか、"
                "代役なら `jbert prefetch --standin` を使ってください。"
            )
        check_dir = found.folder
        if any(path.parent != found.folder for path in found.files.values()):  # weights from refs/pr/N
            check_dir = work / "check"
            check_dir.mkdir()
            for name, path in found.files.items():
                (check_dir / name).symlink_to(path.resolve())
        summary = verify_model(check_dir)
        print(f"[jbert] 確認: {summary}", flush=True)
        digests = {n: sha256_file(p) for n, p in found.files.items() if n.endswith(_LFS_SUFFIXES)}
        rev = revision or found.revision or content_revision(check_dir, tuple(found.files), digests)
        snapshot = _install(found.files, repo_id, rev, cache, work, digests)
    except OSError as e:
        raise PrefetchError(
            f"取り込みに失敗しました ({e})。ディスクの空き (約 450 MB) と書き込み権限を確かめてください。"
        ) from e
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ImportResult(repo_id, rev, snapshot, tuple(found.files))


def prefetch_hub(repo_id: str = HUB_MODEL_ID, *, cache_dir: str | os.PathLike[str] | None = None) -> ImportResult:
    """Download what ``repo_id``'s ``main`` has of the lesson files into the hub cache, pinned to one commit.

    Checks reachability first (≤ 3 s), so an unreachable hub fails at once with the offline recipe
    instead of retrying for minutes. Asks the Hub which files ``main`` has (the real repo has
    ``pytorch_model.bin`` and no ``model.safetensors``), downloads the config files and those weights
    with ``snapshot_download`` at the commit it named, loads them, and only then points ``refs/main``
    at that commit. A failed or cut download leaves ``refs/main`` as it was and removes the new snapshot.
    """
    if hub_offline():
        raise PrefetchError(
            "HF_HUB_OFFLINE=1 なのでダウンロードしません。接続できるなら `HF_HUB_OFFLINE= jbert prefetch`、"
            "オフラインなら別の機械から `jbert prefetch --from <コピーしたフォルダ>`。"
        )
    ok, why = hub_reachable(repo_id)
    if not ok:
        raise PrefetchError(
            f"Hub ({hub_endpoint()}) に届きません ({why})。"
            "接続できる機械で `jbert prefetch` を実行し、キャッシュのフォルダ "
            f"({repo_folder(repo_id).name}) をコピーして、ここで `jbert prefetch --from <そのフォルダ>`。"
            " 代役だけなら `jbert prefetch --standin`。"
        )
    from huggingface_hub import HfApi, snapshot_download

    cache = Path(cache_dir) if cache_dir is not None else hub_cache_dir()
    snapshot: Path | None = None
    existed = False
    try:
        info = HfApi().model_info(repo_id, revision="main")
        sha = str(info.sha or "")
        names = {s.rfilename for s in info.siblings or []}
        weights = next((w for w in WEIGHT_FILES if w in names), None)
        lacking = [f for f in CONFIG_FILES if f not in names] + ([] if weights else [" か ".join(WEIGHT_FILES)])
        if lacking or not _COMMIT.match(sha):
            raise PrefetchError(
                f"Hub の {repo_id} (main) に必要なファイルがありません: {', '.join(lacking) or 'commit'}。"
                "リポジトリ名 (--repo) を確かめてください。"
            )
        files = (*CONFIG_FILES, str(weights))
        snapshot = repo_folder(repo_id, cache) / "snapshots" / sha
        existed = snapshot.exists()
        print(f"[jbert] ダウンロード: {repo_id} (revision {sha[:12]}) {', '.join(files)}", flush=True)
        folder = Path(snapshot_download(repo_id, revision=sha, allow_patterns=list(files), cache_dir=cache))
        print(f"[jbert] 確認: {verify_model(folder)}", flush=True)
        _write_ref(repo_folder(repo_id, cache) / "refs" / "main", sha)
    except Exception as e:
        if snapshot is not None and not existed:
            shutil.rmtree(snapshot, ignore_errors=True)  # blobs stay: content-addressed, reused by a retry
        if isinstance(e, JbertError):
            raise
        raise PrefetchError(
            f"ダウンロードに失敗しました ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})。"
            "もう一度 `jbert prefetch` を実行してください (途中のファイルは使われません)。"
        ) from e
    return ImportResult(repo_id, sha, folder, files)
