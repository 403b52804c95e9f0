"""reconcile: settle uncertain items by asking the account what it holds. Nothing is exported.

An uncertain item is a request whose answer never came: the export may or may not exist.
The project list (`GET /api/odin/v3/editor/project`) names the account's projects; each one
created after the request was journalled (minus `clock_skew`, our clock against theirs) is
read with the single-project endpoint, whose scenes carry the script, model and language
(docs/vendor.md). A project already recorded in the lockfile is never a candidate. For each
item:
- exactly one project with the same text and model (and language, where the project says
  one): MATCH, recorded as adopt records it (the ids current, earlier ones in history);
- none: NONE, the request never created an export. Recorded by undoing the attempt (the
  entry goes back to its earlier export, or away when there was none), so plan sends the
  item once; only once the intent is older than `min_age` (a render still running may not
  be listed yet), else YOUNG and nothing changes;
- several: SEVERAL, listed, nothing recorded (exit 1);
- CHANGED: the manifests no longer hold the attempted script, so there is nothing to
  compare with; nothing recorded.
Recording happens only when `confirm(summary)` says yes (a terminal's answer or --yes), under
the apply lock, after folding a journal an interrupted apply left.
"""

from __future__ import annotations

import datetime
import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from specsync.errors import UserError
from specsync.item_words import RenderState
from specsync.model import Item
from specsync.service.apply import check_emulator_marking, check_service_host, recover, utc_now
from specsync.service.apply_prepare import marked_for_run
from specsync.service.projects import ProjectEndpointMissing, ProjectInfo, get_project
from specsync.service.projects import list_projects as list_project_ids
from specsync.state import journal as journal_mod
from specsync.state.lockfile_data import Entry, Lockfile
from specsync.state.lockfile_data import service_host as host_of
from specsync.state.lockfile_read import read_lockfile
from specsync.state.lockfile_update import made_current, with_entries, with_state
from specsync.state.lockfile_write import write_lockfile

MATCH, NONE, SEVERAL, CHANGED, YOUNG = "match", "none", "several", "changed", "young"
DEFAULT_CLOCK_SKEW = 120.0  # seconds
DEFAULT_MIN_AGE = 15 * 60.0  # seconds: renders take 1-10 minutes plus queueing
UNKNOWN_TASK_ID = "unknown"
# Projects read one by one at most (the list carries no creation time, so each is read):
# beyond this the rest is not read, and no item is called never created.
MAX_PROJECTS_READ = 2000


_CHANGED_TEXT = (
    "the manifests no longer hold the script that was sent, so there is nothing to compare "
    "with; find it in AI Studios and `specsync adopt` it"
)


class ReconcileRefused(UserError):
    """Nothing can be reconciled as asked: nothing was written."""


@dataclass(frozen=True)
class Settled:
    """What reconcile found for one uncertain item."""

    id: str
    outcome: str  # match | none | several | changed | young
    message: str
    candidates: tuple[ProjectInfo, ...] = ()  # the match, or the several


@dataclass
class ReconcileReport:
    items: list[Settled] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)  # ids written to the lockfile
    looked_at: int = 0  # projects read one by one
    listed: int = 0  # projects the list named
    asked: bool = False  # confirm() was asked (something to record)

    @property
    def ok(self) -> bool:
        """Exit 0: nothing ambiguous or unmatched left (dry runs included)."""
        return not any(item.outcome in (SEVERAL, CHANGED) for item in self.items)


@dataclass(frozen=True)
class ReconcileOptions:
    only: tuple[str, ...] = ()  # item ids or globs; () = every uncertain item
    dry_run: bool = False
    clock_skew: float = DEFAULT_CLOCK_SKEW
    min_age: float = DEFAULT_MIN_AGE
    emulator: bool = False
    service_host: str = ""


