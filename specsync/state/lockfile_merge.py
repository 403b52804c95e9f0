"""Three-way merge of lockfiles, entry by entry: `specsync merge-driver`.

Every item is an independent block, so most merges are a union; an item changed on both
sides is merged by its ids, and no id is ever lost.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from specsync.atomic import write_bytes_atomic
from specsync.errors import UserError
from specsync.item_words import RenderState
from specsync.state.lockfile_data import Entry, Lockfile, Submission
from specsync.state.lockfile_read import read_lockfile
from specsync.state.lockfile_update import add_history
from specsync.state.lockfile_write import dumps, quote

# Which side's state wins when both recorded one for the same export: a final one over
# none, and `uncertain` (a request of unknown outcome, never to be forgotten) over both.
_STATE_RANK: dict[str | None, int] = {
    None: 0,
    RenderState.DONE: 1,
    RenderState.FAILED: 1,
    RenderState.UNCERTAIN: 2,
}


def _merge_same_project(ours: Entry, theirs: Entry) -> Entry:
    """Both sides changed an entry that names the same export: combine them."""
    winner = ours if _STATE_RANK[ours.state] >= _STATE_RANK[theirs.state] else theirs
    other = theirs if winner is ours else ours
    history = add_history(winner.history, other.history)
    sha256, size = _merged_download(ours, theirs)
    return winner._replace(history=_sorted_history(history), sha256=sha256, size=size)


def _merged_download(ours: Entry, theirs: Entry) -> tuple[str | None, int | None]:
    """The pulled video's hash of the same export: whichever side has it; when both sides
    recorded different ones, neither (the next `pull` fetches the file and records what it
    really is) rather than a guess or a conflict."""
    if ours.sha256 is None:
        return theirs.sha256, theirs.size
    if theirs.sha256 is None or (theirs.sha256, theirs.size) == (ours.sha256, ours.size):
        return ours.sha256, ours.size
    return None, None


def _sorted_history(history: Iterable[Submission]) -> tuple[Submission, ...]:
    """Oldest first (by `submittedAt`, or `attemptedAt` for a request of unknown outcome;
    the sort is stable)."""
    return tuple(sorted(history, key=lambda sub: sub.submitted_at or sub.attempted_at or ""))


def _superseded(old: Entry, new: Entry) -> bool:
    """Is `old`'s export one that `new` already replaced (its ids are in `new`'s history)?

    One branch re-exported the item while the other only recorded a state for the export
    that the re-export replaced: not a conflict, the re-export is the newer fact.
    """
    sub = old.submission()
    if sub is None:
        return False
    return any(h.key() == sub.key() for h in new.history)


def _merge_superseded(new: Entry, old: Entry) -> Entry:
    """The re-export wins; every id either side had stays in its history."""
    extra = [s for s in (old.submission(),) if s is not None]
    history = add_history(new.history, [*old.history, *extra])
    return new._replace(history=_sorted_history(history))


def _merge_entries(
    base: Lockfile, ours: Lockfile, theirs: Lockfile
) -> tuple[dict[str, Entry], dict[str, str]]:
    merged: dict[str, Entry] = {}
    conflicts: dict[str, str] = {}
    for item_id in sorted(set(base.entries) | set(ours.entries) | set(theirs.entries)):
        b = base.entries.get(item_id)
        o = ours.entries.get(item_id)
        t = theirs.entries.get(item_id)
        if o == t or t == b:
            result = o
        elif o == b:
            result = t
        elif o is None or t is None:
            # Deleted on one side, changed on the other: keep the change (no id is lost).
            result = o if o is not None else t
        elif o.project_id == t.project_id:
            result = _merge_same_project(o, t)
        elif _superseded(t, o):
            result = _merge_superseded(o, t)
        elif _superseded(o, t):
            result = _merge_superseded(t, o)
        else:
            result = _merge_superseded(o, t)  # ours kept, theirs in its history
            conflicts[item_id] = (
                f"CONFLICT: {quote(item_id)} was exported on both sides: projectId "
                f"{o.project_id or '(none)'} (ours) and {t.project_id or '(none)'} (theirs); "
                "ours is kept, theirs is in its history; check which video is right"
            )
        if result is not None:
            merged[item_id] = result
    return merged, conflicts


def _merge_forgotten(ours: Lockfile, theirs: Lockfile) -> dict[str, tuple[Submission, ...]]:
    merged = dict(ours.forgotten)
    for key, subs in theirs.forgotten.items():
        merged[key] = add_history(merged.get(key, ()), subs)
    return merged


def merge(base: Lockfile, ours: Lockfile, theirs: Lockfile) -> tuple[Lockfile, dict[str, str]]:
    """Three-way merge, entry by entry: the merged lockfile and conflict messages by item id.

    An entry changed on one side only is taken from that side; deleted on one side and
    unchanged on the other, it is deleted. Changed differently on both sides but naming the
    same projectId, the histories are joined and the later state wins. Different projectIds
    are a conflict: ours is kept with theirs' ids added to its history, so no id is lost.
    """
    entries, conflicts = _merge_entries(base, ours, theirs)
    service = ours.service or theirs.service
    if ours.service and theirs.service and ours.service != theirs.service:
        # Ids of two services in one file would be queried at the wrong one: a person
        # decides. Ours is kept; the message (key "": above the top keys) names both.
        conflicts[""] = (
            f"CONFLICT: this side was applied against {ours.service}, the other against "
            f"{theirs.service}; keep their items in separate lockfiles (`--lockfile`)"
        )
    lock = Lockfile(
        entries,
        emulator=ours.emulator or theirs.emulator,
        fingerprint_scheme=ours.fingerprint_scheme,
        forgotten=_merge_forgotten(ours, theirs),
        service=service,
    )
    return lock, conflicts


def merge_text_files(base_path: Path, ours_path: Path, theirs_path: Path) -> list[str]:
    """`specsync merge-driver %O %A %B`: merge into `ours_path`, return conflict messages.

    Git always passes three files (%O is empty when there is no common ancestor), so a
    missing or unreadable one is refused with UserError before anything is written: %A is
    left exactly as it was. Conflicted blocks get a `# CONFLICT: ...` comment line above
    them so that a person sees them in the file.
    """
    # Only %O may be empty: git gives an empty one when the sides have no common ancestor.
    base = _read_side(Path(base_path), "%O (the common ancestor)", blank_is_empty=True)
    ours = _read_side(Path(ours_path), "%A (our side)")
    theirs = _read_side(Path(theirs_path), "%B (their side)")
    lock, conflicts = merge(base, ours, theirs)
    text = dumps(lock, {key: [message] for key, message in conflicts.items()})
    write_bytes_atomic(Path(ours_path), text.encode("utf-8"))
    return [conflicts[key] for key in sorted(conflicts)]


def _read_side(path: Path, label: str, *, blank_is_empty: bool = False) -> Lockfile:
    """One of git's three files; it must be a readable regular file (an empty one only
    where `blank_is_empty`)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        raise UserError(
            f"merge-driver: {label} {path} cannot be read: {error.strerror or error}; "
            "nothing was written"
        ) from None
    if not stat.S_ISREG(mode):
        raise UserError(f"merge-driver: {label} {path} is not a regular file; nothing was written")
    return read_lockfile(path, blank_is_empty=blank_is_empty)
