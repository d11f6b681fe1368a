"""The versions a lesson runs with: printed by the first code cell of every lesson, recorded by ``jbert refresh``.

Example::

    >>> "transformers" in versions()
    True
"""

from __future__ import annotations

import importlib.metadata

#: Packages whose versions are recorded in ``metadata.jbert.versions``.
RECORDED_PACKAGES = (
    "torch",
    "transformers",
    "tokenizers",
    "huggingface_hub",
    "fugashi",
    "ipadic",
    "unidic-lite",
    "numpy",
)


def versions() -> dict[str, str]:
    """Installed versions of :data:`RECORDED_PACKAGES` (``missing`` when not installed)."""
    out = {}
    for name in RECORDED_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def print_versions() -> None:
    """Print Python's and the lesson libraries' versions (the first code cell of every lesson)."""
    import platform

    print(f"python       {platform.python_version()}")
    for name, version in versions().items():
        print(f"{name:<12} {version}")
