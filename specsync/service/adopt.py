"""adopt: record an export that already exists in AI Studios (found after an uncertain
outcome, or made before specsync), so that apply never pays for it a second time.

The lockfile gets the item's current fingerprint with the given ids; whatever the entry
recorded before moves to its history (no id is ever dropped). A journal an interrupted
apply left is folded first, under the same apply lock, so none of its ids is lost.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specsync.errors import UserError
from specsync.item_words import RenderState
from specsync.model import Item
from specsync.service.apply import (
    check_emulator_marking,
    check_service_host,
    recover,
    utc_now,
)
from specsync.service.apply_prepare import marked_for_run
from specsync.service.errors import ClientError, RenderRefused
from specsync.service.projects import ProjectEndpointMissing, get_project
from specsync.service.status import ItemStatus, interpret, write_cache
from specsync.service.tokens import jwt_expiry
from specsync.state import journal as journal_mod
from specsync.state.lockfile_data import Entry
from specsync.state.lockfile_data import service_host as host_of
from specsync.state.lockfile_read import read_lockfile
from specsync.state.lockfile_update import made_current, with_entries, with_state
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
    verified: Verification | None = None  # what the service said (None: --no-check)


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


@dataclass(frozen=True)
class Verification:
    """What the service said of a projectId before it was adopted."""

    via: str  # the endpoint that answered: "project" or "progress"
    done: bool = False  # exported and downloadable
    service_state: str | None = None
    progress: float | None = None
    credit_charged: bool | None = None  # `creditSubstracted`; None when not said
    download_url: str | None = None
    emulator: bool = False  # the answer came from specsync's emulator


def verify_export(client: Any, project_id: str) -> Verification:
    """Ask the project endpoint (docs/vendor.md: get-project), falling back to the progress
    endpoint where that answers 404; refuse an unknown or failed export, or one that could
    not be checked. AuthError propagates (nothing is written)."""

    try:
        info = get_project(client, project_id)
    except ProjectEndpointMissing:
        return _verify_by_progress(client, project_id)
    except (ValueError, ClientError) as error:
        raise _unchecked(project_id, error) from None
    if info.failed:
        raise AdoptRefused(
            f"the service says export {project_id} is {info.state!r}; a failed export is not "
            "adopted (plan will export the item again). Nothing was written."
        )
    return Verification(
        "project",
        done=info.exported and info.download_url is not None,
        service_state=info.state,
        progress=info.progress,
        credit_charged=info.credit_charged,
        download_url=info.download_url,
        emulator=bool(getattr(client, "emulator_seen", False)),
    )


def _verify_by_progress(client: Any, project_id: str) -> Verification:
    try:
        data = client.progress(project_id)
    except RenderRefused as error:
        # `success: false` on a poll is no verdict (docs/vendor.md): not checked.
        raise _unchecked(project_id, error) from None
    except ClientError as error:
        if error.status == 404:
            raise AdoptRefused(
                f"the service does not know projectId {project_id} (HTTP 404): check the id "
                "in AI Studios. Nothing was written."
            ) from None
        raise _unchecked(project_id, error) from None
    seen = interpret(ItemStatus("", project_id, RenderState.SUBMITTED), data)
    if seen.state == RenderState.FAILED:
        raise AdoptRefused(
            f"the service says export {project_id} failed ({seen.message}); a failed export "
            "is not adopted (plan will export the item again). Nothing was written."
        )
    return Verification(
        "progress",
        done=seen.state == RenderState.DONE,
        service_state=seen.service_state,
        progress=seen.progress,
        download_url=seen.download_url,
        emulator=bool(getattr(client, "emulator_seen", False)),
    )


def _unchecked(project_id: str, error: Exception) -> AdoptRefused:
    return AdoptRefused(
        f"could not check projectId {project_id}: {error}. Nothing was written; "
        "--no-check records it without asking the service."
    )


def check_not_a_secret(values: Sequence[str], secrets: Sequence[str]) -> None:
    """Refuse ids that are a credential (or look like a token), without showing them."""
    for value in values:
        if any(value == secret for secret in secrets if secret):
            raise AdoptRefused(
                "the id given is one of the credentials (the API key, user key or a token); "
                "it is not recorded and not shown. Nothing was written."
            )
        if jwt_expiry(value) is not None:
            raise AdoptRefused(
                "the id given is a token (a JWT), not a projectId; it is not recorded and "
                "not shown. Nothing was written."
            )


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
    check: Callable[[str], Verification] | None,
    service_host: str = "",
    emulator: bool = False,
    secrets: Sequence[str] = (),
) -> Adopted:
    """Record `project_id` (and `task_id`) as the current export of `item_id`.

    `check(project_id)` asks the service first (None: not checked). The ids are recorded
    only against the kind of service (emulator or real) and host the lockfile was made
    with, as apply does; `emulator` is this run's kind (`--emulator`), an answer from an
    emulator makes it one too. Ids equal to a credential (`secrets`) or shaped like a token
    are refused unshown, `--no-check` included. Every refusal comes before anything is
    written; the lockfile is written under the apply lock.
    """
    item = find_item(items, item_id)
    project_id, task = project_id.strip(), (task_id or "").strip()
    if not project_id:
        raise AdoptRefused("--project-id is empty. Nothing was written.")
    if task_id is not None and not task:
        raise AdoptRefused("--task-id is empty. Nothing was written.")
    check_not_a_secret([project_id, task], secrets)
    lockfile_path = Path(lockfile_path)
    host = host_of(service_host)
    # Refused before any request: the ids go only where the lockfile's kind says.
    before = read_lockfile(lockfile_path)
    if check is None or emulator:
        # Otherwise the answer says which kind of service this is: checked after it.
        check_emulator_marking(before, lockfile_path, emulator=emulator)
    check_service_host(before, lockfile_path, host)
    verified = check(project_id) if check is not None else None
    emulator = emulator or bool(verified and verified.emulator)
    with journal_mod.hold_apply_lock(lockfile_path):
        old, entry, recovered, written = _record(
            lockfile_path, item, (project_id, task), verified, emulator, service_host
        )
    if verified is not None and verified.download_url:
        _cache_url(lockfile_path, item.id, project_id, verified)
    return Adopted(
        item.id,
        project_id,
        entry.task_id or UNKNOWN_TASK_ID,
        old,
        check is not None,
        recovered,
        written,
        verified,
    )


def _record(
    lockfile_path: Path,
    item: Item,
    given: tuple[str, str],
    verified: Verification | None,
    emulator: bool,
    service_host: str,
) -> tuple[Entry | None, Entry, int, bool]:
    """Under the apply lock: (the entry before, the one written, journal records folded,
    whether the file changed)."""
    host = host_of(service_host)
    lock = read_lockfile(lockfile_path)
    check_emulator_marking(lock, lockfile_path, emulator)
    check_service_host(lock, lockfile_path, host)
    lock = marked_for_run(lock, emulator, host)
    lock, recovered = recover(lockfile_path, lock, emulator, service_host)
    project_id, task = given
    old = lock.entries.get(item.id)
    task = task or (old.task_id if old and old.project_id == project_id else None) or ""
    ids = (project_id, task or UNKNOWN_TASK_ID)
    # The export already current keeps when it was made.
    same = old is not None and (old.project_id, old.task_id) == ids
    at = (old.submitted_at if same and old else None) or utc_now()
    entry = adopted_entry(old, item, *ids, at)
    updated = with_entries(lock, [entry])
    if verified is not None and verified.done:
        updated = with_state(updated, item.id, RenderState.DONE)
    return old, entry, recovered, write_lockfile(lockfile_path, updated)


def _cache_url(lockfile_path: Path, item_id: str, project_id: str, seen: Verification) -> None:
    """The URL is short-lived: kept in .specsync/status.json only, as status does."""

    state = RenderState.DONE if seen.done else RenderState.RENDERING
    status = ItemStatus(
        item_id,
        project_id,
        state,
        seen.progress,
        seen.download_url,
        service_state=seen.service_state,
    )
    write_cache(lockfile_path, [status])
