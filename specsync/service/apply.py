"""Submit what the plan says, record every answer durably, fold it into the lockfile.

Order of events per item (the promise that no id is lost and nothing is paid twice):
1. the intent is journalled and fsynced, 2. the request is sent, 3. the answer (ids, a
certain failure, or "uncertain") is journalled and fsynced before the run moves past it.
At the end the journal is folded into the lockfile, which is replaced atomically; a run
killed at any instant leaves a journal that the next run (or plan) reads.
"""

from __future__ import annotations

import collections
import datetime
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from specsync.errors import UserError
from specsync.model import FINGERPRINT_FIELDS, InputError, Item
from specsync.plan import (
    SUBMITTED,
    Plan,
    PlannedItem,
    estimated_minutes,
    make_plan,
    matches,
)
from specsync.saved_plan import SavedPlan, check_fresh, check_selection, saved_items
from specsync.service.apply_result import ResultNotWritten, write_result
from specsync.service.errors import AuthError
from specsync.service.status import close_client
from specsync.state import journal as journal_mod
from specsync.state.lockdata import Entry, Lockfile, resolution_marker, service_host
from specsync.state.lockfile_read import read_lockfile
from specsync.state.lockfile_update import made_current, with_entries
from specsync.state.lockfile_write import write_lockfile
from specsync.states import Answer, ItemOutcome, PlanAction


class ExportClient(Protocol):
    def export(self, request: Any) -> Any: ...


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


class OverBudget(UserError):
    """The plan exceeds --max-items/--max-minutes: nothing is submitted."""


@dataclass
class Outcome:
    id: str
    outcome: ItemOutcome
    action: str  # the plan action that caused it (create/update/replace/retry)
    project_id: str | None = None
    task_id: str | None = None
    message: str = ""
    code: str | None = None  # the service's error code of a refusal, when it gave one
    pushed_back: bool = False  # the service answered 429/503 first (it was retried)
    seconds: float | None = None  # how long the request took to be answered (None: not sent)


@dataclass
class ApplyReport:
    plan: Plan
    outcomes: list[Outcome] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped early (auth failure, interrupt)
    interrupted: bool = False  # by SIGINT/SIGTERM: the command exits 130 once all is recorded
    lockfile_written: bool = False
    seconds: float = 0.0
    # Answers that could not be journalled (full disk, EIO): folded from memory, and shown.
    unjournalled: list[dict[str, Any]] = field(default_factory=list)
    emulator: bool = False  # the run talked to an emulator (--emulator, or it said so)

    def of(self, kind: ItemOutcome) -> list[Outcome]:
        return [o for o in self.outcomes if o.outcome == kind]

    @property
    def uncertain_left(self) -> list[str]:
        """Items uncertain after this run (new ones and those left alone)."""
        ids = {o.id for o in self.of(ItemOutcome.UNCERTAIN)}
        submitted = {
            o.id for o in self.outcomes if o.outcome in (ItemOutcome.SUBMITTED, ItemOutcome.FAILED)
        }
        ids |= {p.id for p in self.plan.by_action(PlanAction.UNCERTAIN) if p.id not in submitted}
        return sorted(ids)

    @property
    def ok(self) -> bool:
        return not self.of(ItemOutcome.FAILED) and not self.uncertain_left and self.stopped is None


class Progress(Protocol):
    def start(self, total: int) -> None: ...
    def done(self, outcome: Outcome) -> None: ...
    def note(self, message: str) -> None: ...
    def finish(self) -> None: ...


