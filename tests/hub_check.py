#!/usr/bin/env python3
"""Run docs/teachers.md's JupyterHub recipe for real and check it (``make hub-check``).

One run, everything on 127.0.0.1 with free ports, all in a temporary folder removed at the end:

1. The shared read-only caches of the recipe, prepared as the admin (root): ``jbert prefetch --standin``
   with ``HF_HUB_CACHE`` / ``JBERT_CACHE_DIR`` under ``<tmp>/srv/jbert``, then ``chmod -R a+rX``.
2. Three OS users (``useradd``; kept between runs, their home is set to ``<tmp>/home/<user>`` each run),
   each with a copy of the lesson. ``jbert-s1`` and ``jbert-s2`` get the recipe's environment
   (``HF_HUB_CACHE``, ``JBERT_CACHE_DIR``, ``HF_HUB_OFFLINE=1``); ``jbert-s3`` gets no shared cache
   (``HF_HUB_OFFLINE=1`` only), like a student whose server was started without the recipe.
3. JupyterHub (DummyAuthenticator, LocalProcessSpawner, configurable-http-proxy from classroom/node_modules)
   with an admin service whose token drives the Hub's REST API: create the users, start their servers,
   issue each user a token.
4. For each user, at the same time, through the proxy and the single-user server's REST API as that user:
   read the lesson (contents API), start a ``jbert`` kernel (sessions API), run every code cell over the
   kernel websocket, run a probe cell (who am I, which model, can I write the shared cache?), save the
   executed notebook (contents API) and stop the server.
5. Checks: each user's outputs against the stored ones with nbval's own comparison
   (``IPyNbCell.compare_outputs``, the same sanitize rules from nbval_sanitize.cfg, the same cell
   markers); every attempt to write the shared cache raised PermissionError; s1/s2 loaded the shared
   stand-in; s3 built its own stand-in in its home and its banner says why (代役, 理由: …).

Exit: 0 passed; 1 failed. When it cannot run here (not root, no ``useradd``, JupyterHub or the proxy not
installed, users cannot reach the venv) it prints ``hub check NOT RUN: <reason>`` and exits 0, or 1 with
``--require`` (``make hub-check`` requires; ``make hub-check-if-possible``, which ``make test`` runs, does
not, unless ``JBERT_HUB_REQUIRED=1``). It never prints a pass for a check it did not make.

Why the mount namespace: the venv's interpreter may live where the students cannot go (pyenv under
``/root``, mode 700). Then the Hub runs in a private mount namespace (``unshare --mount``) where ``/root``
is an empty tmpfs holding only a bind mount of the interpreter's folder: the students' processes can run
the interpreter, see nothing else of ``/root``, and the machine's ``/root`` is not changed.
A real classroom installs the environment where every user can read it (docs/teachers.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
CHP = ROOT / "classroom" / "node_modules" / ".bin" / "configurable-http-proxy"
SANITIZE = ROOT / "nbval_sanitize.cfg"
USERS = ("jbert-s1", "jbert-s2", "jbert-s3")
SHARED_USERS = USERS[:2]  # the recipe's environment; USERS[2] starts without the shared cache
GECOS = "jbert hub-check student"
PROBE_MARK = "JBERT-PROBE "
ARTIFACTS = ROOT / "artifacts" / "hub-check"
# What a student's server and kernel import first; run as a student before the Hub starts. ssl matters:
# a copied pyenv Python loads another libpython for other users and fails exactly there.
PROBE_IMPORTS = (
    "import ssl, sys, jupyterhub.singleuser, jbert_helpers, torch, ipykernel; "
    f"assert sys.version == {sys.version!r}, sys.version"
)


class NotRun(Exception):
    """The check cannot run on this machine (the reason says why and what to do)."""


def log(msg: str) -> None:
    print(f"[hub-check {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------- preparation (as root)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_user(name: str, home: Path) -> None:
    """Create the student ``name`` (no login shell, no password) or point its home at ``home``."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", str(home)]
            + ["--shell", "/usr/sbin/nologin", "--comment", GECOS, name],
            check=True,
            timeout=30,
        )
        entry = pwd.getpwnam(name)
    else:
        if entry.pw_gecos != GECOS:
            raise NotRun(f"a user {name} exists that this check did not create ({entry.pw_gecos!r}); remove it")
        subprocess.run(["usermod", "--home", str(home), name], check=True, timeout=30)
    home.mkdir(parents=True)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    home.chmod(0o700)


