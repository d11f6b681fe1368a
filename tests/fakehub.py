"""A fake Hugging Face Hub on 127.0.0.1 that serves the stand-in replica as the real repository.

It answers the requests huggingface_hub 2.x and transformers 5.x make, the way the Hub does (the
shapes are those of ``huggingface_hub/file_download.py``, ``hf_api.py`` and
``transformers/safetensors_conversion.py``):

* ``HEAD``/``GET /{repo}/resolve/{revision}/{file}`` with ``X-Repo-Commit`` and ``ETag`` (git blob
  sha1) for small files; for LFS files (weights) a 302 to ``/lfs/<sha256>`` with ``X-Linked-Etag``
  and ``X-Linked-Size``, as the Hub redirects to its CDN; ``Range`` requests; a missing file is a
  404 with ``X-Error-Code: EntryNotFound`` (and the commit), an unknown revision ``RevisionNotFound``;
* ``GET /api/models/{repo}[/revision/{rev}]`` (model info, ``?blobs=true`` adds sizes and LFS data);
* ``GET /api/models/{repo}/commits/{rev}`` and ``/discussions``: the conversion bot's open pull
  request ``refs/pr/1`` ("Adding `safetensors` variant of this model", by SFconvertbot, whose
  parent is ``main``), so transformers' background conversion finds it and never calls the
  outside conversion service.

Revisions as on the Hub today: ``main`` has ``pytorch_model.bin`` and no ``model.safetensors``;
``refs/pr/1`` has ``main``'s files plus ``model.safetensors``. ``safetensors_on_main=True`` gives the
variant whose ``main`` has ``model.safetensors`` instead. ``fault`` makes the weights' download fail:
``"404"``, ``"500"``, or ``"short"`` (the connection closes half-way through the body).

The server listens on 127.0.0.1 only, answers at most ``max_requests`` requests and stops by itself
after ``lifetime`` seconds. Every request is logged (method, path, status) in :attr:`FakeHub.log`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from jbert_helpers.hubcache import HUB_MODEL_ID
from jbert_helpers.standin import HUB_FILES, SAFE_WEIGHTS_NAME, WEIGHTS_NAME, sha256_file
from jbert_helpers.tools.prefetch import etag

LFS_SUFFIXES = (".bin", ".safetensors")
GITATTRIBUTES = "*.bin filter=lfs diff=lfs merge=lfs -text\n*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
README = "---\nlanguage: ja\nlicense: cc-by-sa-4.0\n---\n\n# BERT base Japanese (IPA dictionary, whole word masking enabled)\n"
PR_TITLE = "Adding `safetensors` variant of this model"


def _commit(label: str) -> str:
    return hashlib.sha1(f"jbert fake hub: {label}".encode()).hexdigest()


@dataclass
class _File:
    path: Path
    size: int
    etag: str  # git sha1 (small files) or sha256 (LFS)
    lfs: bool


@dataclass
class FakeHub:
    """Serve ``main_files`` (name → path) as ``repo_id``'s ``main``, and ``pr_files`` on ``refs/pr/1``."""

    main_files: dict[str, Path]
    pr_files: dict[str, Path]
    repo_id: str = HUB_MODEL_ID
    fault: str | None = None
    max_requests: int = 5000
    lifetime: float = 1800.0
    log: list[tuple[str, str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.main_commit = _commit("main")
        self.pr_commit = _commit("refs/pr/1")
        self.initial_commit = _commit("initial")
        self._files: dict[str, _File] = {}
        for name, path in {**self.main_files, **self.pr_files}.items():
            lfs = name.endswith(LFS_SUFFIXES)
            digest = sha256_file(path) if lfs else etag(path)
            self._files[name] = _File(path, path.stat().st_size, digest, lfs)
        self._by_sha = {f.etag: f for f in self._files.values() if f.lfs}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- what each revision holds -----------------------------------------------------------------
    def revision(self, rev: str) -> tuple[str, dict[str, Path]] | None:
        """``(commit, files)`` of ``rev`` (a branch, ``refs/pr/1`` or a commit), or None."""
        if rev in ("main", self.main_commit):
            return self.main_commit, self.main_files
        if rev in ("refs/pr/1", self.pr_commit):
            return self.pr_commit, self.pr_files
        return None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def requests(self, needle: str = "") -> list[tuple[str, str, int]]:
        """Logged requests whose path contains ``needle``."""
        with self._lock:
            return [r for r in self.log if needle in r[1]]

    # --- server -----------------------------------------------------------------------------------
    def start(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
                pass

            def do_HEAD(self) -> None:  # noqa: N802 (stdlib name)
                hub._handle(self, head=True)

            def do_GET(self) -> None:  # noqa: N802
                hub._handle(self, head=False)

            def do_POST(self) -> None:  # noqa: N802
                hub._reply(self, 404, {"error": "not served"}, head=False)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._cdn = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # another origin, as the Hub's CDN is
        for server in (self._server, self._cdn):
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True, name="fake-hub").start()
        self._port, self._cdn_port = self._server.server_address[1], self._cdn.server_address[1]
        self._timer = threading.Timer(self.lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            self._timer.cancel()
            for each in (server, self._cdn):
                each.shutdown()
                each.server_close()

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- handlers ---------------------------------------------------------------------------------
    def _reply(
        self, h: BaseHTTPRequestHandler, status: int, body: object, *, head: bool, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Type", "application/json" if not isinstance(body, bytes) else "text/plain")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if not head:
            h.wfile.write(data)
        with self._lock:
            self.log.append((h.command, h.path, status))

    def _handle(self, h: BaseHTTPRequestHandler, *, head: bool) -> None:
        with self._lock:
            over = len(self.log) >= self.max_requests
        if over:
            self._reply(h, 503, {"error": "fake hub: request budget spent"}, head=head)
            return
        parts = urlsplit(h.path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        api = f"/api/models/{self.repo_id}"
        if path.startswith(f"/{self.repo_id}/resolve/"):
            bits = path[len(f"/{self.repo_id}/resolve/") :].split("/")
            cut = 3 if bits[0] == "refs" else 1  # "refs/pr/1/<file>" or "<branch or commit>/<file>"
            self._resolve(h, "/".join(bits[:cut]), "/".join(bits[cut:]), head=head)
        elif path.startswith("/lfs/"):
            self._lfs(h, path[len("/lfs/") :], head=head)
        elif path == api or path.startswith(f"{api}/revision/"):
            rev = path[len(f"{api}/revision/") :] if path != api else "main"
            self._info(h, rev, blobs=query.get("blobs") == ["True"] or query.get("blobs") == ["true"], head=head)
        elif path.startswith(f"{api}/commits/"):
            self._commits(h, path[len(f"{api}/commits/") :], head=head)
        elif path == f"{api}/discussions":
            self._discussions(h, head=head)
        elif path.startswith(f"{api}/tree/"):
            self._tree(h, path[len(f"{api}/tree/") :], head=head)
        elif path.startswith("/api/models/") or path.count("/") >= 3:
            self._reply(h, 404, {"error": "Repository not found"}, head=head, headers={"X-Error-Code": "RepoNotFound"})
        else:
            self._reply(h, 404, {"error": "not served"}, head=head)

    def _revision_or_404(
        self, h: BaseHTTPRequestHandler, rev: str, *, head: bool
    ) -> tuple[str, dict[str, Path]] | None:
        """``rev``'s commit and files, or None after answering 404 RevisionNotFound as the Hub does."""
        found = self.revision(rev)
        if found is None:
            self._reply(h, 404, {"error": "Invalid rev id"}, head=head, headers={"X-Error-Code": "RevisionNotFound"})
        return found

    def _resolve(self, h: BaseHTTPRequestHandler, rev: str, name: str, *, head: bool) -> None:
        found = self._revision_or_404(h, rev, head=head)
        if found is None:
            return
        commit, files = found
        withheld = self.fault == "404" and name in (WEIGHTS_NAME, SAFE_WEIGHTS_NAME)  # the weights' 404 fault
        if name not in files or withheld:
            self._reply(
                h,
                404,
                {"error": "Entry not found"},
                head=head,
                headers={"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit},
            )
            return
        f = self._files[name]
        if f.lfs:  # the Hub redirects LFS files to its CDN and names them in X-Linked-* headers
            self._reply(
                h,
                302,
                b"",
                head=head,
                headers={
                    "Location": f"http://127.0.0.1:{self._cdn_port}/lfs/{f.etag}",
                    "X-Repo-Commit": commit,
                    "X-Linked-Etag": f'"{f.etag}"',
                    "X-Linked-Size": str(f.size),
                    "ETag": f'"{f.etag}"',
                },
            )
            return
        self._send_file(h, f, head=head, headers={"X-Repo-Commit": commit, "ETag": f'"{f.etag}"'})

    def _lfs(self, h: BaseHTTPRequestHandler, sha: str, *, head: bool) -> None:
        f = self._by_sha.get(sha)
        if f is None:
            self._reply(h, 404, {"error": "no such object"}, head=head)
            return
        if self.fault == "500":
            self._reply(h, 500, {"error": "fake hub: internal error"}, head=head)
            return
        self._send_file(h, f, head=head, headers={"ETag": f'"{f.etag}"'}, cut=self.fault == "short")

    def _send_file(
        self, h: BaseHTTPRequestHandler, f: _File, *, head: bool, headers: dict[str, str], cut: bool = False
    ) -> None:
        start, status = 0, 200
        rng = h.headers.get("Range", "")
        if rng.startswith("bytes=") and rng[6:].split("-")[0].isdigit():
            start, status = int(rng[6:].split("-")[0]), 206
        length = max(0, f.size - start)
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(length))
        h.send_header("Accept-Ranges", "bytes")
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{f.size - 1}/{f.size}")
        h.end_headers()
        with self._lock:
            self.log.append((h.command, h.path, status))
        if head:
            return
        todo = length // 2 if cut else length
        with f.path.open("rb") as src:
            src.seek(start)
            try:
                while todo > 0:
                    chunk = src.read(min(1 << 20, todo))
                    if not chunk:
                        break
                    h.wfile.write(chunk)
                    todo -= len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                return
        if cut:
            h.close_connection = True
            h.wfile.flush()
            h.connection.shutdown(2)

    def _siblings(self, files: dict[str, Path], blobs: bool) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for name in sorted(files):
            f = self._files[name]
            entry: dict[str, object] = {"rfilename": name}
            if blobs:
                entry.update({"blobId": etag(f.path) if f.lfs else f.etag, "size": f.size})
                if f.lfs:
                    entry["lfs"] = {"sha256": f.etag, "size": f.size, "pointerSize": 134}
            out.append(entry)
        return out

    def _tree(self, h: BaseHTTPRequestHandler, rest: str, *, head: bool) -> None:
        bits = rest.split("/")
        cut = 3 if bits[0] == "refs" else 1
        found, folder = self.revision("/".join(bits[:cut])), "/".join(bits[cut:])
        if found is None or folder:  # the replica has no sub-folders
            code = "RevisionNotFound" if found is None else "EntryNotFound"
            self._reply(h, 404, {"error": "not found"}, head=head, headers={"X-Error-Code": code})
            return
        entries = []
        for name in sorted(found[1]):
            f = self._files[name]
            entry: dict[str, object] = {
                "type": "file",
                "oid": etag(f.path) if f.lfs else f.etag,
                "size": f.size,
                "path": name,
            }
            if f.lfs:
                entry["lfs"] = {"oid": f.etag, "size": f.size, "pointerSize": 134}
            entries.append(entry)
        self._reply(h, 200, entries, head=head)

    def _info(self, h: BaseHTTPRequestHandler, rev: str, *, blobs: bool, head: bool) -> None:
        found = self._revision_or_404(h, rev, head=head)
        if found is None:
            return
        commit, files = found
        owner = self.repo_id.split("/")[0]
        self._reply(
            h,
            200,
            {
                "_id": "5e0a2b6f1c4e5b0001a0b0c0",
                "id": self.repo_id,
                "modelId": self.repo_id,
                "author": owner,
                "sha": commit,
                "lastModified": "2024-09-10T00:00:00.000Z",
                "createdAt": "2022-03-02T23:29:05.000Z",
                "private": False,
                "disabled": False,
                "gated": False,
                "downloads": 0,
                "likes": 0,
                "library_name": "transformers",
                "pipeline_tag": "fill-mask",
                "tags": ["transformers", "pytorch", "bert", "fill-mask", "ja", "license:cc-by-sa-4.0"],
                "config": {"architectures": ["BertForMaskedLM"], "model_type": "bert", "tokenizer_config": {}},
                "siblings": self._siblings(files, blobs),
                "spaces": [],
            },
            head=head,
        )

    def _commits(self, h: BaseHTTPRequestHandler, rev: str, *, head: bool) -> None:
        found = self._revision_or_404(h, rev, head=head)
        if found is None:
            return

        def entry(commit: str, title: str, author: str, date: str) -> dict[str, object]:
            return {"id": commit, "title": title, "message": "", "authors": [{"user": author}], "date": date}

        history = [
            entry(self.main_commit, "Update model files", self.repo_id.split("/")[0], "2024-09-10T00:00:00.000Z"),
            entry(self.initial_commit, "initial commit", "system", "2022-03-02T23:29:05.000Z"),
        ]
        if found[0] == self.pr_commit:
            history.insert(
                0,
                entry(
                    self.pr_commit,
                    "Adding `safetensors` variant of this model",
                    "SFconvertbot",
                    "2024-09-11T00:00:00.000Z",
                ),
            )
        self._reply(h, 200, history, head=head)

    def _discussions(self, h: BaseHTTPRequestHandler, *, head: bool) -> None:
        pr = {
            "num": 1,
            "title": PR_TITLE,
            "status": "open",
            "isPullRequest": True,
            "createdAt": "2024-09-11T00:00:00.000Z",
            "author": {"name": "SFconvertbot"},
            "repo": {"name": self.repo_id, "type": "model"},
            "pinned": False,
            "numComments": 1,
            "topReactions": [],
            "numReactionUsers": 0,
        }
        self._reply(h, 200, {"discussions": [pr], "count": 1, "start": 0, "numClosedDiscussions": 0}, head=head)


def replica_files(
    standin: Path, pr_weights: Path, *, extra: Path, safetensors_on_main: bool = False
) -> tuple[dict[str, Path], dict[str, Path]]:
    """``(main, refs/pr/1)`` file maps of the replica: the stand-in's Hub files, ``.gitattributes``
    and ``README.md`` (written into ``extra``), and the conversion bot's ``model.safetensors``."""
    extra.mkdir(parents=True, exist_ok=True)
    (extra / ".gitattributes").write_text(GITATTRIBUTES)
    (extra / "README.md").write_text(README)
    main = {name: standin / name for name in HUB_FILES}
    main.update({".gitattributes": extra / ".gitattributes", "README.md": extra / "README.md"})
    if safetensors_on_main:
        del main[WEIGHTS_NAME]
        main[SAFE_WEIGHTS_NAME] = pr_weights
        return main, dict(main)
    return main, {**main, SAFE_WEIGHTS_NAME: pr_weights}
