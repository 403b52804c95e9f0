"""plan's run (cli/plan_run.py): the memo of what it skimmed lives in the cache folder,
authenticated, and never changes what plan says."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from specsync.plan import fingerprint_memo
from specsync.state import lockfile_skim, lockfile_skim_memo
from tests.helpers import specsync

MANIFEST = """\
specsync: 1
defaults: {model: M000045058, locales: [en, ko, de]}
videos:
  welcome:
    script: |
      Hello {{ locale }},
      and "welcome" \\ é.
  tour:
    script: "Tour for {{ locale }}"
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Six items recorded by `apply --emulator` (copied to specsync.lock), a cache folder
    of the test's own, and every lockfile size remembered."""
    monkeypatch.setattr(lockfile_skim_memo, "MIN_MEMO_BYTES", 0)
    monkeypatch.setattr(fingerprint_memo, "MIN_ITEMS", 0)
    monkeypatch.setenv("SPECSYNC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SPECSYNC_CACHE_KEY_FILE", str(tmp_path / "config" / "cache.key"))
    project = tmp_path / "project"
    (project / "manifests").mkdir(parents=True)
    (project / "manifests" / "a.yaml").write_text(MANIFEST, encoding="utf-8")
    done = specsync(["apply", "--emulator"], project)
    assert done.returncode == 0, done.stderr
    rehearsal = project / ".specsync" / "emulator.lock"
    (project / "specsync.lock").write_bytes(rehearsal.read_bytes())
    return project


def memo_packs(project: Path, kind: str = "lockfile-skims") -> list[Path]:
    return sorted((project.parent / "cache").glob(f"{kind}-*/*.pack"))


@pytest.fixture
def no_expression(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Calling it makes matching the current-export expression, or hashing a request,
    fail the run."""

    def refuse() -> None:
        def no_hashing(items: object) -> dict[str, str]:
            raise AssertionError("hashed where the memo should have answered")

        monkeypatch.setattr(fingerprint_memo, "fingerprints", no_hashing)

        def never(view: str) -> Callable[[int], lockfile_skim_memo.Found]:
            def at(position: int) -> lockfile_skim_memo.Found:
                raise AssertionError("matched where the memo should have answered")

            return at

        monkeypatch.setattr(lockfile_skim, "_current_export_in", never)

    return refuse


def planned_twice(project: Path) -> subprocess.CompletedProcess[str]:
    """Plan twice (the first leaves its mark, the second the memos); the second run."""
    assert specsync(["plan"], project).returncode == 0
    second = specsync(["plan", "--all"], project)
    assert second.returncode == 0, second.stderr
    return second


def test_a_first_plan_leaves_a_mark_the_second_memos_the_third_reads_them(
    project: Path, no_expression: Callable[[], None]
) -> None:
    first = specsync(["plan", "--all"], project)
    assert first.returncode == 0, first.stderr
    assert "6 unchanged" in first.stdout
    assert memo_packs(project) == []  # a fresh CI machine's plan keeps no memo
    (mark,) = memo_packs(project, "plan-fingerprints")
    assert os.path.getsize(mark) < 200
    second = specsync(["plan", "--all"], project)
    assert (second.returncode, second.stdout, second.stderr) == (0, first.stdout, first.stderr)
    assert len(memo_packs(project)) == 1 and os.path.getsize(mark) > 200
    no_expression()
    third = specsync(["plan", "--all"], project)
    assert (third.returncode, third.stdout, third.stderr) == (0, first.stdout, first.stderr)


def test_no_cache_keeps_no_memo(project: Path) -> None:
    done = specsync(["plan", "--no-cache"], project)
    assert done.returncode == 0, done.stderr
    assert memo_packs(project) == memo_packs(project, "plan-fingerprints") == []


def test_an_edited_manifest_is_planned_as_written_not_as_remembered(project: Path) -> None:
    planned_twice(project)
    manifest = project / "manifests" / "a.yaml"
    manifest.write_text(manifest.read_text("utf-8").replace("Tour for", "A tour for"), "utf-8")
    with_memo = specsync(["plan", "--all"], project)
    without = specsync(["plan", "--all", "--no-cache"], project)
    assert (with_memo.returncode, with_memo.stdout) == (without.returncode, without.stdout)
    assert "3 to update" in with_memo.stdout


def test_an_edited_lockfile_is_planned_as_written_not_as_remembered(project: Path) -> None:
    planned_twice(project)
    lockfile = project / "specsync.lock"
    text = lockfile.read_text(encoding="utf-8")
    # The recorded text of tour/ko edited by hand (a merge, a revert): tour/ko changed.
    edited = text.replace("Tour for ko", "Tour for KO")
    first_fingerprint = text.split('fingerprint = "')[2][:64]
    edited = edited.replace(first_fingerprint, "0" * 64, 1)
    assert edited != text
    lockfile.write_text(edited, encoding="utf-8")
    with_memo = specsync(["plan", "--all"], project)
    without = specsync(["plan", "--all", "--no-cache"], project)
    assert with_memo.returncode == 0, with_memo.stderr
    assert (with_memo.stdout, with_memo.stderr) == (without.stdout, without.stderr)
    assert "1 to update" in with_memo.stdout


def test_a_tampered_memo_is_never_trusted(project: Path, no_expression: Callable[[], None]) -> None:
    first = planned_twice(project)
    (pack,) = memo_packs(project)
    data = bytearray(pack.read_bytes())
    # The payload's last position, +1000: authenticated, so dropped, and the file skimmed.
    data[-1] ^= 0x01
    pack.write_bytes(bytes(data))
    again = specsync(["plan", "--all"], project)
    assert (again.returncode, again.stdout, again.stderr) == (0, first.stdout, first.stderr)
    # Rewritten as read: the next plan needs no expression.
    no_expression()
    third = specsync(["plan", "--all"], project)
    assert (third.returncode, third.stdout) == (0, first.stdout)
    assert os.path.getsize(pack) > 0
