"""``jbert prefetch``: put the real model where the notebooks will find it, before class.

Three ways, one result (the Hugging Face hub cache, or the stand-in cache):

* :func:`prefetch_hub` downloads the files the lessons need (:data:`~jbert_helpers.models.REQUIRED_FILES`)
  when the hub is reachable, with progress bars;
* :func:`import_model` imports a folder or an archive (``.tar``, ``.tar.gz``, ``.tgz``, ``.zip``) a
  teacher copied from another machine (``jbert prefetch --from PATH``), after checking that every
  required file is there and that ``BertJapaneseTokenizer`` and ``BertModel`` load from it;
* ``jbert prefetch --standin`` materialises the offline stand-in (:func:`jbert_helpers.standin.ensure_standin`).

huggingface_hub has no public "import into the cache" call, so :func:`import_model` writes the
documented cache layout itself (https://huggingface.co/docs/hub/local-cache)::

    <HF_HUB_CACHE>/models--tohoku-nlp--bert-base-japanese-whole-word-masking/
        blobs/<etag>                      file contents (git-sha1 for small files, sha256 for weights)
        snapshots/<revision>/<file>       relative symlinks ../../blobs/<etag> (copies if symlinks fail)
        refs/main                         the revision

The revision is the source's own commit hash when the source is a copied snapshot folder
(``…/snapshots/<40 hex>``), else a deterministic hash of the files' contents. Nothing half-written
is ever visible: files are checked and loaded before anything is written, the snapshot is staged
in a temporary folder and renamed into place, and ``refs/main`` is replaced last. Introduced for
teachers (docs/teachers.md), not in a lesson.

Example::

    >>> from jbert_helpers.prefetch import import_model
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

from .errors import JbertError
from .models import HUB_MODEL_ID, REQUIRED_FILES, hub_offline, hub_reachable
from .standin import is_standin

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".zip")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
#: Files stored on the hub through git LFS: their etag is the sha256 of the content.
_LFS_SUFFIXES = (".safetensors", ".bin", ".h5", ".msgpack", ".ckpt")
_SAMPLE = "明日は自然言語処理の勉強をしよう。"


class PrefetchError(JbertError, RuntimeError):
    """The model cannot be fetched or imported; the message says why and what to do."""


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


def hub_cache_dir() -> Path:
    """The hub cache in effect (``HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def repo_folder(repo_id: str, cache_dir: Path | None = None) -> Path:
    """The cache folder of a model repository.

    >>> repo_folder("tohoku-nlp/bert-base-japanese-whole-word-masking", Path("/c")).as_posix()
    '/c/models--tohoku-nlp--bert-base-japanese-whole-word-masking'
    """
    base = cache_dir if cache_dir is not None else hub_cache_dir()
    return base / ("models--" + repo_id.replace("/", "--"))


def _file_hash(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    if algo == "sha1":  # git blob id: what the hub reports as the etag of a non-LFS file
        h.update(b"blob %d\0" % path.stat().st_size)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def etag(path: Path, sha256: str | None = None) -> str:
    """The blob name the hub cache uses for ``path``: sha256 for LFS-stored weights, git sha1 otherwise."""
    if path.name.endswith(_LFS_SUFFIXES):
        return sha256 or _file_hash(path, "sha256")
    return _file_hash(path, "sha1")


def content_revision(folder: Path, files: tuple[str, ...] = REQUIRED_FILES, digests: dict[str, str] | None = None) -> str:
    """A deterministic 40-hex revision for a folder whose commit is unknown: a hash of its files.

    The same files give the same revision on every machine, so importing twice is a no-op.
    ``digests`` may hold the files' sha256 already computed.
    """
    digests = digests or {}
    h = hashlib.sha1()
    for name in sorted(files):
        h.update(f"{name}\0{digests.get(name) or _file_hash(folder / name, 'sha256')}\n".encode())
    return h.hexdigest()


def missing_files(folder: Path) -> list[str]:
    """The required files (:data:`~jbert_helpers.models.REQUIRED_FILES`) that ``folder`` lacks."""
    return [f for f in REQUIRED_FILES if not (folder / f).is_file()]


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


def locate_model(source: Path) -> tuple[Path, str | None]:
    """Find the model folder inside ``source`` and its commit if known: ``(folder, revision)``.

    Accepts a folder holding the files, a copied snapshot (``…/snapshots/<hash>``), a copied
    ``models--owner--name`` folder or hub cache, or any folder with exactly one of those below it.
    """
    if source.name and _COMMIT.match(source.name) and source.parent.name == "snapshots":
        return source, source.name
    refs = source / "refs" / "main"
    if refs.is_file():
        rev = refs.read_text().strip()
        if (source / "snapshots" / rev).is_dir():
            return source / "snapshots" / rev, rev if _COMMIT.match(rev) else None
    if (source / "config.json").is_file():
        return source, None
    candidates = sorted(p.parent for p in source.rglob("config.json") if ".cache" not in p.parts)
    if len(candidates) == 1:
        return locate_model(candidates[0])
    if not candidates:
        return source, None  # reported as "files missing" by the caller
    listing = ", ".join(str(c.relative_to(source)) for c in candidates[:5])
    raise PrefetchError(
        f"{source} の中にモデルらしいフォルダが複数あります ({listing})。どれか 1 つを --from に指定してください。"
    )


def verify_model(folder: Path) -> str:
    """Check that ``folder`` holds every required file and that the tokenizer and model load from it.

    Returns a one-line summary; raises :class:`PrefetchError` naming what is wrong and the fix.
    """
    missing = missing_files(folder)
    if missing:
        raise PrefetchError(
            f"{folder} に必要なファイルがありません: {', '.join(missing)}。"
            f"必要なのは {', '.join(REQUIRED_FILES)} です。接続できる機械で `jbert prefetch` を実行し、"
            "そのモデルのフォルダ (snapshots/<revision>) を丸ごとコピーし直してください。\n"
            f"Missing required files: {', '.join(missing)}; copy the whole snapshot folder again."
        )
    import torch
    from transformers import BertJapaneseTokenizer, BertModel
    from transformers.utils import logging as hf_logging

    try:
        tokenizer = BertJapaneseTokenizer.from_pretrained(str(folder), mecab_kwargs={"mecab_dic": "ipadic"})
        ids = tokenizer(_SAMPLE, return_tensors="pt")
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            model, info = BertModel.from_pretrained(str(folder), output_loading_info=True)
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        model.eval()
        with torch.no_grad():
            out = model(**ids)
    except Exception as e:  # noqa: BLE001 (whatever fails, the folder is unusable: say so)
        raise PrefetchError(
            f"{folder} のモデルを読み込めません ({type(e).__name__}: {e})。ファイルが壊れているか途中までしか"
            "コピーされていません。コピーし直してください。 / The model in this folder does not load; copy it again."
        ) from e
    if info.get("missing_keys"):
        raise PrefetchError(
            f"{folder} の重みに足りないものがあります ({len(info['missing_keys'])} 個、例: {info['missing_keys'][0]})。"
            "別のモデルの重みではないか確かめてください。"
        )
    shape = tuple(out.last_hidden_state.shape)
    return f"トークナイザと BertModel を読み込めました (語彙 {len(tokenizer.vocab):,}, 出力 {shape})"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _install(folder: Path, repo_id: str, revision: str, cache_dir: Path, work: Path, digests: dict[str, str]) -> Path:
    """Write ``folder``'s required files into the hub cache layout; return the snapshot path."""
    repo_dir = repo_folder(repo_id, cache_dir)
    blobs = repo_dir / "blobs"
    snapshots = repo_dir / "snapshots"
    refs = repo_dir / "refs"
    for d in (blobs, snapshots, refs):
        d.mkdir(parents=True, exist_ok=True)
    staged: dict[str, str] = {}
    for name in REQUIRED_FILES:
        src = folder / name
        tag = etag(src, digests.get(name))
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
    ref_tmp = refs / f".main-{os.getpid()}"
    ref_tmp.write_text(revision)
    os.replace(ref_tmp, refs / "main")
    return final


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
        raise PrefetchError(
            f"{src} はフォルダでも対応するアーカイブ ({', '.join(ARCHIVE_SUFFIXES)}) でもありません。"
        )
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
            folder, known = locate_model(work / "src")
        else:
            folder, known = locate_model(src)
        if is_standin(folder):
            raise PrefetchError(
                f"{folder} は代役 (stand-in: 重みがランダム) で、本物のモデルではありません。本物のモデルのフォルダを指定するか、"
                "代役なら `jbert prefetch --standin` を使ってください。"
            )
        summary = verify_model(folder)
        print(f"[jbert] 確認: {summary}", flush=True)
        digests = {n: _file_hash(folder / n, "sha256") for n in REQUIRED_FILES if n.endswith(_LFS_SUFFIXES)}
        rev = revision or known or content_revision(folder, digests=digests)
        snapshot = _install(folder, repo_id, rev, cache, work, digests)
    except OSError as e:
        raise PrefetchError(f"取り込みに失敗しました ({e})。ディスクの空き (約 450 MB) と書き込み権限を確かめてください。") from e
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ImportResult(repo_id, rev, snapshot, REQUIRED_FILES)


def prefetch_hub(repo_id: str = HUB_MODEL_ID, *, cache_dir: str | os.PathLike[str] | None = None) -> ImportResult:
    """Download the required files of ``repo_id`` from the hub and install them into the cache.

    Checks reachability first (≤ 3 s), so an unreachable hub fails at once with the offline
    recipe instead of retrying for minutes. Downloads into a temporary folder inside the cache,
    verifies, then installs exactly like :func:`import_model`.
    """
    if hub_offline():
        raise PrefetchError(
            "HF_HUB_OFFLINE=1 なのでダウンロードしません。接続できるなら `HF_HUB_OFFLINE= jbert prefetch`、"
            "オフラインなら別の機械から `jbert prefetch --from <コピーしたフォルダ>`。"
        )
    ok, why = hub_reachable(repo_id)
    if not ok:
        raise PrefetchError(
            f"Hub ({os.environ.get('HF_ENDPOINT', 'https://huggingface.co')}) に届きません ({why})。"
            "接続できる機械で `jbert prefetch` を実行し、キャッシュのフォルダ "
            f"({repo_folder(repo_id).name}) をコピーして、ここで `jbert prefetch --from <そのフォルダ>`。"
            " 代役だけなら `jbert prefetch --standin`。"
        )
    from huggingface_hub import HfApi, snapshot_download

    cache = Path(cache_dir) if cache_dir is not None else hub_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".jbert-download-", dir=cache))
    try:
        sha = HfApi().model_info(repo_id).sha
        print(f"[jbert] ダウンロード: {repo_id} (revision {str(sha)[:12]}) {', '.join(REQUIRED_FILES)}", flush=True)
        snapshot_download(repo_id, revision=sha, allow_patterns=list(REQUIRED_FILES), local_dir=work / "dl")
        print(f"[jbert] 確認: {verify_model(work / 'dl')}", flush=True)
        rev = sha if sha and _COMMIT.match(sha) else content_revision(work / "dl")
        snapshot = _install(work / "dl", repo_id, rev, cache, work, {})
    except JbertError:
        raise
    except Exception as e:  # noqa: BLE001 (network/hub errors: one clear message)
        raise PrefetchError(
            f"ダウンロードに失敗しました ({type(e).__name__}: {e})。もう一度 `jbert prefetch` を実行してください"
            " (途中のファイルは残りません)。"
        ) from e
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ImportResult(repo_id, rev, snapshot, REQUIRED_FILES)
