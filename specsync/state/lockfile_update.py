"""The lockfile updated in memory: exports recorded, render states set, entries forgotten.

Every function returns a new Lockfile or Entry and leaves its arguments alone; writing the
result is `lockfile_write`'s job. No id the service handed out is ever dropped: ids an
update replaces move to the entry's history (or to `forgotten`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from specsync.item_words import FINAL_STATES, RenderState
from specsync.state.lockfile_data import STATES, Entry, Lockfile, Submission


def _with_entry(lock: Lockfile, entry: Entry) -> Lockfile:
    return replace(lock, entries={**lock.entries, entry.id: entry})


def add_history(
    history: Iterable[Submission], extra: Iterable[Submission]
) -> tuple[Submission, ...]:
    """History plus the extra records it does not hold yet, order kept. A record it holds
    without a state takes the state the extra one knows (`done`/`failed`)."""
    result = list(history)
    where = {sub.key(): index for index, sub in enumerate(result)}
    for sub in extra:
        index = where.get(sub.key())
        if index is None:
            where[sub.key()] = len(result)
            result.append(sub)
        elif result[index].state is None and sub.state is not None:
            result[index] = sub
    return tuple(result)


def _unsettled(old: Entry, fingerprint: str) -> list[Submission]:
    """The request of unknown outcome `old` records, when the entry now moves on to another
    request (`fingerprint`): kept in history, so that it is never forgotten (plan shows
    it again when the item comes back to that request). A new request for the very same
    fingerprint settles it (adopted, or resubmitted with --retry-uncertain)."""
    attempt = old.attempt()
    return [attempt] if attempt is not None and old.fingerprint != fingerprint else []


def submitted_entry(
    old: Entry | None,
    id: str,
    fingerprint: str,
    project_id: str,
    task_id: str,
    submitted_at: str,
) -> Entry:
    """The entry after an accepted export; `old` may be None. Ids it replaces move to history.

    The state is cleared (a new render starts), except when the very same ids are recorded
    again (folding a journal twice), so that a known "done"/"failed" is not forgotten.
    """
    history: tuple[Submission, ...] = ()
    state = None
    if old is not None:
        history = add_history(old.history, _unsettled(old, fingerprint))
        previous = old.submission()
        if previous is not None and (previous.project_id, previous.task_id) != (
            project_id,
            task_id,
        ):
            history = add_history(history, [previous])
        elif previous is not None and old.state in FINAL_STATES:
            state = old.state
    return Entry(
        id=id,
        fingerprint=fingerprint,
        project_id=project_id,
        task_id=task_id,
        submitted_at=submitted_at,
        state=state,
        history=history,
    )


def uncertain_entry(old: Entry | None, id: str, fingerprint: str, attempted_at: str) -> Entry:
    """The entry after a request whose outcome is unknown; its existing ids are kept.

    Because `fingerprint` now names the attempt, the current export (if any) is also listed
    in history with its own fingerprint: the attempt may have replaced it.
    """
    if old is None:
        return Entry(
            id=id, fingerprint=fingerprint, state=RenderState.UNCERTAIN, attempted_at=attempted_at
        )
    previous = old.submission()
    history = add_history(old.history, _unsettled(old, fingerprint))
    if previous is not None and old.state != RenderState.UNCERTAIN:
        history = add_history(history, [previous])
    return old._replace(
        fingerprint=fingerprint,
        state=RenderState.UNCERTAIN,
        attempted_at=attempted_at,
        history=history,
    )


def made_current(
    old: Entry | None,
    id: str,
    request: Mapping[str, Any],
    fingerprint: str,
    project_id: str,
    task_id: str,
    submitted_at: str,
) -> Entry:
    """The entry with an export that already exists made current (adopted, or reused from
    history), and `request`'s fingerprinted fields recorded. The ids it held move to
    history; an export listed in history leaves it, being current: every id listed once."""
    new = submitted_entry(old, id, fingerprint, project_id, task_id, submitted_at)
    ids = (project_id, task_id)
    history = tuple(s for s in new.history if s.key() != ids)
    return new._replace(history=history).with_request(request)


def with_entries(lock: Lockfile, entries: Iterable[Entry]) -> Lockfile:
    """The lockfile with these entries added or replaced (one copy, however many)."""
    return replace(lock, entries={**lock.entries, **{entry.id: entry for entry in entries}})


def with_state(lock: Lockfile, id: str, state: str | None) -> Lockfile:
    """Set an entry's render state ("done", "failed", "uncertain", or None to clear it)."""
    if state is not None and state not in STATES:
        raise ValueError(f"unknown state {state!r}; expected one of {', '.join(STATES)}")
    old = lock.entries[id]
    if old.state == state:
        return lock
    return _with_entry(lock, old._replace(state=state))


def without(lock: Lockfile, ids: Iterable[str]) -> Lockfile:
    """The lockfile without the given entries (ids not present are ignored).

    Their ids move to `forgotten`, so that no id the service handed out is ever lost.
    """
    drop = set(ids) & set(lock.entries)
    forgotten = dict(lock.forgotten)
    for key in drop:
        entry = lock.entries[key]
        current = [sub for sub in (entry.submission(),) if sub is not None]
        kept = add_history(forgotten.get(key, ()), [*entry.history, *current])
        if kept:
            forgotten[key] = kept
    return replace(
        lock,
        entries={k: v for k, v in lock.entries.items() if k not in drop},
        forgotten=forgotten,
    )


def with_download(lock: Lockfile, id: str, project_id: str, sha256: str, size: int) -> Lockfile:
    """Record the pulled video of an entry's current export (`specsync pull`).

    Only when the entry still names `project_id`: an apply that re-exported the item
    meanwhile made the file a video of the old export. Unchanged when already recorded.
    """
    old = lock.entries.get(id)
    if old is None or old.project_id != project_id:
        return lock
    if (old.sha256, old.size) == (sha256, size):
        return lock
    return _with_entry(lock, old._replace(sha256=sha256, size=size))