def hidden_under_root(python: Path, repo: Path) -> list[Path]:
    """What the students need that lies under /root when /root is closed to them (mode 700).

    The venv's interpreter (pyenv installs under ``/root/.pyenv``) and the checkout itself (a CI clone
    may be under /root): the top folder under /root of each, e.g. ``/root/.pyenv``.
    """
    if os.stat("/root").st_mode & 0o001:
        return []
    tops = []
    for path in (python.resolve(), repo.resolve()):
        if path.is_relative_to("/root") and path != Path("/root"):
            top = Path("/root", path.relative_to("/root").parts[0])
            if top not in tops:
                tops.append(top)
    return tops


def namespace_prefix(hidden: list[Path]) -> list[str]:
    """Command prefix that runs a program with the folders ``hidden`` (under /root) reachable, /root otherwise empty.

    A private mount namespace: each folder is bind-mounted aside, an empty tmpfs is mounted on /root,
    and the folders are bind-mounted back into it. The machine's /root is not changed.
    """
    if not hidden:
        return []
    if shutil.which("unshare") is None:
        raise NotRun(f"the students cannot reach {', '.join(map(str, hidden))} (under /root) and unshare is missing")
    script = (
        'set -e; stash=$(mktemp -d); for d in "$@"; do [ "$d" = -- ] && break; '
        'mkdir -p "$stash/$(basename "$d")"; mount --bind "$d" "$stash/$(basename "$d")"; done; '
        "mount -t tmpfs -o mode=755,size=1m jbert-root /root; "
        'while [ "$1" != -- ]; do mkdir -p "$1"; mount --bind "$stash/$(basename "$1")" "$1"; '
        'umount "$stash/$(basename "$1")"; rmdir "$stash/$(basename "$1")"; shift; done; rmdir "$stash"; shift; exec "$@"'
    )
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "jbert-ns", *map(str, hidden), "--"]


def preflight(require_users_ok: bool = True) -> None:
    if sys.platform != "linux":
        raise NotRun("needs Linux (OS users for the students, /proc)")
    if os.geteuid() != 0:
        raise NotRun(
            "needs root: the check creates the students' OS users (useradd) and JupyterHub's LocalProcessSpawner "
            "starts each server as its user, so that 'no user can write the shared cache' is tested for real. "
            "Run: sudo make hub-check"
        )
    for tool in ("useradd", "usermod", "runuser"):
        if shutil.which(tool) is None:
            raise NotRun(f"{tool} is missing (Debian: apt-get install passwd util-linux)")
    if not (VENV / "bin" / "jupyterhub").exists():
        raise NotRun("JupyterHub is not installed in .venv: make hub-deps")
    if not CHP.exists():
        raise NotRun("configurable-http-proxy is not installed: make hub-deps (npm ci in classroom/)")


def share_read_only(folder: Path) -> None:
    """``chmod -R a+rX`` without group/other write bits: readable by all, writable by root only."""
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode & 0o7777
        if path.is_dir() or mode & 0o100:
            mode |= 0o555
        else:
            mode |= 0o444
        path.chmod(mode & ~0o022)