def _moment(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment


def uncertain_entries(lock: Lockfile, only: Sequence[str]) -> list[Entry]:
    """The uncertain entries `only` names (all of them when empty); a name that matches no
    uncertain entry is refused."""
    uncertain = [e for e in lock.entries.values() if e.state == RenderState.UNCERTAIN]
    if not only:
        return sorted(uncertain, key=lambda e: e.id)
    chosen = [e for e in uncertain if any(fnmatch.fnmatchcase(e.id, glob) for glob in only)]
    unmatched = [g for g in only if not any(fnmatch.fnmatchcase(e.id, g) for e in uncertain)]
    if unmatched:
        raise ReconcileRefused(
            f"no uncertain item matches {', '.join(repr(g) for g in unmatched[:5])}; "
            "`specsync plan` lists the uncertain items. Nothing was written."
        )
    return sorted(chosen, key=lambda e: e.id)


def _same_script(item: Item, project: ProjectInfo) -> bool:
    request = item.request
    if project.text is None or project.model is None:
        return False
    if project.text != request.get("text") or project.model != str(request.get("model")):
        return False
    language = project.language
    # The project's language is compared where it says one (the scenes may not).
    return language is None or language.casefold() == str(request.get("language")).casefold()


def find_matches(
    entries: Sequence[Entry],
    items: Sequence[Item],
    lock: Lockfile,
    client: Any,
    options: ReconcileOptions,
    now: datetime.datetime,
) -> ReconcileReport:
    """What the account holds for each entry; reads only (no lockfile write, no export)."""
    report = ReconcileReport()
    by_id = {item.id: item for item in items}
    known = _recorded_ids(lock)
    listed = [pid for pid in list_project_ids(client) if pid not in known]
    report.listed = len(listed)
    partial = len(listed) > MAX_PROJECTS_READ
    listed = listed[:MAX_PROJECTS_READ]
    read: dict[str, ProjectInfo | None] = {}

    def project(project_id: str) -> ProjectInfo | None:
        if project_id not in read:
            try:
                read[project_id] = get_project(client, project_id)
            except ProjectEndpointMissing:
                read[project_id] = None  # gone since it was listed
            report.looked_at += 1
        return read[project_id]

    skew = datetime.timedelta(seconds=options.clock_skew)
    for entry in entries:
        item = by_id.get(entry.id)
        if item is None or item.fingerprint != entry.fingerprint:
            report.items.append(Settled(entry.id, CHANGED, _CHANGED_TEXT))
            continue
        since = _moment(entry.attempted_at)
        candidates = []
        for project_id in listed:
            info = project(project_id)
            if info is None or info.failed or not _same_script(item, info):
                continue
            # A project whose creation time is not said is kept: never call it absent.
            if since is not None and info.created_at is not None and info.created_at < since - skew:
                continue
            candidates.append(info)
        settled = _settled(entry, candidates, since, now, options)
        if settled.outcome == NONE and partial:
            settled = Settled(
                entry.id,
                YOUNG,
                f"not among the first {MAX_PROJECTS_READ} of the account's {report.listed} "
                "projects; the rest were not read, so nothing is concluded: find it in AI "
                "Studios and `specsync adopt` it, or `apply --retry-uncertain`",
            )
        report.items.append(settled)
    return report


def _settled(
    entry: Entry,
    candidates: list[ProjectInfo],
    since: datetime.datetime | None,
    now: datetime.datetime,
    options: ReconcileOptions,
) -> Settled:
    if len(candidates) == 1:
        found = candidates[0]
        return Settled(entry.id, MATCH, f"created as project {found.project_id}", (found,))
    if candidates:
        return Settled(
            entry.id,
            SEVERAL,
            f"{len(candidates)} projects match; nothing recorded: adopt the right one with "
            "`specsync adopt ITEM --project-id ID`",
            tuple(candidates),
        )
    age = (now - since).total_seconds() if since is not None else None
    if age is not None and age < options.min_age:
        return Settled(
            entry.id,
            YOUNG,
            f"not in the account yet, but the request was sent {age / 60:.0f} min ago: a "
            "render still going may not be listed yet; run reconcile again later "
            f"(or --min-age {age / 60:.0f})",
        )
    return Settled(
        entry.id,
        NONE,
        "never created: no project in the account matches; the next apply sends it once",
    )


def _recorded_ids(lock: Lockfile) -> set[str]:
    """Every projectId the lockfile holds (current, history, forgotten): none is a candidate."""
    ids = set()
    for entry in lock.entries.values():
        if entry.project_id:
            ids.add(entry.project_id)
        ids.update(record.project_id for record in entry.history)
    for records in lock.forgotten.values():
        ids.update(record.project_id for record in records)
    return ids


def _is_emulator(client: Any) -> bool:
    identify = getattr(client, "identify_service", None)
    return bool(identify is not None and identify() is True)


def never_created(entry: Entry) -> Entry | None:
    """The entry with its unanswered attempt undone: back to its earlier export (taken out
    of history, where the attempt had put it), or None when there was none."""
    if entry.project_id is None:
        return None
    ids = (entry.project_id, entry.task_id)
    earlier = [r for r in entry.history if (r.project_id, r.task_id) == ids]
    if not earlier:
        return None
    history = tuple(r for r in entry.history if (r.project_id, r.task_id) != ids)
    return entry._replace(
        fingerprint=earlier[-1].fingerprint, state=None, attempted_at=None, history=history
    )


def reconcile(
    items: Sequence[Item],
    lockfile_path: Path,
    client: Any,
    options: ReconcileOptions,
    confirm: Callable[[ReconcileReport], bool],
    *,
    now: datetime.datetime | None = None,
) -> ReconcileReport:
    """Find, then (after `confirm`) record what was found. Sends no export, ever."""
    lockfile_path = Path(lockfile_path)
    host = host_of(options.service_host)
    view = journal_mod.read_lock_view(lockfile_path)
    # An emulator reached through SPECSYNC_API_BASE keeps the lockfile it is given (as
    # apply does): the service says what it is before the lockfile's kind is checked.
    emulator = options.emulator or _is_emulator(client)
    check_emulator_marking(view, lockfile_path, emulator)
    check_service_host(view, lockfile_path, host)
    entries = uncertain_entries(view, options.only)
    if not entries:
        return ReconcileReport()
    moment = now or datetime.datetime.now(datetime.timezone.utc)
    report = find_matches(entries, items, view, client, options, moment)
    settle = [s for s in report.items if s.outcome in (MATCH, NONE)]
    if options.dry_run or not settle:
        return report
    report.asked = True
    if not confirm(report):
        return report
    with journal_mod.hold_apply_lock(lockfile_path):
        report.recorded = _record(lockfile_path, items, settle, emulator, options, host)
    return report


def _record(
    lockfile_path: Path,
    items: Sequence[Item],
    settle: Sequence[Settled],
    emulator: bool,
    options: ReconcileOptions,
    host: str,
) -> list[str]:
    """Under the apply lock: write what was settled; the ids written."""
    by_id = {item.id: item for item in items}
    lock = read_lockfile(lockfile_path)
    check_emulator_marking(lock, lockfile_path, emulator)
    check_service_host(lock, lockfile_path, host)
    lock = marked_for_run(lock, emulator, host)  # a killed rehearsal's lockfile stays one
    lock, _ = recover(lockfile_path, lock, emulator, options.service_host)
    updated, recorded = lock, []
    for settled in settle:
        entry = updated.entries.get(settled.id)
        if entry is None or entry.state != RenderState.UNCERTAIN:
            continue  # settled meanwhile (another run): left as it is
        if settled.outcome == MATCH:
            updated = _matched(updated, entry, by_id[settled.id], settled.candidates[0])
        else:
            entries = dict(updated.entries)
            undone = never_created(entry)
            if undone is None:
                del entries[settled.id]
            else:
                entries[settled.id] = undone
            updated = replace(updated, entries=entries)
        recorded.append(settled.id)
    if recorded:
        write_lockfile(lockfile_path, updated)
    return recorded


def _matched(lock: Lockfile, entry: Entry, item: Item, found: ProjectInfo) -> Lockfile:
    """The lockfile with `found` made the item's current export, as adopt records it."""
    task = found.task_id or UNKNOWN_TASK_ID
    new = made_current(
        entry, item.id, item.request, item.fingerprint, found.project_id, task, utc_now()
    )
    updated = with_entries(lock, [new])
    if found.exported and found.download_url:
        updated = with_state(updated, item.id, RenderState.DONE)
    return updated
