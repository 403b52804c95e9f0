"""A small lockfile the state tests share: an update with history, an uncertain entry, and
the two final states, built with the functions production uses."""

from __future__ import annotations

from specsync.state.lockfile_data import Lockfile, empty
from specsync.state.lockfile_update import (
    submitted_entry,
    uncertain_entry,
    with_entries,
    with_state,
)

FP1 = "1" * 64
FP2 = "2" * 64
FP3 = "3" * 64
T0 = "2026-11-25T12:00:00Z"
T1 = "2026-11-25T12:05:00Z"
T2 = "2026-11-25T12:10:00Z"


def sample() -> Lockfile:
    en = submitted_entry(None, "onboarding/en", FP1, "P-en-1", "T-en-1", T0)
    en = submitted_entry(en, "onboarding/en", FP2, "P-en-2", "T-en-2", T1)
    ko = uncertain_entry(None, "onboarding/ko", FP3, T2)
    de = submitted_entry(None, "welcome/de", FP1, "P-de", "T-de", T0)
    lock = with_entries(empty(), [en, ko, de])
    lock = with_state(lock, "onboarding/en", "done")
    return with_state(lock, "welcome/de", "failed")
