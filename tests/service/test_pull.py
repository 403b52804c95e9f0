"""pull's orchestration on real lockfiles and files: what is chosen, skipped, recorded."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from specsync.service.pull import (
    PullOptions,
    record_downloads,
    run_pull,
    verify_files,
    video_path,
    why_not_done,
)
from specsync.state import journal
from specsync.state.lockfile_data import Entry, empty
from specsync.state.lockfile_read import read_lockfile
from specsync.state.lockfile_update import submitted_entry, uncertain_entry, with_entries
from specsync.state.lockfile_write import write_lockfile

FP = "1" * 64
T0 = "2026-11-25T12:00:00Z"
VIDEO = b"a video"
SHA = hashlib.sha256(VIDEO).hexdigest()


def no_client() -> Any:
    raise AssertionError("no request may be made")


def lockfile_with(tmp_path: Path, *entries: Entry) -> Path:
    path = tmp_path / "specsync.lock"
    write_lockfile(path, with_entries(empty(), entries))
    return path


def done(item: str, project: str, **kw: Any) -> Entry:
    return submitted_entry(None, item, FP, project, "T", T0)._replace(state="done", **kw)


@pytest.mark.parametrize("item", ["../x/en", "a/../../en", "/en", "a/", "a/en/x", ".a/en"])
def test_ids_that_are_no_video_locale_pair_make_no_path(tmp_path: Path, item: str) -> None:
    assert video_path(tmp_path, item) is None


def test_a_video_locale_id_makes_its_path(tmp_path: Path) -> None:
    assert video_path(tmp_path, "welcome/pt-BR") == tmp_path / "welcome" / "pt-BR.mp4"


def test_why_an_item_is_not_pulled() -> None:
    base = submitted_entry(None, "a/en", FP, "P", "T", T0)
    assert why_not_done(base._replace(state="done")) is None
    assert "not done yet" in (why_not_done(base) or "")
    assert "failed" in (why_not_done(base._replace(state="failed")) or "")
    assert "unknown" in (why_not_done(uncertain_entry(None, "a/en", FP, T0)) or "")


def test_skipped_items_and_files_on_disk_cost_no_request(tmp_path: Path) -> None:
    lockfile = lockfile_with(
        tmp_path,
        done("a/en", "P1", sha256=SHA, size=len(VIDEO)),
        submitted_entry(None, "b/en", FP, "P2", "T", T0),  # still rendering
    )
    (tmp_path / "videos" / "a").mkdir(parents=True)
    (tmp_path / "videos" / "a" / "en.mp4").write_bytes(VIDEO)
    report = run_pull(lockfile, PullOptions(out_dir=tmp_path / "videos"), no_client)
    assert [(i.id, i.outcome) for i in report.items] == [("a/en", "unchanged"), ("b/en", "skipped")]
    assert report.ok  # a render still going is not pull's failure


def test_hashes_are_recorded_only_on_entries_that_still_name_the_export(tmp_path: Path) -> None:
    from specsync.service.pull import PulledItem

    lockfile = lockfile_with(tmp_path, done("a/en", "P1"), done("b/en", "P2"))
    # An apply re-exported b/en between the download and the record.
    write_lockfile(
        lockfile,
        with_entries(
            read_lockfile(lockfile),
            [submitted_entry(read_lockfile(lockfile).entries["b/en"], "b/en", FP, "P9", "T", T0)],
        ),
    )
    items = [
        PulledItem("a/en", "downloaded", "x", len(VIDEO), SHA),
        PulledItem("b/en", "downloaded", "y", len(VIDEO), SHA),
    ]
    changed = record_downloads(lockfile, items, {"a/en": "P1", "b/en": "P2"})
    assert changed == ["a/en"]
    entries = read_lockfile(lockfile).entries
    assert (entries["a/en"].sha256, entries["a/en"].size) == (SHA, len(VIDEO))
    assert entries["b/en"].sha256 is None and entries["b/en"].project_id == "P9"


def test_recording_fails_fast_while_apply_holds_the_lock(tmp_path: Path) -> None:
    from specsync.service.pull import PulledItem

    lockfile = lockfile_with(tmp_path, done("a/en", "P1"))
    item = PulledItem("a/en", "downloaded", "x", len(VIDEO), SHA)
    with journal.hold_apply_lock(lockfile), pytest.raises(journal.LockBusy):
        record_downloads(lockfile, [item], {"a/en": "P1"})


def test_verify_names_missing_and_changed_files_and_skips_unpulled_ones(tmp_path: Path) -> None:
    lockfile = lockfile_with(
        tmp_path,
        done("a/en", "P1", sha256=SHA, size=len(VIDEO)),
        done("b/en", "P2", sha256=SHA, size=len(VIDEO)),
        done("c/en", "P3", sha256=SHA, size=len(VIDEO)),
        done("d/en", "P4"),
    )
    out = tmp_path / "videos"
    for name, data in (("a", VIDEO), ("b", b"another video")):
        (out / name).mkdir(parents=True)
        (out / name / "en.mp4").write_bytes(data)
    report = verify_files(lockfile, PullOptions(out_dir=out))
    assert [(i.id, i.outcome) for i in report.items] == [
        ("a/en", "verified"),
        ("b/en", "changed"),
        ("c/en", "missing"),
        ("d/en", "skipped"),
    ]
    assert not report.ok