def hub_config(tmp: Path, ports: dict[str, int], service_token: str, shared: dict[str, str], env: dict) -> str:
    """jupyterhub_config.py for this run (values are JSON literals)."""
    return f"""# written by tests/hub_check.py for one run
import json
c = get_config()  # noqa
c.JupyterHub.bind_url = "http://127.0.0.1:{ports["public"]}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{ports["hub"]}"
c.JupyterHub.db_url = "sqlite:///{tmp / "hub" / "jupyterhub.sqlite"}"
c.JupyterHub.cookie_secret_file = "{tmp / "hub" / "cookie_secret"}"
c.JupyterHub.pid_file = "{tmp / "hub" / "jupyterhub.pid"}"
c.JupyterHub.cleanup_servers = True
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = set({json.dumps(list(USERS))})
c.ConfigurableHTTPProxy.command = [{json.dumps(str(CHP))}]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{ports["proxy_api"]}"
c.ConfigurableHTTPProxy.auth_token = {json.dumps(secrets.token_hex(32))}
c.JupyterHub.services = [{{"name": "jbert-check", "api_token": {json.dumps(service_token)}}}]
c.JupyterHub.load_roles = [
    {{"name": "jbert-check", "scopes": ["admin:users", "admin:servers", "tokens"], "services": ["jbert-check"]}}
]
c.Spawner.cmd = [{json.dumps(str(VENV / "bin" / "jupyterhub-singleuser"))}]
c.Spawner.ip = "127.0.0.1"
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
c.Spawner.default_url = "/lab"
# The recipe (docs/teachers.md) plus the lessons' fixed kernel environment (NOTEBOOK_ENV), so that
# nbval's comparison compares like with like.
BASE_ENV = json.loads({json.dumps(json.dumps(env))})
SHARED_ENV = json.loads({json.dumps(json.dumps(shared))})
SHARED_USERS = set({json.dumps(list(SHARED_USERS))})


def per_user_environment(spawner):
    spawner.environment = dict(BASE_ENV, **(SHARED_ENV if spawner.user.name in SHARED_USERS else {{}}))


c.Spawner.pre_spawn_hook = per_user_environment
"""


# ---------------------------------------------------------------- talking to the Hub and the servers


class Api:
    """Tiny JSON-over-HTTP client (tornado) with a token."""

    def __init__(self, base: str, token: str) -> None:
        from tornado.httpclient import AsyncHTTPClient

        self.base, self.token = base.rstrip("/"), token
        self.http = AsyncHTTPClient()

    async def call(self, method: str, path: str, body: object = None, ok=(200, 201, 202, 204), timeout=120):
        from tornado.httpclient import HTTPClientError

        data = None if body is None else json.dumps(body)
        if data is None and method in ("POST", "PUT", "PATCH"):
            data = ""
        try:
            resp = await self.http.fetch(
                self.base + path,
                method=method,
                body=data,
                headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
                request_timeout=timeout,
                connect_timeout=30,
                follow_redirects=False,
            )
        except HTTPClientError as e:
            if e.code in ok:
                resp = e.response
            else:
                text = e.response.body.decode(errors="replace")[:500] if e.response is not None else ""
                raise RuntimeError(f"{method} {path}: HTTP {e.code} {text}") from None
        text = resp.body.decode() if resp.body else ""
        return json.loads(text) if text.strip() else None


async def wait_for_hub(public: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    from tornado.httpclient import AsyncHTTPClient

    http = AsyncHTTPClient()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterHub exited with code {proc.returncode} (see its log)")
        try:
            await http.fetch(f"{public}/hub/api/", request_timeout=5, connect_timeout=5)
            return
        except Exception:
            await asyncio.sleep(0.5)
    raise RuntimeError(f"JupyterHub did not answer within {timeout:.0f} s")


class KernelSocket:
    """Execute code in a remote kernel over the single-user server's kernel websocket."""

    def __init__(self, conn, session: str) -> None:
        self.conn, self.session = conn, session

    @classmethod
    async def open(cls, url: str, token: str) -> KernelSocket:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        session = uuid.uuid4().hex
        request = HTTPRequest(
            f"{url}?session_id={session}", headers={"Authorization": f"token {token}"}, connect_timeout=30
        )
        conn = await websocket_connect(request, max_message_size=256 * 1024 * 1024)
        return cls(conn, session)

    async def execute(self, code: str, timeout: float) -> tuple[list, dict]:
        """Run ``code``; return its outputs (nbformat nodes) and the execute_reply content."""
        import nbformat

        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "username": "hub-check",
            "session": self.session,
            "msg_type": "execute_request",
            "version": "5.3",
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}}
        content |= {"allow_stdin": False, "stop_on_error": True}
        await self.conn.write_message(
            json.dumps({"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": "shell"})
        )
        outputs: list = []
        reply: dict | None = None
        idle = False
        deadline = time.monotonic() + timeout
        while reply is None or not idle:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"cell did not finish within {timeout:.0f} s")
            raw = await asyncio.wait_for(self.conn.read_message(), left)
            if raw is None:
                raise RuntimeError("the kernel websocket closed")
            if isinstance(raw, bytes):  # binary frames carry buffers (widgets): not used by the lessons
                continue
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["header"]["msg_type"]
            if msg.get("channel") == "shell" and kind == "execute_reply":
                reply = msg["content"]
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
            elif kind == "clear_output":
                outputs.clear()
            elif kind in ("stream", "display_data", "execute_result", "error"):
                outputs.append(nbformat.v4.output_from_msg(msg))
        return outputs, reply

    def close(self) -> None:
        self.conn.close()


