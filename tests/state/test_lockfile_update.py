"""Lockfile updates: every id kept in history, states set and cleared, entries forgotten."""

from __future__ import annotations

import pytest

from specsync.state.lockdata import Lockfile, Submission, empty
from specsync.state.lockfile_update import with_state, with_submission, with_uncertain, without

FP1 = "1" * 64
FP2 = "2" * 64
FP3 = "3" * 64
T0 = "2026-11-25T12:00:00Z"
T1 = "2026-11-25T12:05:00Z"
T2 = "2026-11-25T12:10:00Z"


def sample() -> Lockfile:
    lock = empty()
    lock = with_submission(lock, "onboarding/en", FP1, "P-en-1", "T-en-1", T0)
    lock = with_submission(lock, "onboarding/en", FP2, "P-en-2", "T-en-2", T1)
    lock = with_state(lock, "onboarding/en", "done")
    lock = with_uncertain(lock, "onboarding/ko", FP3, T2)
    lock = with_submission(lock, "welcome/de", FP1, "P-de", "T-de", T0)
    return with_state(lock, "welcome/de", "failed")


def test_history_keeps_every_id_across_updates() -> None:
    lock = empty()
    for n in range(1, 5):
        lock = with_submission(lock, "a/en", str(n) * 64, f"P{n}", f"T{n}", f"t{n}")
    entry = lock.entries["a/en"]
    assert (entry.project_id, entry.task_id) == ("P4", "T4")
    assert [s.project_id for s in entry.history] == ["P1", "P2", "P3"]
    assert entry.history[0] == Submission("P1", "T1", "t1", "1" * 64)


def test_submission_clears_state_but_same_ids_again_keep_it() -> None:
    lock = with_state(with_submission(empty(), "a/en", FP1, "P1", "T1", T0), "a/en", "done")
    again = with_submission(lock, "a/en", FP1, "P1", "T1", T0)
    assert again == lock
    updated = with_submission(lock, "a/en", FP2, "P2", "T2", T1)
    assert updated.entries["a/en"].state is None


def test_uncertain_keeps_ids_and_history_records_their_fingerprint() -> None:
    lock = with_submission(empty(), "a/en", FP1, "P1", "T1", T0)
    lock = with_uncertain(lock, "a/en", FP2, T1)
    entry = lock.entries["a/en"]
    assert (entry.project_id, entry.task_id, entry.state) == ("P1", "T1", "uncertain")
    assert entry.fingerprint == FP2 and entry.attempted_at == T1
    assert entry.history == (Submission("P1", "T1", T0, FP1),)
    assert with_uncertain(lock, "a/en", FP2, T1) == lock  # idempotent
    resolved = with_submission(lock, "a/en", FP2, "P2", "T2", T2).entries["a/en"]
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
