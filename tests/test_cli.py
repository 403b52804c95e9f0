"""The CLI layer's own behaviour: exit codes and how failures reach the user."""

import subprocess
import sys
from pathlib import Path

import pytest

from specsync import cli


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "specsync", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_usage_error_exits_1_not_2(tmp_path: Path) -> None:
    # 2 is reserved for "plan found changes" under --detailed-exitcode.
    result = run("validate", "--no-such-flag", cwd=tmp_path)
    assert result.returncode == 1
    assert "No such option" in result.stderr


def test_unknown_command_exits_1(tmp_path: Path) -> None:
    result = run("frobnicate", cwd=tmp_path)
    assert result.returncode == 1
    assert "No such command" in result.stderr


def test_a_bug_exits_3_with_a_short_message_and_a_log(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr("specsync.pipeline.load_items", explode)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["validate"])
    assert exit_info.value.code == 3
    err = capsys.readouterr().err
    assert "internal error" in err and "ZeroDivisionError" in err
    assert "Traceback" not in err
    logs = list(tmp_path.glob("specsync-crash-*.log"))
    assert len(logs) == 1 and "ZeroDivisionError: boom" in logs[0].read_text()


def test_ctrl_c_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("specsync.pipeline.load_items", interrupted)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["validate"])
    assert exit_info.value.code == 130