PROBE = """
import json as _json, os as _os, pwd as _pwd
from pathlib import Path as _Path
_targets = {targets}
_writes = {{}}
for _t in _targets:
    _p = _Path(_t)
    try:
        if _p.is_dir():
            (_p / "jbert-write-probe").write_text("x")
            (_p / "jbert-write-probe").unlink()
        else:
            with open(_p, "ab"):
                pass
        _writes[_t] = "WRITABLE"
    except PermissionError:
        _writes[_t] = "PermissionError"
    except OSError as _e:
        _writes[_t] = f"{{type(_e).__name__}}: {{_e}}"
_maps = open("/proc/self/maps").read()
_WEIGHTS = ("/pytorch_model.bin", "/model.safetensors")
print("{mark}" + _json.dumps({{
    "user": _pwd.getpwuid(_os.getuid()).pw_name, "uid": _os.getuid(), "home": _os.environ.get("HOME"),
    "model_name": model_name, "env": {{k: _os.environ.get(k) for k in ("HF_HUB_CACHE", "JBERT_CACHE_DIR", "HF_HUB_OFFLINE")}},
    "weights_mapped": sorted({{_l.split()[-1] for _l in _maps.splitlines() if _l.rstrip().endswith(_WEIGHTS)}}),
    "writes": _writes,
}}))
"""


async def run_user(name: str, public: str, admin: Api, lesson: str, targets: list[str], timeout: float) -> dict:
    """Start ``name``'s server, run the lesson in it as that user, return what happened."""
    import nbformat

    result: dict = {"user": name, "steps": []}
    step = result["steps"].append
    await admin.call("POST", f"/hub/api/users/{name}", ok=(201, 409))
    t0 = time.monotonic()
    await admin.call("POST", f"/hub/api/users/{name}/server", ok=(201, 202, 400))
    while True:
        model = await admin.call("GET", f"/hub/api/users/{name}")
        server = (model.get("servers") or {}).get("")
        if server and server.get("ready"):
            break
        if time.monotonic() - t0 > 240:
            raise RuntimeError(f"{name}: server not ready after 240 s ({server})")
        await asyncio.sleep(1)
    step(f"server ready in {time.monotonic() - t0:.1f} s ({server.get('url')})")
    token = (await admin.call("POST", f"/hub/api/users/{name}/tokens", {"note": "hub-check", "expires_in": 1800}))[
        "token"
    ]
    user_api = Api(f"{public}/user/{name}", token)
    me = await Api(f"{public}/hub", token).call("GET", "/api/user")
    step(f"user token works: /hub/api/user says {me['name']}")
    stored = await user_api.call("GET", f"/api/contents/{lesson}?content=1&type=notebook")
    nb = nbformat.from_dict(stored["content"])
    step(f"read {lesson} through the contents API ({len(nb.cells)} cells)")
    session = await user_api.call(
        "POST", "/api/sessions", {"path": lesson, "name": lesson, "type": "notebook", "kernel": {"name": "jbert"}}
    )
    kernel_id = session["kernel"]["id"]
    ws_base = public.replace("http://", "ws://")
    sock = await KernelSocket.open(f"{ws_base}/user/{name}/api/kernels/{kernel_id}/channels", token)
    t1 = time.monotonic()
    failed_cell = None
    try:
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            outputs, reply = await sock.execute(cell.source, timeout)
            cell.outputs, cell.execution_count = outputs, reply.get("execution_count")
            if reply["status"] == "error" and "raises-exception" not in cell.metadata.get("tags", []):
                failed_cell = f"cell {index} raised {reply.get('ename')}: {reply.get('evalue')}"
                break
        result["lesson_seconds"] = round(time.monotonic() - t1, 1)
        probe_out, _ = await sock.execute(PROBE.format(targets=json.dumps(targets), mark=PROBE_MARK), 60)
    finally:
        sock.close()
    text = "".join(o.get("text", "") for o in probe_out if o.output_type == "stream")
    lines = [ln for ln in text.splitlines() if ln.startswith(PROBE_MARK)]
    result["probe"] = json.loads(lines[0][len(PROBE_MARK) :]) if lines else {"error": text[-2000:]}
    result["failed_cell"] = failed_cell
    executed = lesson.replace(".ipynb", "-executed.ipynb")
    await user_api.call("PUT", f"/api/contents/{executed}", {"type": "notebook", "format": "json", "content": nb})
    saved = await user_api.call("GET", f"/api/contents/{executed}?content=1")
    result["executed"] = saved["content"]
    step(f"ran every cell over the kernel websocket in {result['lesson_seconds']} s, saved {executed}")
    await user_api.call("DELETE", f"/api/sessions/{session['id']}", ok=(204,))
    await admin.call("DELETE", f"/hub/api/users/{name}/server", ok=(202, 204))
    return result


