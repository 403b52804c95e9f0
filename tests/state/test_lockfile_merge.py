"""Lockfile merge: the three-way merge entry by entry, and the git merge driver's files."""

from __future__ import annotations

from pathlib import Path

import pytest

from specsync.state.lockfile_data import Entry, Lockfile, Submission
from specsync.state.lockfile_merge import merge, merge_text_files
from specsync.state.lockfile_read import read_lockfile
from specsync.state.lockfile_write import write_lockfile
from tests.helpers import assert_not_a_crash, specsync

FP1 = "1" * 64
FP2 = "2" * 64
FP3 = "3" * 64
T0 = "2026-11-25T12:00:00Z"
T1 = "2026-11-25T12:05:00Z"


# merge -----------------------------------------------------------------------------------


def entry(item_id: str, project: str, fp: str = FP1, **kw: object) -> Entry:
    return Entry(item_id, fp, project, f"T-{project}", T0, **kw)  # type: ignore[arg-type]


def lock_of(*entries: Entry, emulator: bool = False) -> Lockfile:
    return Lockfile({e.id: e for e in entries}, emulator=emulator)


def test_merge_takes_a_clean_union_of_new_items() -> None:
    base = lock_of(entry("a/en", "P-a"))
    ours = lock_of(entry("a/en", "P-a"), entry("b/en", "P-b"))
    theirs = lock_of(entry("a/en", "P-a"), entry("c/en", "P-c"))
    merged, conflicts = merge(base, ours, theirs)
    assert conflicts == {}
    assert set(merged.entries) == {"a/en", "b/en", "c/en"}


def test_merge_one_side_changes_and_deletions() -> None:
    base = lock_of(entry("a/en", "P1"), entry("gone/en", "P-g"), entry("kept/en", "P-k"))
    ours = lock_of(entry("a/en", "P1"), entry("kept/en", "P-k2"))  # forgot gone, kept changed
    theirs = lock_of(entry("a/en", "P2"), entry("gone/en", "P-g"))  # updated a, forgot kept
    merged, conflicts = merge(base, ours, theirs)
    assert conflicts == {}
    assert merged.entries["a/en"].project_id == "P2"
    assert "gone/en" not in merged.entries
    assert merged.entries["kept/en"].project_id == "P-k2"  # a change beats a deletion


def test_merge_same_project_joins_history_and_later_state_wins() -> None:
    old = Submission("P0", "T0", "2026-01-01T00:00:00Z", FP2)
    base = lock_of(entry("a/en", "P1", history=(old,)))
    ours = lock_of(entry("a/en", "P1", state="done", history=(old,)))
    theirs = lock_of(entry("a/en", "P1", history=(old, Submission("Px", "Tx", T1, FP3))))
    merged, conflicts = merge(base, ours, theirs)
    assert conflicts == {}
    result = merged.entries["a/en"]
    assert result.state == "done"
    assert [s.project_id for s in result.history] == ["P0", "Px"]


def test_merge_different_projects_is_a_conflict_that_keeps_both_ids(tmp_path: Path) -> None:
    base = lock_of()
    ours = lock_of(entry("a/en", "P-ours"))
    theirs = lock_of(entry("a/en", "P-theirs", FP2), emulator=True)
    merged, conflicts = merge(base, ours, theirs)
    [message] = conflicts.values()
    assert '"a/en"' in message and "P-ours" in message and "P-theirs" in message
    result = merged.entries["a/en"]
    assert result.project_id == "P-ours"
    assert [s.project_id for s in result.history] == ["P-theirs"]
    assert result.history[0].fingerprint == FP2
    assert merged.emulator is True


def test_merge_uncertain_beats_done_for_the_same_project() -> None:
    base = lock_of(entry("a/en", "P1"))
    ours = lock_of(entry("a/en", "P1", state="done"))
    theirs = lock_of(entry("a/en", "P1", FP2, state="uncertain", attempted_at=T1))
    merged, conflicts = merge(base, ours, theirs)
    assert conflicts == {}
    assert merged.entries["a/en"] == theirs.entries["a/en"]
    both_gone, _ = merge(base, lock_of(), lock_of())
    assert both_gone.entries == {}


def test_merge_text_files_writes_ours_and_marks_conflicts(tmp_path: Path) -> None:
    base, ours, theirs = tmp_path / "O", tmp_path / "A", tmp_path / "B"
    base.write_bytes(b"")
    write_lockfile(ours, lock_of(entry("a/en", "P-ours"), entry("b/en", "P-b")))
    write_lockfile(theirs, lock_of(entry("a/en", "P-theirs"), entry("c/en", "P-c")))
    conflicts = merge_text_files(base, ours, theirs)
    assert len(conflicts) == 1
    text = ours.read_text(encoding="utf-8")
    lines = text.splitlines()
    header = lines.index('[items."a/en"]')
    assert lines[header - 1].startswith("# CONFLICT: ") and "P-theirs" in lines[header - 1]
    merged = read_lockfile(ours)  # comments are legal TOML
    assert set(merged.entries) == {"a/en", "b/en", "c/en"}
    assert "P-theirs" in text and "P-ours" in text


