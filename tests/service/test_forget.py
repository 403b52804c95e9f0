"""specsync.service.forget on real files: globs, dry runs and an interrupted apply's journal."""

from __future__ import annotations

from pathlib import Path

import pytest

from specsync.errors import UserError
from specsync.service.forget import forget_matching
from specsync.state import journal as journal_mod
from specsync.state.journal import JournalMismatch
from specsync.state.lockfile_read import read_lockfile

FP = "f" * 64


def interrupted_apply(lockfile: Path, emulator: bool = False) -> None:
    """A journal as a killed apply leaves it: one accepted export, one sent with no answer."""
    service = {"emulator": emulator, "host": "127.0.0.1:1"}
    with journal_mod.Journal(journal_mod.journal_path(lockfile), service) as journal:
        journal.intent("a/en", FP, "2026-11-25T12:00:00Z")
        journal.accepted("a/en", FP, "p-a", "t-a", "2026-11-25T12:00:01Z")
        journal.intent("b/en", FP, "2026-11-25T12:00:02Z")
        journal.uncertain("b/en", FP, "no answer", "2026-11-25T12:00:03Z")


def test_an_item_only_the_journal_knows_is_forgotten_and_its_ids_kept(tmp_path: Path) -> None:
    lockfile = tmp_path / "specsync.lock"
    interrupted_apply(lockfile)
    preview = forget_matching(lockfile, ["b/*"], dry_run=True)
    assert preview.dropped == ["b/en"] and not lockfile.exists()

    result = forget_matching(lockfile, ["b/*"])
    assert result.dropped == ["b/en"] and result.recovered > 0
    assert not journal_mod.journal_path(lockfile, create=False).exists()
    lock = read_lockfile(lockfile)
    assert set(lock.entries) == {"a/en"}
    assert lock.entries["a/en"].project_id == "p-a"  # the accepted export is recorded too


def test_a_glob_matching_nothing_changes_nothing(tmp_path: Path) -> None:
    lockfile = tmp_path / "specsync.lock"
    interrupted_apply(lockfile)
    with pytest.raises(UserError, match="c/\\*"):
        forget_matching(lockfile, ["c/*"])
    assert journal_mod.journal_path(lockfile, create=False).exists()
    assert not lockfile.exists()


def test_an_emulator_journal_is_not_folded_into_a_real_lockfile(tmp_path: Path) -> None:
    lockfile = tmp_path / "specsync.lock"
    interrupted_apply(lockfile)
    forget_matching(lockfile, ["b/en"])  # a real lockfile now exists, holding a/en
    interrupted_apply(lockfile, emulator=True)
    with pytest.raises(JournalMismatch):
        forget_matching(lockfile, ["a/en"])
    assert set(read_lockfile(lockfile).entries) == {"a/en"}
