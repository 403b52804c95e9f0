"""The CLI layer's own behaviour: exit codes and how failures reach the user."""

from pathlib import Path

import pytest

from specsync.cli import main as cli
from specsync.cli.options import COMPILE_NOTICE_THRESHOLD
from tests.helpers import specsync
from tests.helpers.commands import forked_specsync

# Runs are in this process (tests.helpers.specsync) or, where a second run must not find
# what the first left in memory, each in a forked process: what is tested is main()'s
# answer, not how a process starts (test_fast_path compares the console script's and
# `python -m specsync`'s answers).


def test_usage_error_exits_1_not_2(tmp_path: Path) -> None:
    # 2 is reserved for "plan found changes" under --detailed-exitcode.
    result = specsync(["validate", "--no-such-flag"], tmp_path)
    assert result.returncode == 1
    assert "No such option" in result.stderr


def test_unknown_command_exits_1(tmp_path: Path) -> None:
    result = specsync(["frobnicate"], tmp_path)
    assert result.returncode == 1
    assert "No such command" in result.stderr


def test_a_bug_exits_3_with_a_short_message_and_a_log(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr("specsync.cli.validate_run.load_items", explode)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["validate"])
    assert exit_info.value.code == 3
    err = capsys.readouterr().err
    assert "internal error" in err and "ZeroDivisionError" in err
    assert "Traceback" not in err  # the short message above, the traceback in the log
    logs = list(tmp_path.glob("specsync-crash-*.log"))
    assert len(logs) == 1 and "ZeroDivisionError: boom" in logs[0].read_text()


def test_ctrl_c_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("specsync.cli.validate_run.load_items", interrupted)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["validate"])
    assert exit_info.value.code == 130


@pytest.mark.parametrize("emulator", [False, True])
def test_apply_reports_manifest_problems_before_credentials_or_emulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: bool
) -> None:
    # Bad input gets its one located message, whatever else is missing: no credentials
    # complaint, no emulator started, nothing written.
    for name in ("AISTUDIOS_API_KEY", "AISTUDIOS_APP_ID", "AISTUDIOS_USER_KEY"):
        monkeypatch.delenv(name, raising=False)
    manifest = "specsync: 1\ndefaults: {model: M1, locales: [en]}\nvideos:\n  a: {scirpt: hi}\n"
    (tmp_path / "m.yaml").write_text(manifest, encoding="utf-8")
    result = specsync(["apply", *(["--emulator"] if emulator else []), "m.yaml"], tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "m.yaml:4:7: unknown key 'scirpt' in video 'a' (did you mean 'script'?)",
        "1 problem in 1 file",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.yaml"]


def test_a_long_cold_compile_is_announced_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Many scripts the cache does not hold take seconds: say so before, not after.
    monkeypatch.setenv("SPECSYNC_CACHE_DIR", str(tmp_path / "cache"))
    count = COMPILE_NOTICE_THRESHOLD
    # Each its own shape (scripts differing only in text share one compiled template).
    videos = "".join(
        f"  v{n}: {{script: 'Script: {{{{ video }}}} {{{{ {n} }}}}'}}\n" for n in range(count)
    )
    manifest = "specsync: 1\ndefaults: {model: M1, locales: [en]}\nvideos:\n" + videos
    (tmp_path / "m.yaml").write_text(manifest, encoding="utf-8")

    # Each in a process of its own, as a user's two runs: the second finds only what the
    # first wrote to the cache.
    first = forked_specsync(["validate", "m.yaml"], tmp_path)
    second = forked_specsync(["validate", "m.yaml"], tmp_path)

    assert first.returncode == second.returncode == 0
    assert f"compiling {count:,} scripts the template cache does not hold yet" in first.stderr
    assert "compiling" not in second.stderr