def test_merge_text_files_clean_with_empty_base(tmp_path: Path) -> None:
    # git passes an empty %O when the sides have no common ancestor.
    ours, theirs, base = tmp_path / "A", tmp_path / "B", tmp_path / "O"
    base.write_bytes(b"")
    write_lockfile(ours, lock_of(entry("b/en", "P-b")))
    write_lockfile(theirs, lock_of(entry("c/en", "P-c")))
    assert merge_text_files(base, ours, theirs) == []
    assert "CONFLICT" not in ours.read_text(encoding="utf-8")
    assert set(read_lockfile(ours).entries) == {"b/en", "c/en"}


# hostile merge-driver arguments ----------------------------------------------------------


@pytest.mark.parametrize("missing", ["O", "A", "B"])
@pytest.mark.parametrize("how", ["absent", "folder", "dangling-link"])
def test_merge_driver_refuses_a_missing_or_unreadable_side_and_leaves_ours(
    tmp_path: Path, missing: str, how: str
) -> None:
    paths = {name: tmp_path / name for name in "OAB"}
    write_lockfile(paths["O"], lock_of(entry("a/en", "P-a")))
    write_lockfile(paths["A"], lock_of(entry("a/en", "P-a"), entry("b/en", "P-b")))
    write_lockfile(paths["B"], lock_of(entry("a/en", "P-a"), entry("c/en", "P-c")))
    bad = paths[missing]
    bad.unlink()
    if how == "folder":
        bad.mkdir()
    elif how == "dangling-link":
        bad.symlink_to(tmp_path / "nowhere")
    ours_before = paths["A"].read_bytes() if paths["A"].is_file() else None
    result = specsync(["merge-driver", *(str(paths[n]) for n in "OAB")], tmp_path)
    assert result.returncode == 1, result.stderr
    assert_not_a_crash(result)
    assert str(bad) in result.stderr
    if ours_before is not None:
        assert paths["A"].read_bytes() == ours_before