# ---------------------------------------------------------------- nbval's comparison


def nbval_compare(stored, executed) -> list[str]:
    """Compare every code cell as ``pytest --nbval --nbval-sanitize-with nbval_sanitize.cfg`` does.

    Uses nbval's own functions (cell markers, stream coalescing, sanitizing, ``IPyNbCell.compare_outputs``)
    with the keys nbval skips without ``--nbdime``; returns one message per differing cell.
    """
    from collections import defaultdict

    import nbformat
    from nbval.plugin import (
        IPyNbCell,
        coalesce_streams,
        find_comment_markers,
        find_metadata_tags,
        get_sanitize_patterns,
        nocolors,
    )

    parent = SimpleNamespace(
        skip_compare=(
            "metadata",
            "traceback",
            "prompt_number",
            "output_type",
            "name",
            "execution_count",
            "application/vnd.jupyter.widget-view+json",
            "image/png",
            "image/jpeg",
        ),
        sanitize_patterns=dict(get_sanitize_patterns(SANITIZE.read_text(encoding="utf-8"))),
    )
    shim = SimpleNamespace(parent=parent, colors=nocolors, comparison_traceback=[], config=None)
    shim.ihook = SimpleNamespace(pytest_assertrepr_compare=lambda **_: [])  # no pytest: nbval's plain repr
    shim.sanitize = lambda s: IPyNbCell.sanitize(shim, s)
    shim.format_output_compare = lambda key, left, right: IPyNbCell.format_output_compare(shim, key, left, right)
    problems = []
    ref_cells = [c for c in stored.cells if c.cell_type == "code"]
    test_cells = [c for c in executed.cells if c.cell_type == "code"]
    if len(ref_cells) != len(test_cells):
        return [f"{len(test_cells)} code cells, the stored lesson has {len(ref_cells)}"]
    for number, (ref, test) in enumerate(zip(ref_cells, test_cells, strict=True)):
        options = defaultdict(bool, find_metadata_tags(ref.metadata))
        options.update(dict(find_comment_markers(ref.source)))
        if options["skip"] or not options.setdefault("check", True) or ref.execution_count is None:
            continue
        shim.comparison_traceback = []
        test_outs = coalesce_streams([nbformat.from_dict(o) for o in test.outputs])
        ref_outs = coalesce_streams([nbformat.from_dict(o) for o in ref.outputs])
        if not IPyNbCell.compare_outputs(shim, test_outs, ref_outs):
            problems.append(f"Cell {number}: outputs differ\n" + "\n".join(map(str, shim.comparison_traceback)))
    return problems


# ---------------------------------------------------------------- the run


def user_processes(uids: set[int]) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid in uids:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def stop(proc: subprocess.Popen | None, uids: set[int]) -> None:
    """Stop the Hub (it stops the proxy and the servers), then any process of the students it left."""
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = user_processes(uids)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if pids:
            time.sleep(2)


