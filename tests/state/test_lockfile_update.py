"""Lockfile updates: every id kept in history, states set and cleared, entries forgotten."""

from __future__ import annotations

import pytest

from specsync.state.lockfile_data import Entry, Submission, empty
from specsync.state.lockfile_update import (
    submitted_entry,
    uncertain_entry,
    with_entries,
    with_state,
    without,
)
from tests.helpers.lockfile_samples import FP1, FP2, T0, T1, T2, sample


def test_history_keeps_every_id_across_updates() -> None:
    entry: Entry | None = None
    for n in range(1, 5):
        entry = submitted_entry(entry, "a/en", str(n) * 64, f"P{n}", f"T{n}", f"t{n}")
    assert entry is not None
    assert (entry.project_id, entry.task_id) == ("P4", "T4")
    assert [s.project_id for s in entry.history] == ["P1", "P2", "P3"]
    assert entry.history[0] == Submission("P1", "T1", "t1", "1" * 64)


def test_submission_clears_state_but_same_ids_again_keep_it() -> None:
    first = submitted_entry(None, "a/en", FP1, "P1", "T1", T0)
    done = with_state(with_entries(empty(), [first]), "a/en", "done").entries["a/en"]
    again = submitted_entry(done, "a/en", FP1, "P1", "T1", T0)
    assert again == done
    updated = submitted_entry(done, "a/en", FP2, "P2", "T2", T1)
    assert updated.state is None


def test_uncertain_keeps_ids_and_history_records_their_fingerprint() -> None:
    entry = submitted_entry(None, "a/en", FP1, "P1", "T1", T0)
    entry = uncertain_entry(entry, "a/en", FP2, T1)
    assert (entry.project_id, entry.task_id, entry.state) == ("P1", "T1", "uncertain")
    assert entry.fingerprint == FP2 and entry.attempted_at == T1
    assert entry.history == (Submission("P1", "T1", T0, FP1),)
    assert uncertain_entry(entry, "a/en", FP2, T1) == entry  # idempotent
    resolved = submitted_entry(entry, "a/en", FP2, "P2", "T2", T2)
    assert resolved.history == (Submission("P1", "T1", T0, FP1),)
    assert resolved.state is None and resolved.attempted_at is None


def test_with_state_and_without() -> None:
    lock = sample()
    with pytest.raises(ValueError, match="unknown state"):
        with_state(lock, "welcome/de", "rendering")
    assert with_state(lock, "welcome/de", "failed") is lock
    assert set(without(lock, ["welcome/de", "missing/en"]).entries) == {
        "onboarding/en",
        "onboarding/ko",
    }
    with pytest.raises(TypeError):
        lock.entries["x"] = lock.entries["welcome/de"]  # type: ignore[index]


# pulled videos -----------------------------------------------------------------------------


def test_a_download_is_recorded_only_on_the_export_it_was_made_from() -> None:
    from specsync.state.lockfile_update import with_download

    lock = sample()
    sha = "a" * 64
    pulled = with_download(lock, "onboarding/en", "P-en-2", sha, 1234)
    assert (pulled.entries["onboarding/en"].sha256, pulled.entries["onboarding/en"].size) == (
        sha,
        1234,
    )
    assert with_download(pulled, "onboarding/en", "P-en-2", sha, 1234) is pulled
    # Re-exported meanwhile (another projectId), or gone: nothing recorded.
    assert with_download(lock, "onboarding/en", "P-en-1", sha, 1234) is lock
    assert with_download(lock, "nope/en", "P-en-2", sha, 1234) is lock
    # A re-export starts without a hash: the file on disk is the old video.
    again = submitted_entry(pulled.entries["onboarding/en"], "onboarding/en", FP1, "P3", "T3", T2)
    assert again.sha256 is None and again.size is None