def test_merge_driver_with_ours_in_a_missing_folder_exits_1(tmp_path: Path) -> None:
    base, theirs = tmp_path / "O", tmp_path / "B"
    write_lockfile(base, lock_of())
    write_lockfile(theirs, lock_of(entry("c/en", "P-c")))
    ours = tmp_path / "no-such-folder" / "A"
    result = specsync(["merge-driver", str(base), str(ours), str(theirs)], tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("Error: merge-driver: %A"), result.stderr
    assert not ours.parent.exists()


def test_reexport_merged_with_done_of_the_old_export_is_clean() -> None:
    old = entry("a/en", "P1", FP1)
    base = lock_of(old)
    reexported = Entry("a/en", FP2, "P2", "T-P2", T1, history=(old.submission(),))
    done_old = old._replace(state="done")
    for ours, theirs in ((reexported, done_old), (done_old, reexported)):
        merged, conflicts = merge(base, lock_of(ours), lock_of(theirs))
        assert conflicts == {}
        result = merged.entries["a/en"]
        assert (result.project_id, result.fingerprint, result.state) == ("P2", FP2, None)
        assert [s.project_id for s in result.history] == ["P1"]


def test_reexport_merge_still_conflicts_when_the_old_id_is_unknown() -> None:
    base = lock_of(entry("a/en", "P1"))
    ours = lock_of(Entry("a/en", FP2, "P2", "T-P2", T1))  # no history: not a re-export of P1
    theirs = lock_of(entry("a/en", "P1", state="done"))
    _, conflicts = merge(base, ours, theirs)
    assert "a/en" in conflicts


# the service host ------------------------------------------------------------------------


def test_merge_of_two_branches_applied_against_the_same_host_is_clean(tmp_path: Path) -> None:
    host = "app.aistudios.com"
    base = Lockfile({}, service=host)
    ours = Lockfile({"a/en": entry("a/en", "PA")}, service=host)
    theirs = Lockfile({"b/en": entry("b/en", "PB")}, service=host)
    for lock, name in ((base, "base"), (ours, "ours"), (theirs, "theirs")):
        write_lockfile(tmp_path / name, lock)
    assert merge_text_files(tmp_path / "base", tmp_path / "ours", tmp_path / "theirs") == []
    merged = read_lockfile(tmp_path / "ours")
    assert merged.service == host and set(merged.entries) == {"a/en", "b/en"}


def test_merge_with_an_older_side_without_the_host_takes_the_host() -> None:
    ours = Lockfile({"a/en": entry("a/en", "PA")})
    theirs = Lockfile({"b/en": entry("b/en", "PB")}, service="app.aistudios.com")
    merged, conflicts = merge(Lockfile(), ours, theirs)
    assert conflicts == {} and merged.service == "app.aistudios.com"


def test_merge_of_different_hosts_is_a_conflict_shown_in_the_file(tmp_path: Path) -> None:
    write_lockfile(tmp_path / "base", Lockfile())
    ours = Lockfile({"a/en": entry("a/en", "PA")}, service="app.aistudios.com")
    theirs = Lockfile({"b/en": entry("b/en", "PB")}, service="staging.example.com")
    write_lockfile(tmp_path / "ours", ours)
    write_lockfile(tmp_path / "theirs", theirs)
    result = specsync(["merge-driver", "base", "ours", "theirs"], tmp_path)
    assert result.returncode == 1
    assert "app.aistudios.com" in result.stderr and "staging.example.com" in result.stderr
    text = (tmp_path / "ours").read_text("utf-8")
    assert "# CONFLICT: this side was applied against app.aistudios.com" in text
    merged = read_lockfile(tmp_path / "ours")  # still a valid lockfile; no id lost
    assert merged.service == "app.aistudios.com"
    assert {"PA", "PB"} <= {e.project_id for e in merged.entries.values()}


# pulled videos ------------------------------------------------------------------------------


def test_merge_keeps_a_hash_one_side_recorded_and_drops_two_different_ones() -> None:
    sha_a, sha_b = "a" * 64, "b" * 64
    base = lock_of(entry("a/en", "P1"))
    pulled = lock_of(entry("a/en", "P1", state="done", sha256=sha_a, size=10))
    done = lock_of(entry("a/en", "P1", state="done"))
    merged, conflicts = merge(base, done, pulled)
    assert conflicts == {} and merged.entries["a/en"].sha256 == sha_a
    merged, _ = merge(base, pulled, done)
    assert (merged.entries["a/en"].sha256, merged.entries["a/en"].size) == (sha_a, 10)
    # Two different hashes of one export: neither is kept; the next pull records the truth.
    other = lock_of(entry("a/en", "P1", state="done", sha256=sha_b, size=10, history=()))
    other = lock_of(other.entries["a/en"]._replace(submitted_at=T1))
    merged, conflicts = merge(base, pulled, other)
    assert conflicts == {}
    assert merged.entries["a/en"].sha256 is None and merged.entries["a/en"].size is None


# history states and requests of unknown outcome (issue 25) -------------------------------


def test_a_merge_keeps_each_records_known_state_and_every_uncertain_request() -> None:
    known = Submission("P-old", "T-old", T0, FP1)
    attempt_ours = Submission("", "", "", FP2, "uncertain", T1)
    attempt_theirs = Submission("", "", "", FP3, "uncertain", "2026-11-25T12:01:00Z")
    base = lock_of(entry("a/en", "P-a", history=(known,)))
    # Ours learnt the old export failed; theirs left a request of unknown outcome.
    ours = lock_of(entry("a/en", "P-a", history=(Submission("P-old", "T-old", T0, FP1, "failed"),)))
    ours = lock_of(
        ours.entries["a/en"]._replace(history=(*ours.entries["a/en"].history, attempt_ours))
    )
    theirs = lock_of(entry("a/en", "P-a", state="done", history=(known, attempt_theirs)))
    merged, conflicts = merge(base, ours, theirs)
    assert conflicts == {}
    history = merged.entries["a/en"].history
    assert [h.state for h in history if h.has_ids] == ["failed"]  # not forgotten
    # Both requests of unknown outcome kept, oldest first by when they were sent.
    assert [h for h in history if not h.has_ids] == [attempt_theirs, attempt_ours]


def test_the_merge_driver_writes_history_states_that_read_back(tmp_path: Path) -> None:
    base, ours, theirs = tmp_path / "O", tmp_path / "A", tmp_path / "B"
    attempt = Submission("", "", "", FP2, "uncertain", T1)
    failed = Submission("P-old", "T-old", T0, FP3, "failed")
    write_lockfile(base, lock_of(entry("a/en", "P-a")))
    write_lockfile(ours, lock_of(entry("a/en", "P-a", history=(failed, attempt))))
    write_lockfile(theirs, lock_of(entry("a/en", "P-a"), entry("b/en", "P-b")))
    assert merge_text_files(base, ours, theirs) == []
    merged = read_lockfile(ours)
    assert merged.entries["a/en"].history == (failed, attempt)
    assert set(merged.entries) == {"a/en", "b/en"}
