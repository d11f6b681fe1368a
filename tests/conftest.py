"""Fixtures shared by the unit tests (the nbval set-up is in the repository's conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from jbert_helpers.hubcache import HUB_MODEL_ID

FakeHubCache = Callable[[Path, dict[str, Path]], Path]


@pytest.fixture
def fake_hub_cache() -> FakeHubCache:
    """Make a hub cache holding HUB_MODEL_ID with the given files: huggingface_hub's layout
    (refs/main → snapshots/<commit>/<name>), each file a symlink to its source. Returns the snapshot."""

    def make(hub: Path, files: dict[str, Path]) -> Path:
        repo = hub / ("models--" + HUB_MODEL_ID.replace("/", "--"))
        commit = "0" * 40
        snapshot = repo / "snapshots" / commit
        snapshot.mkdir(parents=True)
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(commit)
        for name, source in files.items():
            (snapshot / name).symlink_to(source)
        return snapshot

    return make
