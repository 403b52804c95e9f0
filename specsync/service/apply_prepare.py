"""apply's preparation: everything decided before the first export is sent.

Under the apply lock: the lockfile and any journal are read, a saved plan is checked, the
service is identified (emulator or real, which host), a journal left by an interrupted run
is folded, the plan is made and what to send is selected and checked against the budget.
Nothing here sends an export; a refusal leaves the lockfile as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path

from specsync.errors import UserError
from specsync.item_words import PlanAction
from specsync.model import InputError, Item
from specsync.plan import SUBMITTED, Plan, PlannedItem, estimated_minutes, make_plan, matches
from specsync.saved_plan import SavedPlan, check_fresh, check_selection, saved_items
from specsync.service.apply_report import Progress
from specsync.service.signals import signals_interrupt
from specsync.service.submitter import ExportClient
from specsync.state import journal as journal_mod
from specsync.state.lockfile_data import Entry, Lockfile, resolution_marker, service_host
from specsync.state.lockfile_update import made_current, with_entries
from specsync.state.lockfile_write import write_lockfile


@dataclass(frozen=True)
class ApplyOptions:
    concurrency: int  # requests in flight at most (a bound: the rate decides how many)
    rate: float  # requests per second at most: the service's limit
    targets: Sequence[str] = ()
    replace: Sequence[str] = ()
    retry_uncertain: bool = False
    emulator: bool = False
    max_items: int | None = None
    max_minutes: float | None = None
    service_host: str = ""  # host[:port] of the API base, recorded in the journal
    # `apply --plan FILE`: send exactly this reviewed plan, or nothing (targets are its own).
    saved_plan: SavedPlan | None = None
    saved_plan_name: str = ""
    # After SIGINT/SIGTERM, requests in flight get this long to land (None: the default,
    # or SPECSYNC_STOP_GRACE).
    stop_grace: float | None = None
    # Give up after this long of nothing but 429/503 (None: the default, or
    # SPECSYNC_PUSHBACK_LIMIT).
    pushback_limit: float | None = None


@dataclass
class Prepared:
    """What apply sends and records, decided before the first export."""

    lock: Lockfile  # with the journal folded, reused and stamped entries made current
    plan: Plan
    chosen: list[tuple[PlannedItem, str]]
    reused: list[Entry]
    stamped: list[Entry]
    options: ApplyOptions  # `emulator` as the service said it is
    client: ExportClient | None  # made when the service had to be asked


class OverBudget(UserError):
    """The plan exceeds --max-items/--max-minutes: nothing is submitted."""


class EmulatorMismatch(InputError):
    pass


class ServiceHostMismatch(UserError):
    """The lockfile's real ids belong to another host than the one apply would talk to."""


def check_emulator_marking(lock: Lockfile, path: Path, emulator: bool) -> None:
    """A lockfile holds either real exports or emulator ones, never both."""
    if lock.emulator and not emulator:
        raise EmulatorMismatch(
            f"{path} was written against an emulator (`apply --emulator`, or an API base "
            "answering as one): its ids are not real exports. "
            "Start a fresh lockfile for the real service (move this one away: rehearsals "
            "now keep their own .specsync/emulator.lock) or pass --lockfile with another path"
        )
    if emulator and not lock.emulator and (lock.entries or lock.forgotten):
        raise EmulatorMismatch(
            f"{path} records real exports; `--emulator` would mix fake ids into it. "
            "Pass --lockfile with another path for emulator runs"
        )


def marked_for_run(lock: Lockfile, emulator: bool, host: str) -> Lockfile:
    """The lockfile as this run writes it (after the checks above): an empty one takes the
    run's kind, emulator or real, so the ids a journal folds into it are marked for what
    they are; the service's host is recorded. Every writer that folds a journal uses it."""
    if not lock.entries and not lock.forgotten:
        lock = replace(lock, emulator=emulator)
    return replace(lock, service=host) if host else lock


def check_service_host(lock: Lockfile, path: Path, host: str) -> None:
    """Real ids of one service are never recorded beside those of another host.

    Emulator lockfiles are left to `check_emulator_marking`: their ids are fake anyway.
    A lockfile written before hosts were recorded names none and is taken as it is.
    """
    if lock.emulator or not lock.service or not host or lock.service == host:
        return
    if not (lock.entries or lock.forgotten):
        return
    raise ServiceHostMismatch(
        f"{path} records exports applied against {lock.service}; this apply talks to "
        f"{host}, which does not know those ids. Nothing was sent. Pass --lockfile with "
        f"another path for {host}, or set SPECSYNC_API_BASE back to {lock.service}"
    )


def identify_emulator(
    client: ExportClient, options: ApplyOptions, progress: Progress
) -> ApplyOptions:
    """Ask the API base once, before anything is sent, whether it is an emulator.

    An emulator reached through SPECSYNC_API_BASE marks the run (journal and lockfile) as
    it would with --emulator, so its fake ids never pass for real exports.
    """
    if options.emulator:
        return options
    with signals_interrupt():  # nothing sent yet: a signal simply ends the run
        answer = client.identify_service()
    if answer is not True:
        return options
    progress.note(
        f"{options.service_host or 'the API base'} answers as a specsync emulator: "
        "nothing is really exported, and the lockfile is marked `emulator = true`"
    )
    return replace(options, emulator=True)


def recover(
    lockfile_path: Path, lock: Lockfile, emulator: bool, service_host: str
) -> tuple[Lockfile, int]:
    """Fold a journal an interrupted run left behind; returns the lockfile and its records.

    A journal of the other kind of service (emulator vs real, or another host than
    `service_host`) is refused, never folded.
    """
    path = journal_mod.journal_path(lockfile_path, create=False)
    journal_mod.check_journal_service(path, lockfile_path, emulator, service_host)
    records = journal_mod.read_journal(path)
    if not records:
        with suppress(FileNotFoundError):
            path.unlink()
        return lock, 0
    folded = journal_mod.fold(lock, records)
    write_lockfile(lockfile_path, folded)
    path.unlink()
    return folded, len(records)