class RateLimiter:
    """Spaces requests at most `rate` per second (written here: a pacer of one slot needs no
    token-bucket dependency). Never bursts to catch up: a late slot starts the spacing anew."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._clock = clock
        self._next = clock()

    def delay(self) -> float:
        """Seconds until the next request may be sent (0.0: now)."""
        return max(0.0, self._next - self._clock())

    def take(self) -> None:
        """Claim the current slot; the next one is an interval later."""
        self._next = max(self._clock(), self._next) + self.interval


class InFlightWindow:
    """How many requests may be in flight.

    Paced by the rate, requests in flight settle at rate x latency. The window lets them,
    but only as far as answers show the service needs: it starts at INITIAL_IN_FLIGHT and
    then follows rate x the slowest of the recent answers (with a margin), bounded by
    --concurrency. A service that stops answering therefore holds at most that many
    unanswered requests (each one an `uncertain` item a person must settle), not rate x
    the request deadline. It halves when the service pushes back (an answer that needed a
    429/503 retry) and regains one per clean answer.
    """

    def __init__(self, bound: int, rate: float = 0.0) -> None:
        self.bound = max(1, bound)
        self.rate = rate
        self._latencies: collections.deque[float] = collections.deque(maxlen=32)
        self._pushback_cap = self.bound
        self.size = min(self.bound, INITIAL_IN_FLIGHT)

    def answered(self, outcome: Outcome, in_flight: int) -> None:
        if outcome.seconds is not None:
            self._latencies.append(outcome.seconds)
        if outcome.pushed_back:
            self._pushback_cap = max(1, min(self.size, in_flight) // 2)
        elif self._pushback_cap < self.bound:
            self._pushback_cap += 1
        needed = INITIAL_IN_FLIGHT
        if self._latencies:
            needed = max(needed, math.ceil(self.rate * max(self._latencies) * 1.5) + 1)
        self.size = max(1, min(self.bound, self._pushback_cap, needed))


# Requests sent before any answer has shown the service's latency (the old default
# concurrency was 4): what a service that never answers can leave uncertain at most.
INITIAL_IN_FLIGHT = 8
# Answers missing in a row (sent, outcome unknown) after which apply stops sending: the
# service, or the way to it, is not answering, and every further request would be one
# more item of unknown outcome, maybe billed. What is not sent is planned again next run.
UNANSWERED_IN_A_ROW = 5
# The most requests apply keeps in flight when --concurrency does not bound it lower.
MAX_IN_FLIGHT = 512


class EmulatorMismatch(InputError):
    pass


class ServiceHostMismatch(UserError):
    """The lockfile's real ids belong to another host than the one apply would talk to."""


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def identify_emulator(client: Any, options: ApplyOptions, progress: Progress) -> ApplyOptions:
    """Ask the API base once, before anything is sent, whether it is an emulator.

    An emulator reached through SPECSYNC_API_BASE marks the run (journal and lockfile) as
    it would with --emulator, so its fake ids never pass for real exports.
    """
    if options.emulator:
        return options
    identify = getattr(client, "identify_service", None)
    if identify is None:
        return options
    with _signals_interrupt():  # nothing sent yet: a signal simply ends the run
        answer = identify()
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


