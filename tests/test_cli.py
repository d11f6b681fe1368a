"""The `jbert` command: every subcommand has --help, bad usage says so, the console script works."""

from __future__ import annotations

import shutil
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from jbert_helpers.standin import STANDIN_VERSION, ensure_standin
from jbert_helpers.tools.cli import main


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ["doctor", "prefetch", "refresh"]),
        (["doctor"], ["--json", "Exit code 0"]),
        (["prefetch"], ["--from PATH", "--standin", "--repo"]),
        (["refresh"], ["--model", "notebooks"]),
    ],
)
def test_help(argv: list[str], expected: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for word in expected:
        assert word in out


def test_no_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "usage: jbert" in capsys.readouterr().err


def test_from_and_standin_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["prefetch", "--standin", "--from", "x"])
    assert "not allowed with" in capsys.readouterr().err


def test_prefetch_standin_reports_ready(capsys: pytest.CaptureFixture[str]) -> None:
    path = ensure_standin()  # already built by conftest: this checks the command's report
    assert main(["prefetch", "--standin"]) == 0
    out = capsys.readouterr().out
    assert f"代役 v{STANDIN_VERSION} の準備ができました" in out and str(path) in out


def test_console_script_is_installed() -> None:
    (entry,) = [e for e in entry_points(group="console_scripts") if e.name == "jbert"]
    assert entry.value == "jbert_helpers.tools.cli:main"
    script = Path(sys.executable).parent / "jbert"
    assert script.is_file() or shutil.which("jbert"), "the `jbert` console script is not installed: pip install -e ."