def resolutions_to_record(plan: Plan) -> list[Entry]:
    """Unchanged entries that do not know their resolution, made to know the current one.

    Such an entry was written before resolution counted and is taken as made at the
    item's current resolution (`plan.same_export`); recording that lets a later change of
    resolution plan an update. Ids, state and history are kept as they are.
    """
    stamped = []
    for planned in plan.by_action(PlanAction.UNCHANGED):
        entry, item = planned.entry, planned.item
        if entry is None or item is None or entry.resolution is not None:
            continue
        marker = resolution_marker({"resolution": item.request.get("resolution")})
        stamped.append(entry._replace(fingerprint=item.fingerprint, resolution=marker))
    return stamped


def reused_entries(plan: Plan, options: ApplyOptions) -> list[Entry]:
    """Entries whose item matches an earlier export again (`reuse`), made current.

    Nothing is sent for them. The export that was current moves to history (as after any
    new export); the reused one leaves history because it is current again, so every id is
    still in the entry. The state is cleared: `status` polls the reused export afresh.
    """
    entries = []
    for planned in plan.by_action(PlanAction.REUSE):
        entry, item, record = planned.entry, planned.item, planned.reuse
        if entry is None or item is None or record is None:
            continue
        if options.targets and not matches(planned.id, options.targets):
            continue
        entries.append(
            made_current(
                entry,
                entry.id,
                item.request,
                item.fingerprint,
                record.project_id,
                record.task_id,
                record.submitted_at,
            )
        )
    return entries


def select(plan: Plan, options: ApplyOptions) -> list[tuple[PlannedItem, str]]:
    """(planned item, why) for everything this run submits."""
    chosen: list[tuple[PlannedItem, str]] = []
    for planned in plan.items:
        if planned.item is None:
            continue
        if options.targets and not matches(planned.id, options.targets):
            continue
        if planned.action in SUBMITTED:
            chosen.append((planned, planned.action))
        elif planned.action == PlanAction.UNCERTAIN and options.retry_uncertain:
            chosen.append((planned, "retry"))
        elif (
            planned.action == PlanAction.UNCHANGED
            and options.replace
            and matches(planned.id, options.replace)
        ):
            chosen.append((planned, "replace"))
    return chosen


def check_budget(chosen: Sequence[tuple[PlannedItem, str]], options: ApplyOptions) -> None:
    """Refuse, before anything is sent, a run larger than the user allowed."""
    count = len(chosen)
    if options.max_items is not None and count > options.max_items:
        raise OverBudget(
            f"this apply would submit {count} export{'s' if count != 1 else ''}; "
            f"--max-items allows {options.max_items} "
            f"({count - options.max_items} over). Nothing was submitted."
        )
    minutes = sum(estimated_minutes(p.item.request) for p, _ in chosen if p.item is not None)
    if options.max_minutes is not None and minutes > options.max_minutes:
        raise OverBudget(
            f"this apply would export about {minutes:.1f} minutes of video; --max-minutes "
            f"allows {options.max_minutes:g} ({minutes - options.max_minutes:.1f} over). "
            "Nothing was submitted."
        )


def prepare(
    items: Sequence[Item],
    lockfile_path: Path,
    lock: Lockfile,
    client_factory: Callable[[], ExportClient],
    options: ApplyOptions,
    progress: Progress,
) -> Prepared:
    """Everything before the first export (see the module doc); call under the apply lock.

    A run over budget, or with nothing to do, sends nothing at all, not even `GET /`.
    """
    # What this run would send, as the lockfile and any journal say (read only).
    view = journal_mod.read_lock_view(lockfile_path, lock=lock)
    saved, name = options.saved_plan, options.saved_plan_name
    if saved is not None:
        # Before anything is folded or sent: a plan that no longer holds is refused.
        check_fresh(saved, items, view, lockfile_path, name)
    host = service_host(options.service_host)
    check_service_host(lock, lockfile_path, host)
    foreseen = make_plan(items, view)
    if saved is not None:
        check_selection(saved, saved_items(foreseen, options.targets), name)
    check_budget(select(foreseen, options), options)
    client: ExportClient | None = None
    leftover = journal_mod.journal_path(lockfile_path, create=False).exists()
    if not options.emulator and (select(foreseen, options) or leftover or lock.emulator):
        # Asked, before anything is sent or folded, whether it is an emulator (an
        # emulator lockfile is fine with an emulator reached through the API base).
        client = client_factory()
        options = identify_emulator(client, options, progress)
    check_emulator_marking(lock, lockfile_path, options.emulator)
    lock = marked_for_run(lock, options.emulator, host)
    lock, recovered = recover(lockfile_path, lock, options.emulator, options.service_host)
    plan = foreseen
    if recovered:
        progress.note(f"recovered {recovered} journal records from an interrupted run")
        plan = make_plan(items, lock)  # the same plan, now the journal is folded for real
        if saved is not None:
            check_selection(saved, saved_items(plan, options.targets), name)
    # Once, after an upgrade: from now on a change of resolution is an update.
    stamped = resolutions_to_record(plan)
    # Reused exports cost nothing: recorded with this run's answers, in the one write.
    reused = reused_entries(plan, options)
    lock = with_entries(lock, [*stamped, *reused]) if stamped or reused else lock
    chosen = select(plan, options)
    if recovered:
        check_budget(chosen, options)
    return Prepared(lock, plan, chosen, reused, stamped, options, client)