def check(args: argparse.Namespace) -> int:
    import nbformat

    preflight()
    lesson_path = ROOT / "notebooks" / args.lesson
    if not lesson_path.exists():
        raise SystemExit(f"no lesson {lesson_path}")
    tmp = Path(tempfile.mkdtemp(prefix="jbert-hub-"))
    tmp.chmod(0o755)
    proc = None
    uids: set[int] = set()
    try:
        srv = tmp / "srv" / "jbert"
        shared = {"HF_HUB_CACHE": str(srv / "hf-hub"), "JBERT_CACHE_DIR": str(srv / "standin")}
        (tmp / "hub").mkdir(mode=0o700)
        for name in USERS:
            ensure_user(name, tmp / "home" / name)
            entry = pwd.getpwnam(name)
            uids.add(entry.pw_uid)
            copy = tmp / "home" / name / lesson_path.name
            shutil.copy2(lesson_path, copy)
            os.chown(copy, entry.pw_uid, entry.pw_gid)
        (tmp / "home").chmod(0o755)
        hidden = hidden_under_root(PY, ROOT)
        prefix = namespace_prefix(hidden)
        if hidden:
            shown = ", ".join(map(str, hidden))
            log(f"the students cannot enter /root; the Hub runs in a mount namespace exposing only {shown}")
        probe = subprocess.run(
            [*prefix, "runuser", "-u", USERS[0], "--", str(PY), "-c", PROBE_IMPORTS],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp,
        )
        if probe.returncode != 0:
            closed = [str(d) for p in (PY.resolve(), ROOT) for d in p.parents if not os.stat(d).st_mode & 0o001]
            if closed and not hidden:
                raise NotRun(f"the students cannot enter {closed[0]} (no x bit for others): put the checkout elsewhere")
            last = (probe.stderr.strip().splitlines() or ["(no message)"])[-1][:400]
            raise NotRun(f"the students cannot run {PY} and import what the server and kernel need: {last}")

        log("admin: jbert prefetch --standin into the shared cache, then chmod -R a+rX")
        env = dict(os.environ, **shared, HF_HUB_OFFLINE="1")
        subprocess.run([str(VENV / "bin" / "jbert"), "prefetch", "--standin"], env=env, check=True, timeout=300)
        Path(shared["HF_HUB_CACHE"]).mkdir(parents=True, exist_ok=True)
        for folder in (tmp / "srv", srv):
            folder.chmod(0o755)
        share_read_only(srv)
        weights = sorted(Path(shared["JBERT_CACHE_DIR"]).rglob("pytorch_model.bin"))
        targets = [shared["HF_HUB_CACHE"], shared["JBERT_CACHE_DIR"]] + [str(w.parent) for w in weights]
        targets += [str(w) for w in weights]

        from jbert_helpers.tools.kernelenv import NOTEBOOK_ENV

        base_env = dict(NOTEBOOK_ENV)
        ports = {"public": free_port(), "hub": free_port(), "proxy_api": free_port()}
        service_token = secrets.token_hex(32)
        config = tmp / "hub" / "jupyterhub_config.py"
        config.write_text(hub_config(tmp, ports, service_token, shared, base_env), encoding="utf-8")
        hub_log = open(tmp / "hub" / "hub.log", "wb")  # noqa: SIM115 (closed in finally)
        hub_env = {k: v for k, v in os.environ.items() if not k.startswith(("JBERT_", "HF_", "JUPYTER"))}
        hub_env["PATH"] = f"{VENV / 'bin'}:{CHP.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"
        log(f"JupyterHub on http://127.0.0.1:{ports['public']} (users {', '.join(USERS)})")
        proc = subprocess.Popen(
            [*prefix, str(VENV / "bin" / "jupyterhub"), "-f", str(config)],
            cwd=tmp / "hub",
            stdout=hub_log,
            stderr=subprocess.STDOUT,
            env=hub_env,
            start_new_session=True,
        )
        public = f"http://127.0.0.1:{ports['public']}"

        async def main() -> list:
            await wait_for_hub(public, proc)
            admin = Api(public, service_token)
            jobs = [run_user(u, public, admin, lesson_path.name, targets, args.cell_timeout) for u in USERS]
            return await asyncio.gather(*jobs, return_exceptions=True)

        results = asyncio.run(asyncio.wait_for(main(), args.timeout))
        return report(results, nbformat.read(lesson_path, as_version=4), shared, tmp)
    finally:
        stop(proc, uids)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        if (tmp / "hub" / "hub.log").exists():
            shutil.copy(tmp / "hub" / "hub.log", ARTIFACTS / "hub.log")
        shutil.rmtree(tmp, ignore_errors=True)


