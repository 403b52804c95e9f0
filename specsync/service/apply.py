"""Submit what the plan says, record every answer durably, fold it into the lockfile.

Order of events per item (the promise that no id is lost and nothing is paid twice):
1. the intent is journalled and fsynced, 2. the request is sent, 3. the answer (ids, a
certain failure, or "uncertain") is journalled and fsynced before the run moves past it.
At the end the journal is folded into the lockfile, which is replaced atomically; a run
killed at any instant leaves a journal that the next run (or plan) reads.

The preparation (`apply_prepare`) decides what to send; the `dispatcher` decides when;
the `submitter` sends one item and journals its answer; this module runs them together
(threads, signals) and writes the result.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from specsync.item_words import ItemOutcome, PlanAction
from specsync.model import Item
from specsync.plan import PlannedItem
from specsync.service.apply_prepare import (
    ApplyOptions,
    EmulatorMismatch,
    OverBudget,
    ServiceHostMismatch,
    check_budget,
    check_emulator_marking,
    check_service_host,
    prepare,
    recover,
    select,
)
from specsync.service.apply_report import ApplyReport, Outcome, Progress
from specsync.service.apply_result import ResultNotWritten, write_result
from specsync.service.dispatcher import (
    DEFAULT_PUSHBACK_LIMIT,
    DEFAULT_STOP_GRACE,
    MAX_IN_FLIGHT,
    Dispatcher,
    DispatchSettings,
)
from specsync.service.env_settings import seconds_from_env
from specsync.service.signals import signals_interrupt
from specsync.service.submitter import ExportClient, Submitter, utc_now
from specsync.state import journal as journal_mod
from specsync.state.lockfile_data import Lockfile
from specsync.state.lockfile_read import read_lockfile
from specsync.state.lockfile_write import write_lockfile

__all__ = [
    "MAX_IN_FLIGHT",
    "ApplyOptions",
    "ApplyReport",
    "EmulatorMismatch",
    "ExportClient",
    "Outcome",
    "OverBudget",
    "Progress",
    "ResultNotWritten",
    "ServiceHostMismatch",
    "check_budget",
    "check_emulator_marking",
    "check_service_host",
    "recover",
    "run_apply",
    "select",
    "utc_now",
]

STOP_GRACE_ENV = "SPECSYNC_STOP_GRACE"
PUSHBACK_LIMIT_ENV = "SPECSYNC_PUSHBACK_LIMIT"
Preflight = Callable[[ExportClient, list[Item], Callable[[str], None]], None]


def dispatch_settings(options: ApplyOptions, env: Mapping[str, str]) -> DispatchSettings:
    grace = options.stop_grace
    limit = options.pushback_limit
    return DispatchSettings(
        rate=options.rate,
        bound=options.concurrency,
        stop_grace=grace
        if grace is not None
        else seconds_from_env(env, STOP_GRACE_ENV, DEFAULT_STOP_GRACE),
        pushback_limit=limit
        if limit is not None
        else seconds_from_env(env, PUSHBACK_LIMIT_ENV, DEFAULT_PUSHBACK_LIMIT),
    )


def run_apply(
    items: Sequence[Item],
    lockfile_path: Path,
    client_factory: Callable[[], ExportClient],
    options: ApplyOptions,
    progress: Progress,
    preflight: Preflight | None = None,
) -> ApplyReport:
    """The whole apply under the apply lock. Raises InputError/LockBusy before any request.

    `preflight(client, items, note)` runs once before the first export with the items to
    send (the account's model check); what it raises stops the run with nothing sent.
    """
    started = time.monotonic()
    settings = dispatch_settings(options, os.environ)
    with journal_mod.hold_apply_lock(lockfile_path), ExitStack() as cleanup:
        clients: list[ExportClient] = []

        def make_client() -> ExportClient:
            client = client_factory()
            clients.append(client)
            cleanup.callback(client.close)
            return client

        lock = read_lockfile(lockfile_path)
        ready = prepare(items, lockfile_path, lock, make_client, options, progress)
        report = ApplyReport(ready.plan, emulator=ready.options.emulator)
        report.outcomes.extend(
            Outcome(e.id, ItemOutcome.REUSED, PlanAction.REUSE, e.project_id, e.task_id)
            for e in ready.reused
        )
        if not ready.chosen:
            if ready.stamped or ready.reused:
                report.lockfile_written = write_lockfile(lockfile_path, ready.lock)
            _note_stamped(progress, ready.stamped)
            report.seconds = time.monotonic() - started
            return report
        client = ready.client or make_client()
        # A warning at most (docs/vendor.md, row 12); the CLI passes none for --emulator.
        if preflight is not None:
            with signals_interrupt():  # nothing sent yet: a signal simply ends the run
                preflight(client, [p.item for p, _ in ready.chosen if p.item], progress.note)
        _send_and_record(
            ready.chosen,
            lockfile_path,
            ready.lock,
            client,
            ready.options,
            settings,
            progress,
            report,
        )
        _note_stamped(progress, ready.stamped)
        report.seconds = time.monotonic() - started
        return report


def _send_and_record(
    chosen: list[tuple[PlannedItem, str]],
    lockfile_path: Path,
    lock: Lockfile,
    client: ExportClient,
    options: ApplyOptions,
    settings: DispatchSettings,
    progress: Progress,
    report: ApplyReport,
) -> None:
    """Send, then fold the journal into the lockfile. On a bug (an exception that is no
    answer) the journal is left as it is, for the next run to fold, and the bug goes on."""
    try:
        _submit_all(chosen, lockfile_path, client, options, settings, progress, report)
    except journal_mod.JournalWriteError as error:
        # The journal could not even be started: no intent, so nothing was sent. What the
        # run decided without sending (reused, stamped entries) is still written.
        client.close()
        report.lockfile_written = write_result(lockfile_path, lock, report)
        raise ResultNotWritten(
            f"cannot write the journal {error.filename}: {error.strerror}; nothing was sent"
        ) from None
    finally:
        client.close()
    report.lockfile_written = write_result(lockfile_path, lock, report)
    _check_shared_ids(report, lock)


def _note_stamped(progress: Progress, stamped: Sequence[Any]) -> None:
    if stamped:
        progress.note(
            f"recorded the current resolution in {len(stamped)} entries written before "
            "resolution counted (nothing re-exported)"
        )


def _check_shared_ids(report: ApplyReport, lock: Lockfile) -> None:
    """The same projectId answered for two items (in this run, or one recorded before for
    another item): both are recorded (no id is lost), and the summary says so, since at
    most one of them can be that export."""
    answered = {o.id: o.project_id for o in report.of(ItemOutcome.SUBMITTED) if o.project_id}
    holders: dict[str, set[str]] = {}
    for item_id, project_id in answered.items():
        holders.setdefault(project_id, set()).add(item_id)
    for entry in lock.entries.values():
        if entry.project_id in holders and entry.id not in answered:
            holders[entry.project_id].add(entry.id)
    for project_id, ids in sorted(holders.items()):
        if len(ids) > 1:
            report.warnings.append(
                f"the service answered the same projectId {project_id} for "
                f"{len(ids)} items ({', '.join(sorted(ids))}); all are recorded, but at "
                "most one can be that export: check them in AI Studios, then `specsync "
                "adopt` the right id or `apply --replace` the other"
            )


@contextmanager
def _signals_to(dispatcher: Dispatcher, client: ExportClient) -> Iterator[None]:
    """SIGTERM/SIGINT (a cancelled CI job) stop new submissions at once; the requests in
    flight get the grace time to land (a second signal ends it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        dispatcher.on_signal(signal.Signals(signum).name)
        client.stop_retrying()  # a retry pause ends at once: not sent

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _submit_all(
    chosen: list[tuple[PlannedItem, str]],
    lockfile_path: Path,
    client: ExportClient,
    options: ApplyOptions,
    settings: DispatchSettings,
    progress: Progress,
    report: ApplyReport,
) -> None:
    dispatcher = Dispatcher(len(chosen), settings)
    queue = deque(chosen)
    jpath = journal_mod.journal_path(lockfile_path)
    progress.start(len(chosen))
    with (
        _signals_to(dispatcher, client),
        journal_mod.Journal(
            jpath, {"emulator": options.emulator, "host": options.service_host}
        ) as journal,
        # Threads are started only as requests need them: as many as are in flight.
        ThreadPoolExecutor(max_workers=dispatcher.window.bound) as pool,
    ):
        submitter = Submitter(
            client, journal, dispatcher.stop, lambda: dispatcher.reason, options.emulator
        )
        _run_dispatcher(dispatcher, queue, pool, submitter, client, progress, report)
        # An intent that could not be written was never sent: nothing to record for it.
        report.unjournalled = [r for r in journal.unwritten if r.get("event") != journal_mod.INTENT]
    # Every chosen item is accounted for: those never started are "not sent".
    note = dispatcher.reason or ""
    for planned, why in queue:
        report.outcomes.append(Outcome(planned.id, ItemOutcome.SKIPPED, why, message=note))
    report.interrupted = dispatcher.signalled is not None
    report.stopped = dispatcher.reason
    progress.finish()


def _run_dispatcher(
    dispatcher: Dispatcher,
    queue: deque[tuple[PlannedItem, str]],
    pool: ThreadPoolExecutor,
    submitter: Submitter,
    client: ExportClient,
    progress: Progress,
    report: ApplyReport,
) -> None:
    """Send when the dispatcher says, collect answers as they come; a bug in a thread
    stops the sending, lets the rest land, and is raised at the end."""
    in_flight: dict[Future[Outcome], int] = {}
    bug: BaseException | None = None
    told_stop = told_cancel = False
    while not dispatcher.finished:
        count = dispatcher.fill()
        for ticket in dispatcher.tickets(count):
            planned, why = queue.popleft()
            in_flight[pool.submit(submitter.submit, planned, why)] = ticket
        if dispatcher.stop_retrying_now and not told_stop:
            told_stop = True
            client.stop_retrying()
        if dispatcher.cancel_now and not told_cancel:
            told_cancel = True
            client.cancel()
        if not in_flight:
            if dispatcher.finished:
                break
            time.sleep(dispatcher.wakeup())
            continue
        done, _ = wait(in_flight, timeout=dispatcher.wakeup(), return_when=FIRST_COMPLETED)
        for future in done:
            ticket = in_flight.pop(future)
            try:
                outcome = future.result()
            except BaseException as error:  # a bug: journalled as uncertain by the submitter
                bug = bug or error
                dispatcher.lost(ticket)
                continue
            dispatcher.collect(ticket, outcome)
            # Only this (main) thread touches the report: no lock needed.
            report.outcomes.append(outcome)
            if outcome.outcome != ItemOutcome.SKIPPED:
                progress.done(outcome)
    if bug is not None:
        raise bug
