"""Sending one planned item and journalling its answer (apply's worker threads run this).

Order of events (the promise that no id is lost): the intent is journalled and fsynced,
the request is sent, the answer (ids, a certain failure, or "uncertain") is journalled
and fsynced. An exception that is not an answer (a bug of specsync's) journals the item
as uncertain first, since the request may have gone out, and then propagates.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from specsync.item_words import Answer, ItemOutcome
from specsync.model import FINGERPRINT_FIELDS, Item
from specsync.plan import PlannedItem
from specsync.service.apply_report import Outcome
from specsync.service.errors import AuthError
from specsync.service.export_answer import ExportResult
from specsync.state import journal as journal_mod


class ExportClient(Protocol):
    """What apply needs of a client (specsync.service.client.Client is the real one)."""

    def export(self, request: Mapping[str, Any]) -> ExportResult: ...
    def identify_service(self) -> bool | None: ...
    def get_json(self, path: str, *, once: bool = False) -> tuple[int, Any]: ...
    def stop_retrying(self) -> None: ...
    def cancel(self) -> None: ...
    def close(self) -> None: ...


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bug_note(error: BaseException, result: ExportResult | None) -> str:
    note = f"outcome unknown: specsync failed ({type(error).__name__})"
    if result is not None and result.project_id:
        note += f"; the service had answered projectId {result.project_id}"
        note += f" taskId {result.task_id}" if result.task_id else ""
    return note


class Submitter:
    """Sends one planned item and journals its answer; called from the pool's threads.

    `stop(reason)` ends the run's sending (a refused key, a broken journal, an emulator in
    a real run); `stopped()` says whether it has ended, so that an item that reached a
    thread too late is not sent.
    """

    def __init__(
        self,
        client: ExportClient,
        journal: journal_mod.Journal,
        stop: Callable[[str], None],
        stopped: Callable[[], str | None],
        emulator_run: bool = False,
    ) -> None:
        self._client = client
        self._emulator_run = emulator_run
        self._journal = journal
        self._stop = stop
        self._stopped = stopped

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
        self._stop(f"cannot write the journal {error.filename}: {error.strerror}; stopped sending")
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
        stopped = self._stopped()
        if stopped is not None:
            return Outcome(item.id, ItemOutcome.SKIPPED, why, message=stopped)
        fingerprint = item.fingerprint
        fields = {name: item.request.get(name) for name in FINGERPRINT_FIELDS}
        self._journal.intent(item.id, fingerprint, utc_now(), fields)
        sent = time.monotonic()
        result: ExportResult | None = None
        try:
            result = self._client.export(item.request)
            outcome = self._record(item, fingerprint, why, result)
        except AuthError as error:
            # 401/403: not processed, and every further request would fail the same way.
            self._journal.failed(item.id, fingerprint, str(error), utc_now())
            self._stop(str(error))
            return Outcome(item.id, ItemOutcome.FAILED, why, message=str(error))
        except journal_mod.JournalWriteError:
            raise
        except BaseException as error:
            # Not an answer: a bug (or an interrupt). The request may have gone out, so the
            # item is uncertain (the id promise holds); the error goes on to main().
            self._journal.uncertain(item.id, fingerprint, _bug_note(error, result), utc_now())
            raise
        outcome.pushed_back = bool(result.retries)
        outcome.throttled = result.throttled
        if outcome.outcome != ItemOutcome.UNCERTAIN:
            # A latency only when the service answered: a timeout says nothing of its speed.
            outcome.seconds = time.monotonic() - sent
        return outcome

    def _record(self, item: Item, fingerprint: str, why: str, result: ExportResult) -> Outcome:
        """Journal the client's answer (accepted, failed or uncertain) and say what it was."""
        if result.emulator and not self._emulator_run:
            return self._emulator_in_real_run(item, fingerprint, why, result)
        if result.outcome == Answer.ACCEPTED:
            assert result.project_id is not None, "an accepted export without a projectId"
            task_id = result.task_id or ""
            self._journal.accepted(item.id, fingerprint, result.project_id, task_id, utc_now())
            return Outcome(item.id, ItemOutcome.SUBMITTED, why, result.project_id, task_id)
        if result.outcome == Answer.FAILED and result.not_sent:
            # Stopped while waiting to retry a 429/503: never processed, sent next run.
            self._journal.failed(item.id, fingerprint, result.message, utc_now())
            return Outcome(item.id, ItemOutcome.SKIPPED, why, message=result.message)
        if result.outcome == Answer.FAILED:
            self._journal.failed(item.id, fingerprint, result.message, utc_now())
            return Outcome(
                item.id, ItemOutcome.FAILED, why, message=result.message, code=result.code
            )
        self._journal.uncertain(item.id, fingerprint, result.message, utc_now())
        return Outcome(item.id, ItemOutcome.UNCERTAIN, why, message=result.message)

    def _emulator_in_real_run(
        self, item: Item, fingerprint: str, why: str, result: ExportResult
    ) -> Outcome:
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
        self._stop(
            "the API base answered as a specsync emulator: stopped sending; use "
            "`apply --emulator` or a separate --lockfile for emulator runs"
        )
        return Outcome(item.id, ItemOutcome.UNCERTAIN, why, message=message)