def report(results: list, stored, shared: dict[str, str], tmp: Path) -> int:
    import nbformat

    failures: list[str] = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    standin_shared = str(Path(shared["JBERT_CACHE_DIR"]))
    for name, result in zip(USERS, results, strict=True):
        if isinstance(result, BaseException):
            failures.append(f"{name}: {type(result).__name__}: {result}")
            continue
        for line in result["steps"]:
            log(f"{name}: {line}")
        executed = nbformat.from_dict(result["executed"])
        nbformat.write(executed, ARTIFACTS / f"{name}.ipynb")
        if result["failed_cell"]:
            failures.append(f"{name}: {result['failed_cell']}")
        problems = nbval_compare(stored, executed)
        failures += [f"{name}: {p}" for p in problems]
        if not problems and not result["failed_cell"]:
            log(f"{name}: nbval comparison: every cell matches the stored outputs")
        probe = result["probe"]
        if "error" in probe:
            failures.append(f"{name}: the probe cell failed: {probe['error']}")
            continue
        if probe["user"] != name:
            failures.append(f"{name}: the kernel ran as {probe['user']}, not as the student")
        writable = [t for t, r in probe["writes"].items() if r != "PermissionError"]
        if writable:
            failures.append(f"{name}: could write (or got another error on) the shared cache: {writable}")
        else:
            log(f"{name}: writing into the shared cache ({len(probe['writes'])} places) raised PermissionError")
        banner = next(
            (o["text"] for c in executed.cells for o in c.get("outputs", []) if "[jbert] モデル:" in o.get("text", "")),
            "",
        )
        banner = next(ln for ln in banner.splitlines() if "[jbert] モデル:" in ln) if banner else ""
        model = probe["model_name"]
        if name in SHARED_USERS:
            ok = model.startswith(standin_shared) and all(w.startswith(standin_shared) for w in probe["weights_mapped"])
            log(f"{name}: model {model}; weights mapped from {probe['weights_mapped']}")
            if not ok:
                failures.append(f"{name}: did not load the shared stand-in ({model})")
        else:
            home = probe["home"] or "?"
            log(f"{name}: banner: {banner}")
            if (
                not model.startswith(home)
                or "代役" not in banner
                or "理由: 本物のモデルがキャッシュになく" not in banner
            ):
                failures.append(
                    f"{name}: expected its own stand-in under {home} and a banner with the reason: {banner!r}"
                )
            else:
                log(f"{name}: no shared cache -> built its own stand-in in {model} and the banner says why")
    if failures:
        print("\nhub check FAILED:")
        for f in failures:
            print(f"  - {f}")
        log_lines = (tmp / "hub" / "hub.log").read_text(errors="replace").splitlines()
        errors = [ln for ln in log_lines if "Error" in ln or "[E " in ln or "error" in ln]
        if errors:
            print("JupyterHub's log, its last error lines:")
            for line in errors[-8:]:
                print(f"    {line[:300]}")
        print(f"(JupyterHub's log and the executed notebooks: {ARTIFACTS.relative_to(ROOT)}/)")
        return 1
    print(f"hub check: {len(USERS)} passed, 0 failed")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lesson", default="04-16_forward_pass.ipynb", help="notebook in notebooks/ to run")
    parser.add_argument("--require", action="store_true", help="exit 1 (not 0) when the check cannot run here")
    parser.add_argument("--cell-timeout", type=float, default=300)
    parser.add_argument("--timeout", type=float, default=1200, help="the whole run, in seconds")
    args = parser.parse_args()
    require = args.require or os.environ.get("JBERT_HUB_REQUIRED") == "1"
    try:
        return check(args)
    except NotRun as e:
        print(f"hub check NOT RUN: {e}")
        return 1 if require else 0


if __name__ == "__main__":
    sys.exit(main())