@contextmanager
def _stop_on_signals(
    stop: threading.Event, reasons: list[str], signalled: threading.Event
) -> Iterator[None]:
    """SIGTERM/SIGINT (a cancelled CI job) stop new submissions; answers still get recorded."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        reasons.append(f"stopped by {signal.Signals(signum).name}")
        signalled.set()
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM as SIGINT: KeyboardInterrupt, for steps that have sent nothing yet."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_apply(
    items: Sequence[Item],
    lockfile_path: Path,
    client_factory: Callable[[], ExportClient],
    options: ApplyOptions,
    progress: Progress,
    preflight: Callable[[Any, list[Item], Callable[[str], None]], None] | None = None,
) -> ApplyReport:
    """The whole apply under the apply lock. Raises InputError/LockBusy before any request.

    `preflight(client, items, note)` runs once before the first export with the items to
    send (the account's model check); what it raises stops the run with nothing sent.
    """
    started = time.monotonic()
    with journal_mod.hold_apply_lock(lockfile_path), ExitStack() as cleanup:
        lock = read_lockfile(lockfile_path)
        # What this run would send, as the lockfile and any journal say (read only): a run
        # over budget, or with nothing to do, sends nothing at all, not even `GET /`.
        view = journal_mod.read_lock_view(lockfile_path, lock=lock)
        saved = options.saved_plan
        if saved is not None:
            # Under the lock, before anything is folded or sent: a plan that no longer
            # holds is refused with 0 requests.
            name = options.saved_plan_name
            check_fresh(saved, items, view, lockfile_path, name)
        host = service_host(options.service_host)
        check_service_host(lock, lockfile_path, host)
        foreseen = make_plan(items, view)
        if saved is not None:
            check_selection(saved, saved_items(foreseen, options.targets), name)
        pending = select(foreseen, options)
        check_budget(pending, options)
        leftover = journal_mod.journal_path(lockfile_path, create=False).exists()
        client: Any = None
        if not options.emulator and (pending or leftover or lock.emulator):
            # Asked, before anything is sent or folded, whether it is an emulator (an
            # emulator lockfile is fine with an emulator reached through the API base).
            client = client_factory()
            cleanup.callback(close_client, client)
            options = identify_emulator(client, options, progress)
        check_emulator_marking(lock, lockfile_path, options.emulator)
        if not lock.entries and not lock.forgotten:
            lock = replace(lock, emulator=options.emulator)  # what the recovered ids are
        if host:
            # Written with the next write (an older lockfile gains the key then).
            lock = replace(lock, service=host)
        lock, recovered = recover(lockfile_path, lock, options.emulator, options.service_host)
        if recovered:
            progress.note(f"recovered {recovered} journal records from an interrupted run")
        # With no journal folded, the lockfile's entries are the view's: the plan is the same.
        plan = make_plan(items, lock) if recovered else foreseen
        if saved is not None and recovered:  # the same plan, now the journal is folded for real
            check_selection(saved, saved_items(plan, options.targets), name)
        # Once, after an upgrade: from now on a change of resolution is an update. Written
        # with this run's answers, or alone below; never when the run is refused.
        stamped = resolutions_to_record(plan)
        if stamped:
            lock = with_entries(lock, stamped)
        # Reused exports cost nothing: recorded with this run's answers (or alone below),
        # in the one atomic write of the lockfile at the end.
        reused = reused_entries(plan, options)
        if reused:
            lock = with_entries(lock, reused)
        chosen = select(plan, options)
        check_budget(chosen, options)
        report = ApplyReport(plan, emulator=options.emulator)
        report.outcomes.extend(
            Outcome(e.id, ItemOutcome.REUSED, PlanAction.REUSE, e.project_id, e.task_id)
            for e in reused
        )
        if not chosen:
            if stamped or reused:
                report.lockfile_written = write_lockfile(lockfile_path, lock)
            if stamped:
                _note_stamped(progress, stamped)
            # Only a brand-new emulator lockfile is written with nothing exported, so that
            # the file says what kind it is; a real one appears with its first export.
            report.seconds = time.monotonic() - started
            return report
        if client is None:
            client = client_factory()
            cleanup.callback(close_client, client)
        # A warning at most (docs/vendor.md); the CLI passes none for the built-in emulator.
        if preflight is not None:
            # Nothing is sent yet: a signal here simply ends the run (exit 130).
            with _signals_interrupt():
                preflight(client, [p.item for p, _ in chosen if p.item], progress.note)
        try:
            _submit_all(chosen, lockfile_path, client, options, progress, report)
        except journal_mod.JournalWriteError as error:
            # The journal could not even be started: no intent, so nothing was sent.
            raise ResultNotWritten(
                f"cannot write the journal {error.filename}: {error.strerror}; nothing was sent"
            ) from None
        finally:
            close_client(client)
            report.lockfile_written = write_result(lockfile_path, lock, report)
            if stamped:
                _note_stamped(progress, stamped)
        report.seconds = time.monotonic() - started
        return report


def _note_stamped(progress: Progress, stamped: Sequence[Entry]) -> None:
    progress.note(
        f"recorded the current resolution in {len(stamped)} entries written before "
        "resolution counted (nothing re-exported)"
    )


class _Submitter:
    """Sends one planned item and journals its answer; called from the pool's threads.

    What the threads share is explicit: `stop` ends the run and `reasons` (appended to from
    any thread) says why. The pacing is the caller's (`_submit_all`): an item reaches here
    when its rate slot has come.
    """

    def __init__(
        self,
        client: Any,
        journal: journal_mod.Journal,
        stop: threading.Event,
        reasons: list[str],
        emulator_run: bool = False,
    ) -> None:
        self._client = client
        self._emulator_run = emulator_run
        self._journal = journal
        self._stop = stop
        self._reasons = reasons

    def submit(self, planned: PlannedItem, why: str) -> Outcome:
        try:
            return self._submit(planned, why)
        except journal_mod.JournalWriteError as error:
            return self._journal_broken(planned, why, error)

    def _journal_broken(
        self, planned: PlannedItem, why: str, error: journal_mod.JournalWriteError
    ) -> Outcome:
        """The journal cannot be written (full disk, EIO): send nothing more.

        The lost record stays in the journal's `unwritten`; the run's end records it in
        the lockfile if it can, and prints it either way.
        """
        if not self._stop.is_set():
            self._reasons.append(
                f"cannot write the journal {error.filename}: {error.strerror}; stopped sending"
            )
        self._stop.set()
        record = error.record
        event = record.get("event")
        if event == journal_mod.ACCEPTED:
            return Outcome(
                planned.id,
                ItemOutcome.SUBMITTED,
                why,
                record.get("projectId"),
                record.get("taskId"),
                message="accepted, but not journalled",
            )
        if event == journal_mod.UNCERTAIN:
            return Outcome(planned.id, ItemOutcome.UNCERTAIN, why, message=str(error))
        if event == journal_mod.FAILED:
            return Outcome(planned.id, ItemOutcome.FAILED, why, message=str(error))
        # The intent was not written, so the request was not sent.
        return Outcome(planned.id, ItemOutcome.SKIPPED, why, message=str(error))

    def _submit(self, planned: PlannedItem, why: str) -> Outcome:
        item = planned.item
        assert item is not None
        if self._stop.is_set():
            return Outcome(
                item.id, ItemOutcome.SKIPPED, why, message=self._reasons[0] if self._reasons else ""
            )
        fingerprint = item.fingerprint
        fields = {name: item.request.get(name) for name in FINGERPRINT_FIELDS}
        self._journal.intent(item.id, fingerprint, utc_now(), fields)
        sent = time.monotonic()
        try:
            result = self._client.export(item.request)
        except AuthError as error:
            # 401/403: not processed, and every further request would fail the same way.
            self._journal.failed(item.id, fingerprint, str(error), utc_now())
            if not self._stop.is_set():
                self._reasons.append(str(error))
            self._stop.set()
            return Outcome(item.id, ItemOutcome.FAILED, why, message=str(error))
        except Exception as error:
            # Anything unexpected after the intent: the request may have gone out.
            message = f"unexpected error, outcome unknown: {error}"
            self._journal.uncertain(item.id, fingerprint, message, utc_now())
            return Outcome(item.id, ItemOutcome.UNCERTAIN, why, message=message)
        outcome = self._record(item, fingerprint, why, result)
        outcome.pushed_back = bool(getattr(result, "retries", None))
        if outcome.outcome != ItemOutcome.UNCERTAIN:
            # A latency only when the service answered: a timeout says nothing of its speed.
            outcome.seconds = time.monotonic() - sent
        return outcome

    def _record(self, item: Item, fingerprint: str, why: str, result: Any) -> Outcome:
        """Journal the client's answer (accepted, failed or uncertain) and say what it was."""
        if getattr(result, "emulator", False) and not self._emulator_run:
            return self._emulator_in_real_run(item, fingerprint, why, result)
        if result.outcome == Answer.ACCEPTED:
            self._journal.accepted(
                item.id, fingerprint, result.project_id, result.task_id, utc_now()
            )
            return Outcome(item.id, ItemOutcome.SUBMITTED, why, result.project_id, result.task_id)
        if result.outcome == Answer.FAILED and getattr(result, "not_sent", False):
            # Stopped while waiting to retry a 429/503: never processed, sent next run.
            self._journal.failed(item.id, fingerprint, result.message, utc_now())
            return Outcome(item.id, ItemOutcome.SKIPPED, why, message=result.message)
        if result.outcome == Answer.FAILED:
            self._journal.failed(item.id, fingerprint, result.message, utc_now())
            code = getattr(result, "code", None)
            return Outcome(item.id, ItemOutcome.FAILED, why, message=result.message, code=code)
        self._journal.uncertain(item.id, fingerprint, result.message, utc_now())
        return Outcome(item.id, ItemOutcome.UNCERTAIN, why, message=result.message)

    def _emulator_in_real_run(self, item: Item, fingerprint: str, why: str, result: Any) -> Outcome:
        """An answer saying it came from an emulator, in a run believed real (the `GET /`
        check got no answer, or the base changed hands): stop sending.

        Its ids are fake, so they are not recorded as an export (a later real apply would
        skip the item as unchanged); the item is `uncertain` instead, which the user sees
        and settles (`--retry-uncertain` against the real service).
        """
        ids = f" (its ids {result.project_id}/{result.task_id} are not real exports)"
        message = (
            "answered by a specsync emulator (X-Specsync-Emulator) in a run against the "
            "real service" + (ids if result.outcome == Answer.ACCEPTED else "")
        )
        self._journal.uncertain(item.id, fingerprint, message, utc_now())
        if not self._stop.is_set():
            self._reasons.append(
                "the API base answered as a specsync emulator: stopped sending; use "
                "`apply --emulator` or a separate --lockfile for emulator runs"
            )
        self._stop.set()
        return Outcome(item.id, ItemOutcome.UNCERTAIN, why, message=message)


def _submit_all(
    chosen: list[tuple[PlannedItem, str]],
    lockfile_path: Path,
    client: Any,
    options: ApplyOptions,
    progress: Progress,
    report: ApplyReport,
) -> None:
    stop = threading.Event()
    signalled = threading.Event()
    reasons: list[str] = []
    pacer = RateLimiter(options.rate)
    window = InFlightWindow(options.concurrency, options.rate)
    unanswered = 0  # uncertain outcomes in a row
    jpath = journal_mod.journal_path(lockfile_path)
    progress.start(len(chosen))
    with (
        _stop_on_signals(stop, reasons, signalled),
        journal_mod.Journal(
            jpath, {"emulator": options.emulator, "host": options.service_host}
        ) as journal,
        # Threads are started only as requests need them: as many as are in flight.
        ThreadPoolExecutor(max_workers=window.bound) as pool,
    ):
        submitter = _Submitter(client, journal, stop, reasons, options.emulator)
        pending: set[Future[Outcome]] = set()
        queue = iter(chosen)
        exhausted = False
        cancelled = False
        while pending or not exhausted:
            # Send each item when its rate slot comes, whatever is still in flight: paced
            # by the rate alone, the requests in flight settle at rate x latency (up to the
            # window), so a slow service is still used at the rate it allows.
            while (
                not exhausted
                and not stop.is_set()
                and len(pending) < window.size
                and pacer.delay() == 0.0
            ):
                nxt = next(queue, None)
                if nxt is None:
                    exhausted = True
                    break
                pacer.take()
                pending.add(pool.submit(submitter.submit, nxt[0], nxt[1]))
            if stop.is_set():
                exhausted = True
            if signalled.is_set() and not cancelled:
                # A signal ends retry pauses and requests in flight at once (a cancelled CI
                # job is killed soon after); what they were is still journalled.
                cancelled = True
                cancel = getattr(client, "cancel", None)
                if cancel is not None:
                    cancel()
            if exhausted and not pending:
                break
            timeout = 0.5
            if not exhausted and len(pending) < window.size:
                timeout = min(timeout, pacer.delay())
            if not pending:
                stop.wait(timeout)
                continue
            done, pending = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
            for future in done:
                outcome = future.result()
                window.answered(outcome, len(pending) + 1)
                if outcome.outcome == ItemOutcome.UNCERTAIN:
                    unanswered += 1
                    if unanswered == UNANSWERED_IN_A_ROW and not stop.is_set():
                        reasons.append(
                            f"{UNANSWERED_IN_A_ROW} requests in a row got no answer: the "
                            "service is not answering, so apply stopped sending (what was "
                            "not sent is planned again next run)"
                        )
                        stop.set()
                elif outcome.outcome in (ItemOutcome.SUBMITTED, ItemOutcome.FAILED):
                    unanswered = 0
                # Only this (main) thread touches the report: no lock needed.
                report.outcomes.append(outcome)
                if outcome.outcome != ItemOutcome.SKIPPED:
                    progress.done(outcome)
        # An intent that could not be written was never sent: nothing to record for it.
        report.unjournalled = [r for r in journal.unwritten if r.get("event") != "intent"]
    # Every chosen item is accounted for: those never started are "not sent".
    note = reasons[0] if reasons else ""
    for planned, why in queue:
        report.outcomes.append(Outcome(planned.id, ItemOutcome.SKIPPED, why, message=note))
    report.interrupted = signalled.is_set()
    if reasons:
        report.stopped = reasons[0]
    progress.finish()
