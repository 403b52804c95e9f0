"""adopt: record an export that already exists in AI Studios (found after an uncertain
outcome, or made before specsync), so that apply never pays for it a second time.

The lockfile gets the item's current fingerprint with the given ids; whatever the entry
recorded before moves to its history (no id is ever dropped). A journal an interrupted
apply left is folded first, under the same apply lock, so none of its ids is lost.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from specsync.errors import UserError
from specsync.model import Item
from specsync.service.apply import check_emulator_marking, recover, utc_now
from specsync.service.errors import ClientError, RenderRefused
from specsync.state import journal as journal_mod
from specsync.state.lockdata import Entry
from specsync.state.lockfile_read import read_lockfile
from specsync.state.lockfile_update import made_current, with_entries
from specsync.state.lockfile_write import write_lockfile

# Recorded when the user knows only the projectId: the lockfile keeps both ids together,
# and nothing specsync does with an export (status, reuse) needs its taskId.
UNKNOWN_TASK_ID = "unknown"


class AdoptRefused(UserError):
    """The export cannot be adopted: nothing was written."""


@dataclass(frozen=True)
class Adopted:
    """What `adopt` recorded."""

    id: str
    project_id: str
    task_id: str
    replaced: Entry | None  # the entry before (its ids are in the new entry's history)
    checked: bool  # the service confirmed the projectId
    recovered: int  # journal records of an interrupted apply folded first
    written: bool  # False when the lockfile already said exactly this


def find_item(items: Sequence[Item], item_id: str) -> Item:
    """The item with this id, or a refusal that suggests the nearest id."""
    for item in items:
        if item.id == item_id:
            return item
    ids = sorted(item.id for item in items)
    guess = difflib.get_close_matches(item_id, ids, n=1)
    hint = f" (did you mean {guess[0]!r}?)" if guess else ""
    raise AdoptRefused(
        f"no item {item_id!r} in the manifests{hint}; adopt records an export for an item "
        "that exists. Nothing was written."
    )


def check_export(progress: Callable[[str], Any], project_id: str) -> None:
    """Refuse unless the service knows `project_id` as an export that has not failed."""
    try:
        progress(project_id)
    except RenderRefused as error:
        raise AdoptRefused(
            f"the service says export {project_id} failed ({error}); a failed export is "
            "not adopted. Nothing was written."
        ) from None
    except ClientError as error:
        if error.status == 404:
            raise AdoptRefused(
                f"the service does not know projectId {project_id} (HTTP 404): check the id "
                "in AI Studios. Nothing was written."
            ) from None
        raise AdoptRefused(
            f"could not check projectId {project_id}: {error}. Nothing was written; "
            "--no-check records it without asking the service."
        ) from None


def adopted_entry(old: Entry | None, item: Item, project_id: str, task_id: str, at: str) -> Entry:
    """The entry with these ids current; the ids it held before move to history."""
    return made_current(old, item.id, item.request, item.fingerprint, project_id, task_id, at)


def adopt(
    items: Sequence[Item],
    item_id: str,
    lockfile_path: Path,
    project_id: str,
    task_id: str | None,
    *,
    check: Callable[[str], Any] | None,
    service_host: str = "",
) -> Adopted:
    """Record `project_id` (and `task_id`) as the current export of `item_id`.

    `check(project_id)` asks the service first (None: not checked). Every refusal comes
    before anything is written; the lockfile is written under the apply lock.
    """
    item = find_item(items, item_id)
    project_id, task = project_id.strip(), (task_id or "").strip()
    if not project_id:
        raise AdoptRefused("--project-id is empty. Nothing was written.")
    if task_id is not None and not task:
        raise AdoptRefused("--task-id is empty. Nothing was written.")
    lockfile_path = Path(lockfile_path)
    # Refused before any request: adopt records real exports only.
    check_emulator_marking(read_lockfile(lockfile_path), lockfile_path, emulator=False)
    if check is not None:
        check_export(check, project_id)
    with journal_mod.hold_apply_lock(lockfile_path):
        lock = read_lockfile(lockfile_path)
        check_emulator_marking(lock, lockfile_path, emulator=False)
        if not lock.entries and not lock.forgotten:
            lock = replace(lock, emulator=False)
        lock, recovered = recover(lockfile_path, lock, False, service_host)
        old = lock.entries.get(item.id)
        task = task or (old.task_id if old and old.project_id == project_id else None) or ""
        ids = (project_id, task or UNKNOWN_TASK_ID)
        # The export already current keeps when it was made.
        same = old is not None and (old.project_id, old.task_id) == ids
        at = (old.submitted_at if same and old else None) or utc_now()
        entry = adopted_entry(old, item, *ids, at)
        written = write_lockfile(lockfile_path, with_entries(lock, [entry]))
    return Adopted(
        item.id,
        project_id,
        entry.task_id or UNKNOWN_TASK_ID,
        old,
        check is not None,
        recovered,
        written,
    )
